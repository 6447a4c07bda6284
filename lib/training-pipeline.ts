import { Annotations, ArnFormat, Duration, Lazy, Names, RemovalPolicy, Size, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { ValueSpec } from '../lambdas/core/bias-gate';
import type { PipelineConfig } from '../lambdas/pipeline-steps/steps';
import { PreGrantedS3Location, TrainingJobTask } from '../stepfunctions/training-job';
import { TrainingPipelineDefinition } from '../stepfunctions/training-pipeline';
import { ValidateDataset } from '../stepfunctions/validate-dataset';
import type { BiasGate } from './bias-gate';
import type { DataLake } from './data-lake';
import type { LineageLedger } from './lineage-ledger';
import type { OnnxEndpoint } from './onnx-endpoint';
import { PinnedEcrImage } from './pinned-ecr-image';
import { SageMakerEndpoint } from './sagemaker-endpoint';
import { alarmActionRule } from './private/alarm-rule';
import { deadLetterAlarm as createDeadLetterAlarm } from './private/alarm-topic';
import { serviceMetric } from './private/metrics';
import { DEFAULT_LOG_RETENTION, DEFAULT_MODELS_PREFIX } from './private/defaults';
import { acknowledgeInlinePolicies, acknowledgeWildcards, unreservedConcurrency } from './private/nag';
import { SecureFunction } from './private/secure-function';
import { ProfileShards } from './profile-shards';
import type { ValidationGate } from './validation-gate';

/** Training instance types by family (SageMaker names). */
export const TrainingInstanceType = {
  /** CPU */
  CPU_M5_XLARGE: 'ml.m5.xlarge',
  CPU_C5_2XLARGE: 'ml.c5.2xlarge',
  /** NVIDIA A10G */
  GPU_G5_XLARGE: 'ml.g5.xlarge',
  GPU_G5_12XLARGE: 'ml.g5.12xlarge',
  /** 8× NVIDIA A100 */
  GPU_P4D_24XLARGE: 'ml.p4d.24xlarge',
  /** 8× NVIDIA H100 */
  GPU_P5_48XLARGE: 'ml.p5.48xlarge',
  /** AWS Trainium */
  TRAINIUM_TRN1_2XLARGE: 'ml.trn1.2xlarge',
  TRAINIUM_TRN1_32XLARGE: 'ml.trn1.32xlarge',
} as const;

/** How a registered model is approved. */
export type ApprovalMode = 'automatic' | 'manual';

/**
 * Neo frameworks by target device (SageMaker Neo's supported-frameworks tables):
 * Inferentia2 (Neuron SDK, torch-neuronx / tensorflow-neuronx) compiles PyTorch
 * and TensorFlow models; Inferentia1 also MXNet.
 */
export const NEO_FRAMEWORKS_BY_DEVICE: Readonly<Record<string, readonly string[]>> = {
  ml_inf2: ['PYTORCH', 'TENSORFLOW'],
  ml_inf1: ['PYTORCH', 'TENSORFLOW', 'MXNET'],
};

/** Compile the trained model for AWS Inferentia with SageMaker Neo (after approval, before deploy). */
export interface InferentiaCompilation {
  /** The framework the model was saved in (its model.tar.gz holds that framework's files, e.g. model.pth). Neo compiles PYTORCH or TENSORFLOW for ml_inf2. */
  readonly framework: string;
  /** e.g. '1.13' for PyTorch. @default - Neo's default for the framework */
  readonly frameworkVersion?: string;
  /** The model's input names and shapes, as JSON: '{"input0": [1, 8]}'. */
  readonly dataInputConfig: string;
  /** @default 'ml_inf2' */
  readonly targetDevice?: 'ml_inf2' | 'ml_inf1';
  /** @default Duration.hours(1) */
  readonly maxRuntime?: Duration;
  /** How often the compilation job is polled. @default Duration.seconds(30) */
  readonly pollInterval?: Duration;
}

const SUPPORTED_FAMILIES = /^ml\.(m5|m6i|m7i|c5|c6i|c7i|r5|g4dn|g5|g6|p3|p4d|p4de|p5|trn1|trn1n)\.[a-z0-9]+$/;

export interface TrainingPipelineProps {
  readonly dataLake: DataLake;
  readonly ledger: LineageLedger;
  readonly validationGate: ValidationGate;
  /** Judges the candidate model (post-training bias) before evaluation. @default - no bias gate */
  readonly biasGate?: BiasGate;
  /** Profiles big dataset versions in shards before validation. @default - one is created */
  readonly profileShards?: ProfileShards;
  /**
   * Name of the pipeline: the ledger subject `pipeline/<name>`, job and model names. Unique per account.
   * @default - the construct's id, lower-cased
   */
  readonly pipelineName?: string;
  /**
   * The training container (ECR repository + tag or digest, or a registry URI). It honours the SageMaker training contract.
   * A `PinnedEcrImage` is resolved to its digest before each job and trained and recorded by that digest; any other
   * image is used and recorded as given (a tag is only as reproducible as the tag is immutable).
   */
  readonly trainingImage: tasks.DockerImage;
  /** @default TrainingInstanceType.CPU_M5_XLARGE */
  readonly instanceType?: string;
  /** @default 1 */
  readonly instanceCount?: number;
  /** @default Size.gibibytes(30) */
  readonly volumeSize?: Size;
  /** Key of the training volume and the job's output. @default - the data lake's key */
  readonly encryptionKey?: kms.IKey;
  /** Managed spot training: `maxWait` ≥ `maxRuntime`; checkpoints go under the artifacts bucket. @default - on-demand */
  readonly spot?: { readonly maxWait: Duration };
  /** @default Duration.hours(4) */
  readonly maxRuntime?: Duration;
  /** Passed to the container as strings (SM_HPS). @default {} */
  readonly hyperparameters?: Readonly<Record<string, string>>;
  /** Metrics read from the training logs (regex with one group). @default - none */
  readonly metricDefinitions?: readonly tasks.MetricDefinition[];
  /** Run training in your VPC. @default - no VPC */
  readonly vpc?: ec2.IVpc;
  /** @default - the VPC's private subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** @default true: the container has no network access */
  readonly networkIsolation?: boolean;
  /** The label and its positive outcome, for champion/challenger accuracy. */
  readonly label: ValueSpec;
  /** The candidate must beat the champion's accuracy by at least this. @default 0 */
  readonly minImprovement?: number;
  /**
   * Event-driven retraining: an upload under these datasets (folders under the
   * data prefix) starts an execution named after its dataset version, so
   * duplicate events start one run. `[]`: every dataset.
   * @default - no retraining on upload (start executions yourself)
   */
  readonly retrainOnUpload?: { readonly datasets: readonly string[] };
  /**
   * Retrain when a new training image is pushed: ECR's push event for the
   * `PinnedEcrImage`'s repository and tag starts an execution on the newest
   * accepted version of the dataset the pipeline last trained on, named after
   * that version and the pushed digest (a redelivered event starts nothing).
   * Needs `trainingImage` to be a `PinnedEcrImage`. ECR emits its events on a
   * best-effort basis: `cdk-mlops pipeline start … --attempt` starts a run by hand.
   * @default false
   */
  readonly retrainOnImagePush?: boolean;
  /** The share of rows (percent, chosen by row content) kept from training: champion and challenger are judged on it. @default 20 */
  readonly holdoutPercent?: number;
  /**
   * Who approves a registered model: 'automatic' registers it Approved once the
   * gates pass; 'manual' registers it PendingManualApproval and waits (a task
   * token, sent on the notifications topic) for `cdk-mlops pipeline approve`.
   * @default 'automatic'
   */
  readonly approval?: ApprovalMode;
  /** How long a manual approval may wait; then the execution fails. @default Duration.days(7) */
  readonly approvalTimeout?: Duration;
  /** The Model Registry group (created here). @default 'cdk-mlops-<pipelineName>' */
  readonly modelPackageGroupName?: string;
  /** The inference image the registered model package names. @default - the training image */
  readonly inferenceImage?: tasks.DockerImage;
  /** Compile approved models for Inferentia with SageMaker Neo. @default - no compilation */
  readonly compileForInferentia?: InferentiaCompilation;
  /**
   * Release approved models to this endpoint through its deployer: an
   * OnnxEndpoint (the ONNX model; a CodeDeploy canary watched by its alarms), or
   * a SageMakerEndpoint given a `ledger` (the training job's archive, or on
   * Inferentia the Neo-compiled one; a blue/green update its alarms roll back).
   * The endpoint's serving model is then the champion new candidates must beat.
   * @default - the Deployment is only recorded in the ledger
   */
  readonly endpoint?: OnnxEndpoint | SageMakerEndpoint;
  /** @default Duration.hours(12) */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Where the starter's dead-letter alarm notifies (an event of an upload, drift
   * alarm or image push that could not start a run).
   * @default - the pipeline's `notifications` topic
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * A training pipeline on Step Functions: validation (sharded for big data),
 * SageMaker training (CPU, GPU or Trainium; spot, VPC, network isolation),
 * the trained model recorded in the ledger, the bias gate on the candidate,
 * champion/challenger evaluation, and a recorded Deployment; any stop is an
 * Incident in the ledger and an SNS notification. Several fit in one stack.
 */
export class TrainingPipeline extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly pipelineName: string;
  readonly steps: lambda.IFunction;
  readonly trainingRole: iam.Role;
  readonly notifications: sns.Topic;
  /** The topic the starter's dead-letter alarm notifies. */
  readonly alarmTopic: sns.ITopic;
  readonly logGroup: logs.LogGroup;
  readonly profileShards: ProfileShards;
  /** The rule starting executions on uploads, when `retrainOnUpload` is set. */
  readonly retrainRule?: events.Rule;
  /** The rule starting executions on pushes of the training image, when `retrainOnImagePush` is set. */
  readonly imagePushRule?: events.Rule;
  private ledgerReadable = false;
  private starterParts?: { readonly function: lambda.Function; readonly role: iam.IRole; readonly deadLetterQueue: sqs.Queue; readonly deadLetterAlarm: cloudwatch.Alarm };
  private readonly driftEndpoints: string[] = [];
  private dataArrival?: events.Rule;
  private readonly props: TrainingPipelineProps;
  /** The Model Registry group every candidate that passes the gates is registered in. */
  readonly modelPackageGroup: sagemaker.CfnModelPackageGroup;
  readonly modelPackageGroupName: string;

  constructor(scope: Construct, id: string, props: TrainingPipelineProps) {
    super(scope, id);
    this.props = props;
    this.pipelineName = props.pipelineName ?? id.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(this.pipelineName)) throw new Error(`TrainingPipeline: 'pipelineName' must be 1-40 lower-case letters, digits and hyphens (got '${this.pipelineName}').`);
    const instanceType = props.instanceType ?? TrainingInstanceType.CPU_M5_XLARGE;
    if (!Token.isUnresolved(instanceType) && !SUPPORTED_FAMILIES.test(instanceType)) throw new Error(`TrainingPipeline: 'instanceType' must be a SageMaker training instance like ml.g5.xlarge, ml.p4d.24xlarge, ml.p5.48xlarge, ml.trn1.2xlarge or ml.m5.xlarge (got '${instanceType}').`);
    const instanceCount = props.instanceCount ?? 1;
    if (!Number.isInteger(instanceCount) || instanceCount < 1) throw new Error(`TrainingPipeline: 'instanceCount' must be a whole number >= 1 (got ${instanceCount}).`);
    const maxRuntime = props.maxRuntime ?? Duration.hours(4);
    if (props.spot && !(props.spot.maxWait instanceof Duration)) throw new Error("TrainingPipeline: 'spot.maxWait' is required with managed spot training: how long to wait for spot capacity (at least 'maxRuntime').");
    if (props.spot && props.spot.maxWait.toSeconds() < maxRuntime.toSeconds()) throw new Error(`TrainingPipeline: 'spot.maxWait' (${props.spot.maxWait.toHumanString()}) must be at least 'maxRuntime' (${maxRuntime.toHumanString()}).`);
    const minImprovement = props.minImprovement ?? 0;
    if (!Number.isFinite(minImprovement) || minImprovement < 0 || minImprovement > 1) throw new Error(`TrainingPipeline: 'minImprovement' must be an accuracy difference from 0 to 1 (got ${minImprovement}).`);
    const holdoutPercent = props.holdoutPercent ?? 20;
    if (!Number.isFinite(holdoutPercent) || holdoutPercent <= 0 || holdoutPercent > 50) throw new Error(`TrainingPipeline: 'holdoutPercent' must be above 0 and at most 50 (got ${holdoutPercent}).`);
    const approval = props.approval ?? 'automatic';
    if (approval !== 'automatic' && approval !== 'manual') throw new Error(`TrainingPipeline: 'approval' must be 'automatic' or 'manual' (got '${String(approval)}').`);
    const approvalTimeout = props.approvalTimeout ?? Duration.days(7);
    if (approval === 'manual' && (approvalTimeout.toSeconds() < 60 || approvalTimeout.toSeconds() > 365 * 24 * 3600)) throw new Error(`TrainingPipeline: 'approvalTimeout' must be from 1 minute to 1 year (got ${approvalTimeout.toHumanString()}).`);
    if (props.approvalTimeout && approval !== 'manual') throw new Error("TrainingPipeline: 'approvalTimeout' applies to manual approval only; set approval: 'manual' or remove it.");
    this.modelPackageGroupName = props.modelPackageGroupName ?? `cdk-mlops-${this.pipelineName}`;
    if (!Token.isUnresolved(this.modelPackageGroupName) && !/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/.test(this.modelPackageGroupName)) throw new Error(`TrainingPipeline: 'modelPackageGroupName' must be 1-63 letters, digits and single hyphens (got '${this.modelPackageGroupName}').`);
    const compile = props.compileForInferentia;
    if (compile) checkCompilation(compile);
    // what a release serves: the compiled model on an Inferentia SageMaker endpoint, else the trained one
    const releaseCompiled = props.endpoint instanceof SageMakerEndpoint ? checkSageMakerRelease(props.endpoint, compile) : false;
    if (props.networkIsolation === false) Annotations.of(this).addWarningV2('cdk-mlops:trainingNetworkAccess', "TrainingPipeline: 'networkIsolation' is off: the training container can reach the network.");

    const key = props.encryptionKey ?? props.dataLake.encryptionKey;
    const artifacts = props.dataLake.artifactsBucket;
    const trainingPrefix = `training/${this.pipelineName}/`;

    this.notifications = new sns.Topic(this, 'Notifications', { masterKey: key, enforceSSL: true, displayName: `cdk-mlops ${this.pipelineName} pipeline` });
    key.grant(new iam.ServicePrincipal('sns.amazonaws.com'), 'kms:GenerateDataKey*', 'kms:Decrypt');
    this.alarmTopic = props.alarmTopic ?? this.notifications;
    // an alarm publishing to the encrypted topic needs the key (CloudWatch's service principal)
    if (!props.alarmTopic) key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:GenerateDataKey', 'kms:Decrypt');

    // SageMaker's execution role: read the snapshot, write the job output and checkpoints, the key, its logs and metrics.
    this.trainingRole = new iam.Role(this, 'TrainingRole', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'), description: `cdk-mlops ${this.pipelineName}: SageMaker training jobs` });
    props.dataLake.grantReadArtifacts(this.trainingRole, `${trainingPrefix}snapshots/*`);
    props.dataLake.grantReadArtifacts(this.trainingRole, `${trainingPrefix}checkpoints/*`);
    props.dataLake.grantWriteArtifacts(this.trainingRole, `${trainingPrefix}jobs/*`);
    props.dataLake.grantWriteArtifacts(this.trainingRole, `${trainingPrefix}checkpoints/*`);
    // SageMaker lists the channel's prefix
    this.trainingRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [artifacts.bucketArn], conditions: { StringLike: { 's3:prefix': [`${trainingPrefix}snapshots/*`, `${trainingPrefix}checkpoints/*`] } } }));
    key.grant(this.trainingRole, 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:CreateGrant', 'kms:DescribeKey');
    const stack = Stack.of(this);
    this.trainingRole.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'], resources: [stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '/aws/sagemaker/TrainingJobs:*', arnFormat: ArnFormat.COLON_RESOURCE_NAME })] }));
    // CloudWatch PutMetricData has no resource-level permissions; it is limited to SageMaker's namespace.
    this.trainingRole.addToPolicy(new iam.PolicyStatement({ actions: ['cloudwatch:PutMetricData'], resources: ['*'], conditions: { StringLike: { 'cloudwatch:namespace': '/aws/sagemaker/*' } } }));

    this.modelPackageGroup = new sagemaker.CfnModelPackageGroup(this, 'ModelPackageGroup', {
      modelPackageGroupName: this.modelPackageGroupName,
      modelPackageGroupDescription: `cdk-mlops ${this.pipelineName}: models that passed the pipeline's gates, with their evaluation and bias reports`,
    });
    this.modelPackageGroup.applyRemovalPolicy(RemovalPolicy.RETAIN); // the registry is part of the audit trail
    if (compile) {
      // Neo reads the job's model.tar.gz and writes the compiled model.
      props.dataLake.grantReadArtifacts(this.trainingRole, `${trainingPrefix}jobs/*`);
      props.dataLake.grantWriteArtifacts(this.trainingRole, `${trainingPrefix}compiled/*`);
    }

    this.profileShards = props.profileShards ?? new ProfileShards(this, 'ProfileShards', { dataLake: props.dataLake, ledger: props.ledger });
    const config: PipelineConfig = {
      pipeline: this.pipelineName,
      label: props.label,
      minImprovement,
      artifactsBucket: artifacts.bucketName,
      trainingPrefix: 'training/',
      modelsPrefix: DEFAULT_MODELS_PREFIX,
      reportsPrefix: 'reports/',
      instanceType,
      instanceCount,
      holdoutPercent,
      approval,
      modelPackageGroup: this.modelPackageGroupName,
      ...(props.endpoint ? { endpoint: props.endpoint.endpointName } : {}),
    };
    const steps = new SecureFunction(this, 'Steps', {
      logsEncryptionKey: props.dataLake.encryptionKey,
      entry: 'pipeline-steps',
      description: `cdk-mlops ${this.pipelineName}: prepares data, records models, evaluates and records deployments`,
      memorySize: Size.gibibytes(2),
      timeout: Duration.minutes(15),
      // prepare writes the training channel and the holdout to /tmp before uploading them (up to 5 GiB each)
      ephemeralStorageSize: Size.gibibytes(10),
      logRetention: props.logRetention,
      onnxRuntime: true,
      // Parquet row groups are decoded in a worker thread, which loads hyparquet from a file of its own
      separateModules: ['hyparquet'],
      synchronousCaller: "this pipeline's state machine (its Lambda tasks)",
      unreservedConcurrency: unreservedConcurrency("Invoked once per running step of this pipeline's executions (one execution per dataset version and image)"),
      environment: { PIPELINE_CONFIG: stack.toJsonString(config), POWERTOOLS_SERVICE_NAME: Names.uniqueResourceName(this, { maxLength: 64 }), POWERTOOLS_METRICS_NAMESPACE: 'cdk-mlops' },
    });
    this.steps = steps.function;
    props.ledger.grantAppend(steps.role);
    props.ledger.grantRead(steps.role);
    props.ledger.bindEnvironment(steps.function);
    props.dataLake.grantReadData(steps.role);
    props.dataLake.grantReadArtifacts(steps.role, `${trainingPrefix}jobs/*`);
    props.dataLake.grantReadArtifacts(steps.role, `${DEFAULT_MODELS_PREFIX}${this.pipelineName}/*`);
    props.dataLake.grantReadArtifacts(steps.role, `${trainingPrefix}snapshots/*`);
    props.dataLake.grantWriteArtifacts(steps.role, `${trainingPrefix}snapshots/*`);
    props.dataLake.grantWriteArtifacts(steps.role, `reports/evaluation/${this.pipelineName}/*`);
    if (compile) props.dataLake.grantReadArtifacts(steps.role, `${trainingPrefix}compiled/*`);
    props.dataLake.grantWriteArtifacts(steps.role, `${DEFAULT_MODELS_PREFIX}${this.pipelineName}/*`);

    // A pinned image is trained (and registered) by the digest the pipeline resolves first.
    const pinned = props.trainingImage instanceof PinnedEcrImage ? props.trainingImage : undefined;
    if (pinned) pinned.repository.grantPull(this.trainingRole);
    const trainingImage = pinned ? tasks.DockerImage.fromJsonExpression(sfn.JsonPath.stringAt('$.image.uri'), false) : props.trainingImage;
    const definition = new TrainingPipelineDefinition(this, 'Definition', {
      pipelineName: this.pipelineName,
      registry: { modelPackageGroupName: this.modelPackageGroupName, image: props.inferenceImage ?? trainingImage, approval, approvalTimeout },
      ...(pinned ? { resolveImage: { repository: pinned.repository, tag: pinned.tag } } : {}),
      compilation: compile
        ? {
            role: this.trainingRole,
            targetDevice: compile.targetDevice ?? 'ml_inf2',
            framework: compile.framework,
            frameworkVersion: compile.frameworkVersion,
            dataInputConfig: compile.dataInputConfig,
            outputUri: artifacts.s3UrlForObject(`${trainingPrefix}compiled`),
            encryptionKey: key,
            maxRuntime: compile.maxRuntime ?? Duration.hours(1),
            pollInterval: compile.pollInterval ?? Duration.seconds(30),
          }
        : undefined,
      validationGate: props.validationGate,
      ...(props.endpoint?.deployer ? { release: { deployer: props.endpoint.deployer, ...(releaseCompiled ? { modelVersionIdPath: '$.compiled.compiledModelVersionId' } : {}) } } : {}),
      profileShards: this.profileShards,
      steps: this.steps,
      biasGate: props.biasGate?.function,
      notifications: this.notifications,
      train: (scope) =>
        new TrainingJobTask(scope, 'Train', {
          integrationPattern: sfn.IntegrationPattern.RUN_JOB,
          trainingJobName: sfn.JsonPath.stringAt('$.prepare.trainingJobName'),
          role: this.trainingRole,
          algorithmSpecification: { trainingImage, trainingInputMode: tasks.InputMode.FILE, metricDefinitions: props.metricDefinitions ? [...props.metricDefinitions] : undefined },
          hyperparameters: { ...props.hyperparameters },
          inputDataConfig: [{ channelName: 'train', dataSource: { s3DataSource: { s3DataType: tasks.S3DataType.S3_PREFIX, s3Location: new PreGrantedS3Location('$.prepare.trainUri') } } }],
          // the training role's S3 grants are made above, on this pipeline's prefixes (snapshots/, jobs/, checkpoints/)
          outputDataConfig: { s3OutputLocation: new PreGrantedS3Location('$.prepare.outputUri'), encryptionKey: key },
          resourceConfig: { instanceCount, instanceType: new ec2.InstanceType(instanceType.replace(/^ml\./, '')), volumeSize: props.volumeSize ?? Size.gibibytes(30), volumeEncryptionKey: key },
          stoppingCondition: { maxRuntime },
          enableNetworkIsolation: props.networkIsolation ?? true,
          vpcConfig: props.vpc ? { vpc: props.vpc, subnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } } : undefined,
          resultPath: '$.training',
          extras: {
            ...(props.spot ? { spot: { maxWait: props.spot.maxWait, checkpointS3Uri: artifacts.s3UrlForObject(`${trainingPrefix}checkpoints/`) } } : {}),
            interContainerTrafficEncryption: instanceCount > 1,
          },
        }),
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? DEFAULT_LOG_RETENTION, encryptionKey: props.dataLake.encryptionKey, removalPolicy: RemovalPolicy.RETAIN });
    this.stateMachine = new sfn.StateMachine(this, 'Resource', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: props.timeout ?? Duration.hours(12),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      comment: `cdk-mlops training pipeline ${this.pipelineName}`,
    });
    this.stateMachine.node.addDependency(this.modelPackageGroup);
    // Publishing to the KMS-encrypted topic (failures, approvals) needs the key.
    key.grant(this.stateMachine, 'kms:GenerateDataKey', 'kms:Decrypt');
    // The steps see which executions run (one at a time); a policy of its own, so the function does not depend on the state machine.
    const listExecutions = new iam.Policy(this, 'StepsListExecutions', {
      roles: [steps.role],
      statements: [new iam.PolicyStatement({ actions: ['states:ListExecutions'], resources: [this.stateMachine.stateMachineArn] })],
    });
    if (props.retrainOnUpload) this.retrainRule = this.retrainOnUpload(props, props.retrainOnUpload.datasets);
    if (props.retrainOnImagePush) {
      if (!pinned) throw new Error("TrainingPipeline: 'retrainOnImagePush' needs 'trainingImage' to be a PinnedEcrImage (its repository and tag are what a push is matched on).");
      this.imagePushRule = this.retrainOnImagePush(pinned);
    }
    ValidateDataset.acknowledgeNagFindings(
      this.stateMachine,
      "Besides, CDK's SageMaker training task grants sagemaker:ListTags on Resource::*, as Step Functions' documented policy for the .sync integration does (it reads the job's tags while it waits).",
    );
    acknowledgeWildcards(this.stateMachine, [
      {
        resource: /:sagemaker:.+:training-job\/\*$/,
        reason: "The pipeline's role creates, describes and stops training jobs whose names are made per execution (<pipeline>-<hash of the execution name>), so CDK's SageMaker task grants training-job/*; the role cannot touch models, endpoints or other resources.",
      },
      {
        resource: /:sagemaker:.+:model-package\/[^/]+\/\*$/,
        reason: "Model package versions are numbered by SageMaker when registered; the role may create and update packages in this pipeline's own group only (model-package/<group>/*).",
      },
      {
        resource: /:sagemaker:.+:compilation-job\/[a-z0-9-]+-\*$/,
        reason: "Neo compilation jobs are named per execution (<pipeline>-<hash of the execution name>-neo); the role may create and describe this pipeline's jobs only.",
      },
    ]);
    acknowledgeWildcards(this.trainingRole, [
      { resource: /:logs:.+:log-group:\/aws\/sagemaker\/TrainingJobs:\*$/, reason: 'SageMaker writes each training job to its own stream in the /aws/sagemaker/TrainingJobs log group; the streams are named at run time.' },
    ]);
    for (const [id, reason] of [
      ['AwsSolutions-IAM5[Resource::*]', 'cloudwatch:PutMetricData has no resource-level permissions (it is conditioned on the /aws/sagemaker/* namespace); ecr:GetAuthorizationToken, which pulling the training image needs, is account-wide.'],
      ['AwsSolutions-IAM5[Action::kms:ReEncrypt*]', "CDK's grant for the training volume and output key (grantEncryptDecrypt) on that one key: SageMaker re-encrypts data keys for the volume."],
      ['AwsSolutions-IAM5[Action::kms:GenerateDataKey*]', "CDK's grant for the training volume and output key (grantEncryptDecrypt) on that one key: the job encrypts its volume and model output."],
    ] as const) {
      Validations.of(this.trainingRole).acknowledge({ id, reason });
    }
    acknowledgeInlinePolicies(this.trainingRole);
    acknowledgeInlinePolicies(listExecutions);
  }

  /**
   * The rule that brings uploads to the starter, so a drift waiting for data retrains when it
   * comes (once `retrainOnAlarm` is used). With `retrainOnUpload` it is `retrainRule`, widened to
   * every dataset: one delivery per upload.
   */
  get dataArrivalRule(): events.Rule | undefined {
    return this.dataArrival;
  }

  /** The Lambda that starts executions for the automatic triggers (uploads, drift alarms), when one is set. */
  get starter(): lambda.IFunction | undefined {
    return this.starterParts?.function;
  }

  /** Where the starter's failed events go (after EventBridge's retries). */
  get starterDeadLetterQueue(): sqs.Queue | undefined {
    return this.starterParts?.deadLetterQueue;
  }

  /** In ALARM while an event waits in the starter's dead-letter queue; it notifies `alarmTopic`. */
  get starterDeadLetterAlarm(): cloudwatch.Alarm | undefined {
    return this.starterParts?.deadLetterAlarm;
  }

  /**
   * Retrains when `alarm` goes into ALARM (a DriftMonitor's drift alarm): an
   * EventBridge rule sends `{ trigger: 'drift', endpoint, alarmName, time, reason }`
   * to the pipeline's starter, which records a drift Incident for `endpointName`
   * and starts an execution on the newest accepted version of the serving
   * model's dataset, unless an execution runs already or there is no newer data.
   * In that last case the drift waits for data: a second rule brings uploads to
   * the starter, and the next upload of that dataset starts the retraining.
   */
  retrainOnAlarm(alarm: cloudwatch.IAlarm, options: { readonly endpointName: string; readonly id?: string }): events.Rule {
    const starter = this.ensureStarter();
    if (this.driftEndpoints.length === 0) {
      // what a drift trigger needs beyond StartExecution: what runs, and the ledger (the Incident)
      starter.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['states:ListExecutions'], resources: [this.stateMachine.stateMachineArn] }));
      this.starterReadsLedger();
      this.props.ledger.grantAppend(starter.role);
      starter.function.addEnvironment('DRIFT_ENDPOINTS', Lazy.string({ produce: () => JSON.stringify(this.driftEndpoints) }));
      // a drift that found no newer data waits for it: the next upload of that dataset retrains
      const dataLake = this.props.dataLake;
      if (this.retrainRule) {
        // uploads reach the starter already (retrainOnUpload): that rule brings every dataset's, so each upload is delivered once
        // (the starter checks for a waiting drift first, then whether the dataset retrains on upload)
        this.retrainRule.addEventPattern({ detail: { object: { key: [{ prefix: dataLake.dataPrefix }] } } });
        (this.retrainRule.node.defaultChild as events.CfnRule).description = `Retrain ${this.pipelineName} on uploads (retrainOnUpload datasets, and any dataset whose drift waits for data)`;
        this.dataArrival = this.retrainRule;
      } else {
        this.dataArrival = new events.Rule(this, 'RetrainWhenDataArrives', {
          description: `Retrain ${this.pipelineName} on an upload of a dataset whose drift waits for data`,
          eventPattern: { source: ['aws.s3'], detailType: ['Object Created'], detail: { bucket: { name: [dataLake.dataBucket.bucketName] }, object: { key: [{ prefix: dataLake.dataPrefix }] } } },
          targets: [new targets.LambdaFunction(starter.function, { deadLetterQueue: starter.deadLetterQueue, retryAttempts: 8, maxEventAge: Duration.hours(24) })],
        });
      }
    }
    this.driftEndpoints.push(options.endpointName);
    return alarmActionRule(this, options.id ?? 'RetrainOnDrift', {
      alarm,
      description: `Retrain ${this.pipelineName} when the drift alarm of endpoint ${options.endpointName} goes into ALARM`,
      handler: starter.function,
      input: { trigger: 'drift', endpoint: options.endpointName },
      deadLetterQueue: starter.deadLetterQueue,
      retryAttempts: 8,
      maxEventAge: Duration.hours(6),
    });
  }

  private ensureStarter(): { function: lambda.Function; role: iam.IRole; deadLetterQueue: sqs.Queue; deadLetterAlarm: cloudwatch.Alarm } {
    if (this.starterParts) return this.starterParts;
    const props = this.props;
    const dlq = new sqs.Queue(this, 'StarterDeadLetterQueue', { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
    const starter = new SecureFunction(this, 'Starter', {
      logsEncryptionKey: props.dataLake.encryptionKey,
      entry: 'pipeline-starter',
      description: `cdk-mlops ${this.pipelineName}: starts training runs on uploads, drift alarms and image pushes (one per dataset version and image)`,
      memorySize: Size.mebibytes(256),
      timeout: Duration.seconds(30),
      logRetention: props.logRetention,
      deadLetterQueue: dlq,
      unreservedConcurrency: unreservedConcurrency('Invoked asynchronously by EventBridge rules (uploads, drift alarms, image pushes) and starts one execution each; it runs for seconds'),
      environment: {
        STATE_MACHINE_ARN: this.stateMachine.stateMachineArn,
        PIPELINE_NAME: this.pipelineName,
        DATA_PREFIX: props.dataLake.dataPrefix,
        RETRAIN_ON_UPLOAD: String(props.retrainOnUpload !== undefined),
        DATASETS: JSON.stringify(props.retrainOnUpload?.datasets ?? []),
        POWERTOOLS_SERVICE_NAME: this.starterServiceName,
        POWERTOOLS_METRICS_NAMESPACE: 'cdk-mlops',
      },
    });
    this.stateMachine.grantStartExecution(starter.role);
    const deadLetterAlarm = createDeadLetterAlarm(this, 'StarterDeadLetterAlarm', dlq, this.alarmTopic, `cdk-mlops ${this.pipelineName}: an upload, drift alarm or image push could not start a run after retries (its event waits in the dead-letter queue)`, "the pipeline's starter (its EventBridge rules and the function's asynchronous invocations)");
    this.starterParts = { function: starter.function, role: starter.role, deadLetterQueue: dlq, deadLetterAlarm };
    return this.starterParts;
  }

  /** The starter reads the ledger (what the pipeline trained on, what serves): granted once. */
  private starterReadsLedger(): void {
    if (this.ledgerReadable) return;
    const starter = this.ensureStarter();
    this.props.ledger.grantRead(starter.role);
    this.props.ledger.bindEnvironment(starter.function);
    this.ledgerReadable = true;
  }

  private retrainOnImagePush(image: PinnedEcrImage): events.Rule {
    const starter = this.ensureStarter();
    this.starterReadsLedger();
    return new events.Rule(this, 'RetrainOnImagePush', {
      description: `Retrain ${this.pipelineName} when its training image (tag ${image.tag}) is pushed`,
      eventPattern: { source: ['aws.ecr'], detailType: ['ECR Image Action'], detail: { 'action-type': ['PUSH'], result: ['SUCCESS'], 'repository-name': [image.repository.repositoryName], 'image-tag': [image.tag] } },
      targets: [new targets.LambdaFunction(starter.function, { deadLetterQueue: starter.deadLetterQueue, retryAttempts: 8, maxEventAge: Duration.hours(24) })],
    });
  }

  private retrainOnUpload(props: TrainingPipelineProps, datasets: readonly string[]): events.Rule {
    for (const d of datasets) if (!Token.isUnresolved(d) && !/^[A-Za-z0-9._-]+$/.test(d)) throw new Error(`TrainingPipeline: 'retrainOnUpload.datasets' must be folder names under the data prefix (got '${d}').`);
    const starter = this.ensureStarter();
    const prefixes = datasets.length > 0 ? datasets.map((d) => ({ prefix: `${props.dataLake.dataPrefix}${d}/` })) : [{ prefix: props.dataLake.dataPrefix }];
    return new events.Rule(this, 'RetrainOnUpload', {
      description: `Retrain ${this.pipelineName} on uploads under ${datasets.length > 0 ? datasets.join(', ') : 'every dataset'}`,
      eventPattern: { source: ['aws.s3'], detailType: ['Object Created'], detail: { bucket: { name: [props.dataLake.dataBucket.bucketName] }, object: { key: prefixes } } },
      targets: [new targets.LambdaFunction(starter.function, { deadLetterQueue: starter.deadLetterQueue, retryAttempts: 8, maxEventAge: Duration.hours(24) })],
    });
  }

  /** Lets `grantee` answer manual approvals (SendTaskSuccess/SendTaskFailure on this pipeline's executions). */
  grantApprove(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantTaskResponse(grantee);
  }

  /** Lets `grantee` start executions (the retraining rule, the drift alarm, an operator). */
  grantStartExecution(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  /** Failed executions. Statistic: Sum; period: 5 minutes. */
  metricFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stateMachine.metricFailed({ period: Duration.minutes(5), ...props });
  }

  /** Succeeded executions (deployed or champion kept). Statistic: Sum; period: 5 minutes. */
  metricSucceeded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stateMachine.metricSucceeded({ period: Duration.minutes(5), ...props });
  }

  /**
   * What the starter did with the automatic triggers (uploads, drift alarms, image pushes):
   * `started` retrainings, `duplicate` events that found their execution started already
   * (an upload or a push delivered again), and `declined` ones (a dataset that does not
   * retrain, a drift with no new data or a retraining in flight, a push before the first run).
   * No data without a starter. Statistic: Sum; period: 5 minutes.
   */
  metricTriggers(props?: cloudwatch.MetricOptions): { readonly started: cloudwatch.IMetric; readonly duplicate: cloudwatch.IMetric; readonly declined: cloudwatch.IMetric } {
    const m = (name: string): cloudwatch.Metric => serviceMetric('cdk-mlops', this.starterServiceName, name, props);
    // ids unique per expression: both go into one graph
    const sum = (label: string, names: string[]): cloudwatch.IMetric =>
      new cloudwatch.MathExpression({ expression: names.map((_, i) => `FILL(${label}${i}, 0)`).join(' + '), usingMetrics: Object.fromEntries(names.map((n, i) => [`${label}${i}`, m(n)])), label, period: props?.period ?? Duration.minutes(5) });
    return {
      started: m('RetrainingStarted').with({ label: 'started' }),
      duplicate: sum('duplicate', ['DuplicateUpload', 'DuplicateImagePush']),
      declined: sum('declined', ['NotRetrained', 'DriftNotRetrained']),
    };
  }

  /** The Powertools service name the starter's metrics carry. */
  private get starterServiceName(): string {
    return Names.uniqueResourceName(this, { maxLength: 56 }) + '-starter';
  }
}

/**
 * A SageMaker endpoint the pipeline releases to: it needs its deployer (a
 * ledger), and Inferentia instances serve exactly the models compiled for them.
 * Returns whether the compiled model is what is released.
 */
function checkSageMakerRelease(endpoint: SageMakerEndpoint, compile: InferentiaCompilation | undefined): boolean {
  if (!endpoint.deployer) throw new Error(`TrainingPipeline: SageMakerEndpoint '${endpoint.endpointName}' has no deployer; give it the 'ledger' so the pipeline can release to it.`);
  const type = endpoint.instanceType;
  if (type === undefined) {
    if (compile) throw new Error(`TrainingPipeline: endpoint '${endpoint.endpointName}' is serverless, which cannot serve Neo's Inferentia models; release to an ml.inf2 endpoint, or remove 'compileForInferentia'.`);
    return false;
  }
  if (Token.isUnresolved(type)) return compile !== undefined;
  const served = endpoint.neoTargetDevice;
  const device = compile ? (compile.targetDevice ?? 'ml_inf2') : undefined;
  if (served && !device) throw new Error(`TrainingPipeline: endpoint '${endpoint.endpointName}' runs on ${type}, which serves models compiled by SageMaker Neo; give 'compileForInferentia' (targetDevice '${served}').`);
  if (served && device !== served) throw new Error(`TrainingPipeline: endpoint '${endpoint.endpointName}' runs on ${type}, but 'compileForInferentia.targetDevice' is '${device}'; compile for '${served}'.`);
  if (!served && device) throw new Error(`TrainingPipeline: endpoint '${endpoint.endpointName}' runs on ${type}, which cannot serve Neo's Inferentia models; release to an ml.inf2 endpoint, or remove 'compileForInferentia'.`);
  return served !== undefined;
}

function checkCompilation(compile: InferentiaCompilation): void {
  const device = compile.targetDevice ?? 'ml_inf2';
  const frameworks = NEO_FRAMEWORKS_BY_DEVICE[device];
  if (!frameworks) throw new Error(`TrainingPipeline: 'compileForInferentia.targetDevice' must be one of ${Object.keys(NEO_FRAMEWORKS_BY_DEVICE).join(', ')} (got '${device}').`);
  if (Token.isUnresolved(compile.framework) || !frameworks.includes(compile.framework.toUpperCase())) {
    throw new Error(`TrainingPipeline: 'compileForInferentia.framework' must be one SageMaker Neo compiles for ${device}: ${frameworks.join(', ')} (got '${compile.framework}'). ONNX, XGBoost and other formats cannot be compiled for Inferentia; serve them with the ONNX endpoint instead.`);
  }
  if (compile.framework !== compile.framework.toUpperCase()) throw new Error(`TrainingPipeline: 'compileForInferentia.framework' must be upper case as Neo names it ('${compile.framework.toUpperCase()}').`);
  let shapes: unknown;
  try {
    shapes = JSON.parse(compile.dataInputConfig);
  } catch {
    shapes = undefined;
  }
  const isShape = (v: unknown): boolean => Array.isArray(v) && v.length > 0 && v.every((d) => Number.isInteger(d) && (d as number) > 0);
  if (!shapes || typeof shapes !== 'object' || Array.isArray(shapes) || Object.keys(shapes).length === 0 || !Object.values(shapes).every(isShape)) {
    throw new Error(`TrainingPipeline: 'compileForInferentia.dataInputConfig' must be JSON naming each input and its shape, e.g. '{"input0": [1, 8]}' (got '${compile.dataInputConfig}').`);
  }
  const runtime = compile.maxRuntime ?? Duration.hours(1);
  if (runtime.toSeconds() < 60 || runtime.toSeconds() > 24 * 3600) throw new Error(`TrainingPipeline: 'compileForInferentia.maxRuntime' must be from 1 minute to 1 day (got ${runtime.toHumanString()}).`);
}
