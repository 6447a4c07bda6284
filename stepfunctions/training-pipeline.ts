import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { ProfileShards } from '../lib/profile-shards';
import type { ValidationGate } from '../lib/validation-gate';
import type { TrainingJobTask } from './training-job';
import { ReleaseModel } from './release-model';
import { retryTransient } from './retries';
import { ValidateDataset } from './validate-dataset';

/** The Model Registry step: a model package per candidate in the pipeline's group. */
export interface RegistryOptions {
  /** The model package group's name. */
  readonly modelPackageGroupName: string;
  /** The inference container image the package names (with the model's artifact). */
  readonly image: tasks.DockerImage;
  /** 'automatic': registered Approved once the gates pass; 'manual': PendingManualApproval until a person decides. */
  readonly approval: 'automatic' | 'manual';
  /** How long a manual approval may wait before the execution fails. */
  readonly approvalTimeout: Duration;
}

/** Neo compilation of the trained model (its model.tar.gz) for a target device. */
export interface CompilationOptions {
  /** SageMaker's role for the compilation job (reads the model, writes the output). */
  readonly role: iam.IRole;
  readonly targetDevice: string;
  /** Neo's framework name (PYTORCH, TENSORFLOW...). */
  readonly framework: string;
  readonly frameworkVersion?: string;
  /** The model's input shapes, as Neo expects them, e.g. '{"input0":[1,8]}'. */
  readonly dataInputConfig: string;
  /** s3:// prefix of the compiled models. */
  readonly outputUri: string;
  readonly encryptionKey?: kms.IKey;
  readonly maxRuntime: Duration;
  /** How often the job is polled. */
  readonly pollInterval: Duration;
}

export interface TrainingPipelineDefinitionProps {
  /** The pipeline's name: job names start with it. */
  readonly pipelineName: string;
  readonly validationGate: ValidationGate;
  readonly profileShards: ProfileShards;
  /** The pipeline's own steps (turn, prepare, record-model, evaluate, registration, record-approval, record-compilation, deploy, record-failure). */
  readonly steps: lambda.IFunction;
  /** The bias gate's function, run on the candidate model. @default - no bias gate */
  readonly biasGate?: lambda.IFunction;
  /** Builds the training task (its Next is wired here). */
  readonly train: (scope: Construct) => TrainingJobTask;
  /**
   * Resolve the training image's tag to its digest before training (ECR
   * DescribeImages) into `$.image` (`{ uri: '<repository URI>@sha256:…', digest }`):
   * the training task and the registry then take `$.image.uri`.
   * @default - the images as given
   */
  readonly resolveImage?: { readonly repository: ecr.IRepository; readonly tag: string };
  readonly notifications: sns.ITopic;
  readonly registry: RegistryOptions;
  /** @default - no compilation */
  readonly compilation?: CompilationOptions;
  /**
   * Release approved models to an endpoint through its deployer (canary, alarms, rollback);
   * `modelVersionIdPath` is the model released and recorded (the compiled one for Inferentia).
   * @default - the Deployment is only recorded
   */
  readonly release?: { readonly deployer: lambda.IFunction; readonly pollInterval?: Duration; readonly modelVersionIdPath?: string };
}

/** Errors a retry cannot fix. */
const PERMANENT = ['InvalidEventError', 'ModelError', 'ModelIntegrityError', 'InvalidModelSignatureError', 'DatasetParseError'];
/** SageMaker errors worth retrying: throttling and capacity, nothing else. */
export const TRAINING_RETRY_ERRORS = ['SageMaker.ThrottlingException', 'SageMaker.ResourceLimitExceededException', 'SageMaker.CapacityError', 'SageMaker.AmazonSageMakerException'];
/** SageMaker API errors (the aws-sdk integrations) worth retrying. */
const SAGEMAKER_API_RETRY_ERRORS = ['SageMaker.ThrottlingException', 'SageMaker.SageMakerException', 'SageMaker.ResourceLimitExceededException'];
/** ECR API errors worth retrying (a missing repository or tag is not). */
const ECR_API_RETRY_ERRORS = ['Ecr.ServerException', 'Ecr.ThrottlingException'];
const TASK_TIMEOUT = sfn.Timeout.duration(Duration.minutes(16));

/**
 * The training pipeline, `{ datasetVersionId }` in:
 * Resolve dataset version (retried until ingest has recorded it) → Accepted? →
 * Wait for turn (one execution at a time, in start order) → ValidateDataset
 * (sharded profiling when big) → Valid? → Prepare (the training channel and
 * the holdout, split by content) → [Resolve training image: its tag's digest
 * now] → Train (SageMaker `.sync`) → Record model
 * (TrainingRun, ModelVersion) → Evaluate (champion/challenger on the holdout)
 * → Better? → Bias gate on the candidate → Register (a Model Registry package
 * with the evaluation and bias reports) → approval (automatic, or a person
 * through SNS and a task token) → [Neo compilation, polled] → Deploy (record)
 * → [Release to the endpoint: canary watched by its alarms] → Deployed. A gate that fails, a rolled-back release, a rejection, a failed job or any error:
 * Record failure (an Incident) → Notify (SNS) → Fail with the cause. A
 * candidate that does not beat the champion ends in "Champion kept".
 * JSONPath only, so the same definition runs locally.
 */
export class TrainingPipelineDefinition extends sfn.StateMachineFragment {
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[] = [];

  constructor(scope: Construct, id: string, props: TrainingPipelineDefinitionProps) {
    super(scope, id);
    const stack = Stack.of(this);
    /** A Lambda task: the given retriers first, then none for permanent errors, then 3 with full jitter. */
    const invoke = (name: string, fn: lambda.IFunction, payload: sfn.TaskInput, resultPath: string, retries: sfn.RetryProps[] = []): tasks.LambdaInvoke => {
      const task = tasks.LambdaInvoke.jsonPath(this, name, { lambdaFunction: fn, payloadResponseOnly: true, payload, resultPath, retryOnServiceExceptions: false, taskTimeout: TASK_TIMEOUT });
      for (const r of retries) task.addRetry(r);
      return retryTransient(task, PERMANENT);
    };
    const step = (name: string, operation: string, payload: Record<string, unknown>, resultPath: string): tasks.LambdaInvoke =>
      invoke(name, props.steps, sfn.TaskInput.fromObject({ operation, executionName: sfn.JsonPath.stringAt('$$.Execution.Name'), datasetVersionId: sfn.JsonPath.stringAt('$.datasetVersionId'), ...payload }), resultPath);

    // Failure path: one Incident, one notification, then Fail with the reason.
    const failed = new sfn.Fail(this, 'Pipeline failed', { errorPath: '$.failure.stage', causePath: '$.failure.reason' });
    const notify = new tasks.SnsPublish(this, 'Notify failure', {
      topic: props.notifications,
      subject: 'cdk-mlops: training pipeline stopped',
      message: sfn.TaskInput.fromJsonPathAt('$.failure.reason'),
      resultPath: sfn.JsonPath.DISCARD,
    }).next(failed);
    /** Records why the execution stopped: the reason at a path, a fixed text, or else the caught error in $.error. */
    const recordFailure = (name: string, stage: string, reason?: { path: string } | { text: string }): sfn.IChainable =>
      step(name, 'record-failure', { stage, ...(reason ? { reason: 'path' in reason ? sfn.JsonPath.stringAt(reason.path) : reason.text } : { error: sfn.JsonPath.objectAt('$.error') }) }, '$.failure').next(notify);
    const errorStates = new Map<string, sfn.IChainable>();
    const onError = (stage: string): sfn.IChainable => {
      if (!errorStates.has(stage)) errorStates.set(stage, recordFailure(`Record ${stage} error`, stage));
      return errorStates.get(stage)!;
    };
    const catchAll = <T extends sfn.TaskStateBase>(task: T, stage: string): T => {
      task.addCatch(onError(stage), { errors: [sfn.Errors.ALL], resultPath: '$.error' });
      return task;
    };

    // First: the dataset version must be recorded (an upload starts ingest and the pipeline together).
    const resolve = invoke('Resolve dataset version', props.steps, sfn.TaskInput.fromObject({ operation: 'resolve', datasetVersionId: sfn.JsonPath.stringAt('$.datasetVersionId') }), '$.datasetVersion', [
      { errors: ['DatasetVersionPendingError'], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 7 },
    ]);
    catchAll(resolve, 'resolve');
    const validate = new ValidateDataset(this, 'Validate', { validationGate: props.validationGate, profileShards: props.profileShards, onError: onError('validation') });
    const prepare = catchAll(step('Prepare training data', 'prepare', {}, '$.prepare'), 'prepare');
    const train = props.train(this);
    train.addRetry({ errors: TRAINING_RETRY_ERRORS, interval: Duration.seconds(30), backoffRate: 2, maxAttempts: 4, jitterStrategy: sfn.JitterType.FULL });
    catchAll(train, 'training');
    let training: sfn.IChainable = train;
    if (props.resolveImage) {
      // The tag as it is now, once: the job trains on that digest and the TrainingRun records it.
      const { repository, tag } = props.resolveImage;
      const digest = sfn.JsonPath.stringAt('$.ImageDetails[0].ImageDigest');
      const resolveImage = tasks.CallAwsService.jsonPath(this, 'Resolve training image', {
        service: 'ecr',
        action: 'describeImages',
        iamAction: 'ecr:DescribeImages',
        parameters: { RepositoryName: repository.repositoryName, ImageIds: [{ ImageTag: tag }] },
        iamResources: [repository.repositoryArn],
        resultSelector: { digest, uri: sfn.JsonPath.format('{}@{}', repository.repositoryUri, digest) },
        resultPath: '$.image',
        taskTimeout: TASK_TIMEOUT,
      });
      resolveImage.addRetry({ errors: ECR_API_RETRY_ERRORS, interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 3, jitterStrategy: sfn.JitterType.FULL });
      training = catchAll(resolveImage, 'training').next(train);
    }
    const recordModel = catchAll(step('Record model version', 'record-model', { trainingJob: sfn.JsonPath.objectAt('$.training'), prepared: sfn.JsonPath.objectAt('$.prepare'), executionInput: sfn.JsonPath.objectAt('$$.Execution.Input') }, '$.model'), 'record-model');
    const evaluate = catchAll(step('Evaluate against champion', 'evaluate', { modelVersionId: sfn.JsonPath.stringAt('$.model.modelVersionId') }, '$.evaluation'), 'evaluation');
    // the model released and recorded: the trained one, or what the release names (Neo's, on Inferentia)
    const releasedModelPath = props.release?.modelVersionIdPath ?? '$.model.modelVersionId';
    const deploy = catchAll(
      step('Deploy', 'deploy', { modelVersionId: sfn.JsonPath.stringAt(releasedModelPath), previousModelVersionId: sfn.JsonPath.stringAt('$.evaluation.championModelVersionId') }, '$.deployment'),
      'deploy',
    );
    let deployed: sfn.IChainable = deploy.next(new sfn.Succeed(this, 'Deployed'));
    if (props.release) {
      // Release to the endpoint (canary + alarms); a release CodeDeploy rolled back is an Incident, notified, and a failed execution.
      const release = new ReleaseModel(this, 'Release', { deployer: props.release.deployer, modelVersionIdPath: releasedModelPath, pollInterval: props.release.pollInterval, onError: onError('release') });
      deployed = release.next(new sfn.Choice(this, 'Released?').when(sfn.Condition.booleanEquals('$.releaseStatus.succeeded', true), deployed).otherwise(recordFailure('Record rollback', 'release', { path: '$.releaseStatus.reason' })));
    }
    const sageMakerCall = (name: string, action: string, parameters: Record<string, unknown>, resources: string[], resultPath: string, extra: Partial<tasks.CallAwsServiceJsonPathProps> = {}): tasks.CallAwsService => {
      const task = tasks.CallAwsService.jsonPath(this, name, { service: 'sagemaker', action, parameters, iamResources: resources, resultPath, taskTimeout: TASK_TIMEOUT, ...extra });
      task.addRetry({ errors: SAGEMAKER_API_RETRY_ERRORS, interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 5, jitterStrategy: sfn.JitterType.FULL });
      return task;
    };

    // After approval: Neo compilation (polled: the aws-sdk integration has no .sync), then deploy.
    let afterApproval: sfn.IChainable = deployed;
    const compilation = props.compilation;
    if (compilation) {
      const jobs = stack.formatArn({ service: 'sagemaker', resource: 'compilation-job', resourceName: `${props.pipelineName}-*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
      const compile = catchAll(
        sageMakerCall(
          'Compile for Inferentia',
          'createCompilationJob',
          {
            CompilationJobName: sfn.JsonPath.stringAt('$.prepare.compilationJobName'),
            RoleArn: compilation.role.roleArn,
            InputConfig: {
              S3Uri: sfn.JsonPath.stringAt('$.training.ModelArtifacts.S3ModelArtifacts'),
              DataInputConfig: compilation.dataInputConfig,
              Framework: compilation.framework,
              ...(compilation.frameworkVersion ? { FrameworkVersion: compilation.frameworkVersion } : {}),
            },
            OutputConfig: { S3OutputLocation: compilation.outputUri, TargetDevice: compilation.targetDevice, ...(compilation.encryptionKey ? { KmsKeyId: compilation.encryptionKey.keyArn } : {}) },
            StoppingCondition: { MaxRuntimeInSeconds: compilation.maxRuntime.toSeconds() },
          },
          [jobs],
          sfn.JsonPath.DISCARD,
          { additionalIamStatements: [new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: [compilation.role.roleArn], conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } } })] },
        ),
        'compilation',
      );
      const describe = catchAll(sageMakerCall('Describe compilation', 'describeCompilationJob', { CompilationJobName: sfn.JsonPath.stringAt('$.prepare.compilationJobName') }, [jobs], '$.compilation'), 'compilation');
      const wait = new sfn.Wait(this, 'Wait for compilation', { time: sfn.WaitTime.duration(compilation.pollInterval) });
      const recordCompiled = catchAll(
        step('Record compiled model', 'record-compilation', { modelVersionId: sfn.JsonPath.stringAt('$.model.modelVersionId'), compilation: sfn.JsonPath.objectAt('$.compilation') }, '$.compiled'),
        'compilation',
      );

      compile.next(wait).next(describe).next(
        new sfn.Choice(this, 'Compiled?')
          .when(sfn.Condition.stringEquals('$.compilation.CompilationJobStatus', 'COMPLETED'), recordCompiled.next(afterApproval))
          .when(sfn.Condition.stringEquals('$.compilation.CompilationJobStatus', 'FAILED'), recordFailure('Record compilation failure', 'compilation', { path: '$.compilation.FailureReason' }))
          .when(sfn.Condition.stringEquals('$.compilation.CompilationJobStatus', 'STOPPED'), recordFailure('Record compilation stop', 'compilation', { text: 'the Neo compilation job was stopped' }))
          .otherwise(wait),
      );
      afterApproval = compile;
    }

    // Register: a model package in the pipeline's group, details from the ledger.
    const { registry } = props;
    const packages = stack.formatArn({ service: 'sagemaker', resource: 'model-package', resourceName: `${registry.modelPackageGroupName}/*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const group = stack.formatArn({ service: 'sagemaker', resource: 'model-package-group', resourceName: registry.modelPackageGroupName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const details = catchAll(step('Registration details', 'registration', { modelVersionId: sfn.JsonPath.stringAt('$.model.modelVersionId') }, '$.registration'), 'registry');
    const register = catchAll(
      sageMakerCall(
        'Register model',
        'createModelPackage',
        {
          ModelPackageGroupName: registry.modelPackageGroupName,
          ModelPackageDescription: sfn.JsonPath.stringAt('$.registration.description'),
          ModelApprovalStatus: sfn.JsonPath.stringAt('$.registration.approvalStatus'),
          InferenceSpecification: {
            Containers: [{ Image: registry.image.bind(train).imageUri, ModelDataUrl: sfn.JsonPath.stringAt('$.training.ModelArtifacts.S3ModelArtifacts') }],
            SupportedContentTypes: ['application/json', 'text/csv'],
            SupportedResponseMIMETypes: ['application/json'],
          },
          ModelMetrics: sfn.JsonPath.objectAt('$.registration.modelMetrics'),
          CustomerMetadataProperties: sfn.JsonPath.objectAt('$.registration.metadata'),
          ClientToken: sfn.JsonPath.stringAt('$.prepare.registrationToken'),
          Domain: 'MACHINE_LEARNING',
          Task: 'CLASSIFICATION',
        },
        [group, packages],
        '$.registry',
        { resultSelector: { ModelPackageArn: sfn.JsonPath.stringAt('$.ModelPackageArn') } },
      ),
      'registry',
    );
    const approvalStep = (decisionPath?: string): tasks.LambdaInvoke =>
      catchAll(
        step(
          'Record approval',
          'record-approval',
          { modelVersionId: sfn.JsonPath.stringAt('$.model.modelVersionId'), modelPackageArn: sfn.JsonPath.stringAt('$.registry.ModelPackageArn'), ...(decisionPath ? { decision: sfn.JsonPath.objectAt(decisionPath) } : {}) },
          '$.approval',
        ),
        'approval',
      );
    let approval: sfn.IChainable;
    if (registry.approval === 'manual') {
      const ask = new tasks.SnsPublish(this, 'Ask for approval', {
        topic: props.notifications,
        integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        subject: 'cdk-mlops: a model waits for approval',
        message: sfn.TaskInput.fromText(
          sfn.JsonPath.format(
            'Model {} ({}) passed the gates: {} Approve with: npx cdk-mlops pipeline approve --by YOUR-NAME --token {} (add --reject to reject, --comment TEXT to say why).',
            sfn.JsonPath.stringAt('$.model.modelVersionId'),
            sfn.JsonPath.stringAt('$.registry.ModelPackageArn'),
            sfn.JsonPath.stringAt('$.evaluation.reason'),
            sfn.JsonPath.taskToken,
          ),
        ),
        resultPath: '$.decision',
        taskTimeout: sfn.Timeout.duration(registry.approvalTimeout),
      });
      catchAll(ask, 'approval');
      const update = catchAll(
        sageMakerCall(
          'Update model package status',
          'updateModelPackage',
          { ModelPackageArn: sfn.JsonPath.stringAt('$.registry.ModelPackageArn'), ModelApprovalStatus: sfn.JsonPath.stringAt('$.approval.status'), ApprovalDescription: sfn.JsonPath.stringAt('$.approval.description') },
          [packages],
          sfn.JsonPath.DISCARD,
        ),
        'approval',
      );
      approval = ask.next(approvalStep('$.decision')).next(update).next(
        new sfn.Choice(this, 'Approved?').when(sfn.Condition.booleanEquals('$.approval.approved', true), afterApproval).otherwise(recordFailure('Record rejection', 'approval', { path: '$.approval.reason' })),
      );
    } else {
      approval = approvalStep().next(afterApproval);
    }
    const registerAndApprove = details.next(register).next(approval);

    let afterEvaluation: sfn.IChainable = registerAndApprove;
    if (props.biasGate) {
      const bias = invoke('Bias gate', props.biasGate, sfn.TaskInput.fromObject({ datasetVersionId: sfn.JsonPath.stringAt('$.datasetVersionId'), modelVersionId: sfn.JsonPath.stringAt('$.model.modelVersionId') }), '$.bias');
      catchAll(bias, 'bias-gate');
      afterEvaluation = bias.next(new sfn.Choice(this, 'Fair enough?').when(sfn.Condition.booleanEquals('$.bias.passed', true), registerAndApprove).otherwise(recordFailure('Record bias rejection', 'bias-gate', { path: '$.bias.reason' })));
    }
    const kept = new sfn.Succeed(this, 'Champion kept', { comment: 'the candidate did not beat the model that serves' });
    const better = new sfn.Choice(this, 'Better than champion?').when(sfn.Condition.booleanEquals('$.evaluation.promote', true), afterEvaluation).otherwise(kept);

    // One execution at a time: wait (by retries) while an earlier one runs.
    const waitTurn = invoke(
      'Wait for turn',
      props.steps,
      sfn.TaskInput.fromObject({
        operation: 'turn',
        stateMachineArn: sfn.JsonPath.stringAt('$$.StateMachine.Id'),
        executionName: sfn.JsonPath.stringAt('$$.Execution.Name'),
        startTime: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
      }),
      sfn.JsonPath.DISCARD,
      [{ errors: ['PipelineBusyError'], interval: Duration.minutes(1), backoffRate: 1.5, maxDelay: Duration.minutes(10), maxAttempts: 99 }],
    );
    catchAll(waitTurn, 'turn');

    const valid = new sfn.Choice(this, 'Valid data?')
      .when(sfn.Condition.booleanEquals('$.validation.passed', true), prepare.next(training).next(recordModel).next(evaluate).next(better))
      .otherwise(recordFailure('Record validation rejection', 'validation-gate', { path: '$.validation.reason' }));
    const accepted = new sfn.Choice(this, 'Accepted at ingest?')
      .when(sfn.Condition.stringEquals('$.datasetVersion.status', 'accepted'), waitTurn.next(validate).next(valid))
      .otherwise(new sfn.Succeed(this, 'Not trainable', { comment: 'rejected at ingest: the DatasetVersion records why' }));
    resolve.next(accepted);
    this.startState = resolve;
  }
}
