import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { ProfileShards } from '../lib/profile-shards';
import type { ValidationGate } from '../lib/validation-gate';
import type { TrainingJobTask } from './training-job';
import { ValidateDataset } from './validate-dataset';

export interface TrainingPipelineDefinitionProps {
  readonly validationGate: ValidationGate;
  readonly profileShards: ProfileShards;
  /** The pipeline's own steps (prepare, record-model, evaluate, deploy, record-failure). */
  readonly steps: lambda.IFunction;
  /** The bias gate's function, run on the candidate model. @default - no bias gate */
  readonly biasGate?: lambda.IFunction;
  /** Builds the training task (its Next is wired here). */
  readonly train: (scope: Construct) => TrainingJobTask;
  readonly notifications: sns.ITopic;
}

/** Errors a retry cannot fix. */
const PERMANENT = ['InvalidEventError', 'ModelError', 'InvalidModelSignatureError'];
/** SageMaker errors worth retrying: throttling and capacity, nothing else. */
export const TRAINING_RETRY_ERRORS = ['SageMaker.ThrottlingException', 'SageMaker.ResourceLimitExceededException', 'SageMaker.CapacityError', 'SageMaker.AmazonSageMakerException'];
const TASK_TIMEOUT = sfn.Timeout.duration(Duration.minutes(16));

/**
 * The training pipeline, `{ datasetVersionId }` in: Resolve dataset version
 * (retried until ingest has recorded it, about 10 minutes) → ValidateDataset (sharded profiling when big) → Valid? → Prepare (pin the
 * version as a training snapshot) → Train (SageMaker `.sync`) → Record model
 * (TrainingRun, ModelVersion) → Bias gate on the candidate → Evaluate
 * (champion/challenger) → Deploy (record) → Succeed. A gate that fails, a failed
 * job or any error: Record failure (an Incident) → Notify (SNS) → Fail with the
 * cause. A candidate that does not beat the champion ends in "Champion kept".
 * JSONPath only, so the same definition runs locally.
 */
export class TrainingPipelineDefinition extends sfn.StateMachineFragment {
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[] = [];

  constructor(scope: Construct, id: string, props: TrainingPipelineDefinitionProps) {
    super(scope, id);
    const step = (name: string, operation: string, payload: Record<string, unknown>, resultPath: string): tasks.LambdaInvoke => {
      const task = tasks.LambdaInvoke.jsonPath(this, name, {
        lambdaFunction: props.steps,
        payloadResponseOnly: true,
        payload: sfn.TaskInput.fromObject({ operation, executionName: sfn.JsonPath.stringAt('$$.Execution.Name'), datasetVersionId: sfn.JsonPath.stringAt('$.datasetVersionId'), ...payload }),
        resultPath,
        retryOnServiceExceptions: false,
        taskTimeout: TASK_TIMEOUT,
      });
      task.addRetry({ errors: PERMANENT, maxAttempts: 0 });
      task.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 3, jitterStrategy: sfn.JitterType.FULL });
      return task;
    };

    // Failure path: one Incident, one notification, then Fail with the reason.
    const failed = new sfn.Fail(this, 'Pipeline failed', { errorPath: '$.failure.stage', causePath: '$.failure.reason' });
    const notify = new tasks.SnsPublish(this, 'Notify failure', {
      topic: props.notifications,
      subject: 'cdk-mlops: training pipeline stopped',
      message: sfn.TaskInput.fromJsonPathAt('$.failure.reason'),
      resultPath: sfn.JsonPath.DISCARD,
    }).next(failed);
    const recordFailure = (name: string, stage: string, reasonPath?: string): sfn.IChainable =>
      step(name, 'record-failure', { stage, ...(reasonPath ? { reason: sfn.JsonPath.stringAt(reasonPath) } : { error: sfn.JsonPath.objectAt('$.error') }) }, '$.failure').next(notify);
    const onError = (stage: string): sfn.IChainable => recordFailure(`Record ${stage} error`, stage);
    const catchAll = <T extends sfn.TaskStateBase>(task: T, stage: string): T => {
      task.addCatch(onError(stage), { errors: [sfn.Errors.ALL], resultPath: '$.error' });
      return task;
    };

    // First: the dataset version must be recorded (an upload starts ingest and the pipeline together).
    const resolve = tasks.LambdaInvoke.jsonPath(this, 'Resolve dataset version', {
      lambdaFunction: props.steps,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({ operation: 'resolve', datasetVersionId: sfn.JsonPath.stringAt('$.datasetVersionId') }),
      resultPath: '$.datasetVersion',
      retryOnServiceExceptions: false,
      taskTimeout: TASK_TIMEOUT,
    });
    resolve.addRetry({ errors: ['DatasetVersionPendingError'], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 7 });
    resolve.addRetry({ errors: PERMANENT, maxAttempts: 0 });
    resolve.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 3, jitterStrategy: sfn.JitterType.FULL });
    catchAll(resolve, 'resolve');
    const validate = new ValidateDataset(this, 'Validate', { validationGate: props.validationGate, profileShards: props.profileShards, onError: onError('validation') });
    const prepare = catchAll(step('Prepare training data', 'prepare', {}, '$.prepare'), 'prepare');
    const train = props.train(this);
    train.addRetry({ errors: TRAINING_RETRY_ERRORS, interval: Duration.seconds(30), backoffRate: 2, maxAttempts: 4, jitterStrategy: sfn.JitterType.FULL });
    catchAll(train, 'training');
    const recordModel = catchAll(step('Record model version', 'record-model', { trainingJob: sfn.JsonPath.objectAt('$.training') }, '$.model'), 'record-model');
    const evaluate = catchAll(step('Evaluate against champion', 'evaluate', { modelVersionId: sfn.JsonPath.stringAt('$.model.modelVersionId') }, '$.evaluation'), 'evaluation');
    const deploy = catchAll(
      step('Deploy', 'deploy', { modelVersionId: sfn.JsonPath.stringAt('$.model.modelVersionId'), previousModelVersionId: sfn.JsonPath.stringAt('$.evaluation.championModelVersionId') }, '$.deployment'),
      'deploy',
    );
    const done = new sfn.Succeed(this, 'Deployed');
    const kept = new sfn.Succeed(this, 'Champion kept', { comment: 'the candidate did not beat the model that serves' });
    const promote = new sfn.Choice(this, 'Better than champion?').when(sfn.Condition.booleanEquals('$.evaluation.promote', true), deploy.next(done)).otherwise(kept);

    let afterModel: sfn.IChainable = evaluate.next(promote);
    if (props.biasGate) {
      const bias = tasks.LambdaInvoke.jsonPath(this, 'Bias gate', {
        lambdaFunction: props.biasGate,
        payloadResponseOnly: true,
        payload: sfn.TaskInput.fromObject({ datasetVersionId: sfn.JsonPath.stringAt('$.datasetVersionId'), modelVersionId: sfn.JsonPath.stringAt('$.model.modelVersionId') }),
        resultPath: '$.bias',
        retryOnServiceExceptions: false,
        taskTimeout: TASK_TIMEOUT,
      });
      bias.addRetry({ errors: PERMANENT, maxAttempts: 0 });
      bias.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 3, jitterStrategy: sfn.JitterType.FULL });
      catchAll(bias, 'bias-gate');
      afterModel = bias.next(new sfn.Choice(this, 'Fair enough?').when(sfn.Condition.booleanEquals('$.bias.passed', true), afterModel).otherwise(recordFailure('Record bias rejection', 'bias-gate', '$.bias.reason')));
    }

    const valid = new sfn.Choice(this, 'Valid data?')
      .when(sfn.Condition.booleanEquals('$.validation.passed', true), prepare.next(train).next(recordModel).next(afterModel))
      .otherwise(recordFailure('Record validation rejection', 'validation-gate', '$.validation.reason'));
    const accepted = new sfn.Choice(this, 'Accepted at ingest?')
      .when(sfn.Condition.stringEquals('$.datasetVersion.status', 'accepted'), validate.next(valid))
      .otherwise(new sfn.Succeed(this, 'Not trainable', { comment: 'rejected at ingest: the DatasetVersion records why' }));
    resolve.next(accepted);
    this.startState = resolve;
  }
}
