import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { BiasGateConfig } from '../lambdas/core/bias-gate';
import { BiasGate } from './bias-gate';
import { DataLake, type DataLakeProps } from './data-lake';
import { DatasetValidation, type DatasetValidationProps } from './dataset-validation';
import { DatasetIngest } from './dataset-ingest';
import { DriftMonitor } from './drift-monitor';
import { LineageLedger } from './lineage-ledger';
import type { DriftMonitorSettings, EndpointSettings, SageMakerEndpointSettings, TrainingPipelineSettings } from './mlops-settings';
import { OnnxEndpoint } from './onnx-endpoint';
import { OpsDashboard } from './ops-dashboard';
import { PinnedEcrImage } from './pinned-ecr-image';
import { createAlarmTopic } from './private/alarm-topic';
import { SageMakerEndpoint } from './sagemaker-endpoint';
import { TrainingPipeline } from './training-pipeline';
import { ValidationGate } from './validation-gate';

export interface MlopsStackProps extends StackProps {
  /**
   * Settings of the data lake.
   * @default - the DataLake defaults
   */
  readonly dataLake?: DataLakeProps;
  /**
   * ARN of the one role that may still delete the ledger's WORM copies or shorten their
   * Object Lock (LineageLedger's `breakGlassRole`). Context `cdk-mlops:breakGlassRoleArn`.
   * @default - no principal is exempt
   */
  readonly breakGlassRoleArn?: string;
  /**
   * Bias gate configuration (label, facets, thresholds).
   * @default - no bias gate
   */
  readonly biasGate?: BiasGateConfig;
  /**
   * Sharding settings of the dataset validation state machine.
   * @default - the DatasetValidation defaults (shards above 512 MiB, 128 MiB each)
   */
  readonly datasetValidation?: Pick<DatasetValidationProps, 'shardThreshold' | 'shardSize' | 'maxShards' | 'maxConcurrency'>;
  /**
   * A training pipeline (image from an ECR repository of the stack's account).
   * @default - none
   */
  readonly trainingPipeline?: TrainingPipelineSettings;
  /**
   * A serverless ONNX endpoint the pipeline's models are released to.
   * @default - none
   */
  readonly endpoint?: EndpointSettings;
  /**
   * A SageMaker endpoint (GPU, Inferentia or CPU instances) with data capture, released
   * through its deployer and recorded in the ledger.
   * @default - none
   */
  readonly sageMakerEndpoint?: SageMakerEndpointSettings;
  /**
   * A drift monitor on an endpoint (retraining the pipeline on drift, unless `retrain` is false).
   * @default - none
   */
  readonly driftMonitor?: DriftMonitorSettings;
  /**
   * One CloudWatch dashboard over everything the stack runs.
   * @default true
   */
  readonly dashboard?: boolean;
}

/**
 * The whole kit in one stack: data lake, lineage ledger, ingest, the gates,
 * the training pipeline, the ONNX endpoint, its drift monitor and the
 * operations dashboard, each from its settings. Every piece is also
 * importable on its own.
 */
export class MlopsStack extends Stack {
  readonly dataLake: DataLake;
  readonly ledger: LineageLedger;
  readonly ingest: DatasetIngest;
  readonly validationGate: ValidationGate;
  readonly biasGate?: BiasGate;
  readonly datasetValidation: DatasetValidation;
  readonly trainingPipeline?: TrainingPipeline;
  readonly endpoint?: OnnxEndpoint;
  readonly sageMakerEndpoint?: SageMakerEndpoint;
  readonly driftMonitor?: DriftMonitor;
  readonly dashboard?: OpsDashboard;
  /** The one topic every alarm of the stack notifies (ingest and starter dead letters, endpoint health, drift). */
  readonly alarmTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: MlopsStackProps = {}) {
    super(scope, id, props);
    this.dataLake = new DataLake(this, 'DataLake', props.dataLake);
    this.ledger = new LineageLedger(this, 'Ledger', {
      wormBucket: this.dataLake.ledgerBucket,
      ...(props.breakGlassRoleArn ? { breakGlassRole: iam.Role.fromRoleArn(this, 'BreakGlassRole', props.breakGlassRoleArn, { mutable: false }) } : {}),
    });
    this.alarmTopic = createAlarmTopic(this, this.dataLake.encryptionKey, 'cdk-mlops alarms');
    const alarmTopic = this.alarmTopic;
    this.ingest = new DatasetIngest(this, 'Ingest', { dataLake: this.dataLake, ledger: this.ledger, alarmTopic });
    this.validationGate = new ValidationGate(this, 'ValidationGate', { dataLake: this.dataLake, ledger: this.ledger });
    this.datasetValidation = new DatasetValidation(this, 'DatasetValidation', { dataLake: this.dataLake, ledger: this.ledger, validationGate: this.validationGate, ...props.datasetValidation });
    if (props.biasGate) this.biasGate = new BiasGate(this, 'BiasGate', { dataLake: this.dataLake, ledger: this.ledger, config: props.biasGate });

    if (props.endpoint) {
      const e = props.endpoint;
      this.endpoint = new OnnxEndpoint(this, 'Endpoint', {
        endpointName: e.name,
        dataLake: this.dataLake,
        ledger: this.ledger,
        captureSampleRate: e.captureSampleRate,
        provisionedConcurrency: e.provisionedConcurrency,
        reservedConcurrentExecutions: e.reservedConcurrentExecutions,
        alarmTopic,
        deploymentConfig: e.deploymentConfig ? codedeploy.LambdaDeploymentConfig.fromLambdaDeploymentConfigName(this, 'EndpointDeploymentConfig', e.deploymentConfig) : undefined,
        alarmThresholds: { maxErrorRate: e.maxErrorRate, maxPredictionShift: e.maxPredictionShift, ...(e.maxP99LatencyMs !== undefined ? { maxP99Latency: Duration.millis(e.maxP99LatencyMs) } : {}) },
      });
      if (this.endpoint.functionUrl) new CfnOutput(this, 'EndpointUrl', { value: this.endpoint.functionUrl.url, description: 'POST {"rows": [...]} signed with SigV4 (service lambda); GET describes the model' });
      new CfnOutput(this, 'EndpointReleaseStateMachineArn', { value: this.endpoint.releaseStateMachine.stateMachineArn, description: 'StartExecution with { "modelVersionId": "mv-..." } to release an approved model' });
    }

    if (props.sageMakerEndpoint) {
      const e = props.sageMakerEndpoint;
      const repository = ecr.Repository.fromRepositoryName(this, 'InferenceImageRepository', e.repository);
      this.sageMakerEndpoint = new SageMakerEndpoint(this, 'SageMakerEndpoint', {
        endpointName: e.name,
        dataLake: this.dataLake,
        ledger: this.ledger,
        imageUri: repository.repositoryUriForTag(e.tag ?? 'latest'),
        imageRepository: repository,
        initialModelDataUrl: e.initialModelDataUrl,
        instanceType: e.instanceType,
        initialInstanceCount: e.instanceCount,
        autoscaling: e.autoscaling,
        dataCapturePercent: e.dataCapturePercent,
        alarmTopic,
        alarmThresholds: { maxErrorRate: e.maxErrorRate, ...(e.maxP99LatencyMs !== undefined ? { maxP99Latency: Duration.millis(e.maxP99LatencyMs) } : {}) },
      });
      new CfnOutput(this, 'SageMakerEndpointName', { value: this.sageMakerEndpoint.endpointName, description: 'InvokeEndpoint (sagemaker-runtime) with CSV or JSON rows' });
      new CfnOutput(this, 'SageMakerEndpointReleaseStateMachineArn', { value: this.sageMakerEndpoint.releaseStateMachine!.stateMachineArn, description: 'StartExecution with { "modelVersionId": "mv-..." } to release an approved model' });
    }
    /** One of the app's endpoints: the ONNX one or the SageMaker one, as a setting names it (default: the ONNX one when there is one). */
    const chosen = (choice: 'endpoint' | 'sageMakerEndpoint' | undefined, setting: string): OnnxEndpoint | SageMakerEndpoint | undefined => {
      const picked = (choice ?? (this.endpoint ? 'endpoint' : 'sageMakerEndpoint')) === 'endpoint' ? this.endpoint : this.sageMakerEndpoint;
      if (choice && !picked) throw new Error(`MlopsStack: '${setting}' is '${choice}', but the stack has no '${choice}'.`);
      return picked;
    };

    if (props.trainingPipeline) {
      const t = props.trainingPipeline;
      this.trainingPipeline = new TrainingPipeline(this, 'TrainingPipeline', {
        pipelineName: t.name,
        alarmTopic,
        dataLake: this.dataLake,
        ledger: this.ledger,
        validationGate: this.validationGate,
        biasGate: this.biasGate,
        profileShards: this.datasetValidation.profileShards,
        trainingImage: PinnedEcrImage.fromRepository(ecr.Repository.fromRepositoryName(this, 'TrainingImageRepository', t.repository), t.tag ?? 'latest'),
        instanceType: t.instanceType,
        hyperparameters: t.hyperparameters,
        metricDefinitions: t.metricDefinitions,
        label: t.label,
        minImprovement: t.minImprovement,
        holdoutPercent: t.holdoutPercent,
        approval: t.approval,
        approvalTimeout: t.approvalTimeoutHours !== undefined ? Duration.hours(t.approvalTimeoutHours) : undefined,
        compileForInferentia: t.compileForInferentia,
        endpoint: chosen(t.releaseTo, 'trainingPipeline.releaseTo'),
        ...(t.retrainOnUpload ? { retrainOnUpload: { datasets: t.retrainOnUpload } } : {}),
        retrainOnImagePush: t.retrainOnImagePush,
      });
      new CfnOutput(this, 'TrainingPipelineStateMachineArn', { value: this.trainingPipeline.stateMachine.stateMachineArn, description: 'StartExecution with { "datasetVersionId": "dsv-..." } (name it after the dataset version)' });
    }

    if (props.driftMonitor) {
      const d = props.driftMonitor;
      const watched = chosen(d.watch, 'driftMonitor.watch');
      if (!watched) throw new Error("MlopsStack: 'driftMonitor' needs an 'endpoint' or a 'sageMakerEndpoint' to watch.");
      this.driftMonitor = new DriftMonitor(this, 'DriftMonitor', {
        endpoint: watched,
        dataLake: this.dataLake,
        ledger: this.ledger,
        features: d.features,
        ...(d.retrain !== false && this.trainingPipeline ? { retrain: this.trainingPipeline } : {}),
        ...(d.intervalMinutes !== undefined ? { interval: Duration.minutes(d.intervalMinutes) } : {}),
        ...(d.windowMinutes !== undefined ? { window: Duration.minutes(d.windowMinutes) } : {}),
        minRows: d.minRows,
        thresholds: d.thresholds,
        alarmTopic,
      });
      new CfnOutput(this, 'DriftMonitorFunctionName', { value: this.driftMonitor.function.functionName, description: 'Invoke to check drift now (it also runs on its schedule)' });
    }

    if (props.dashboard !== false) {
      this.dashboard = new OpsDashboard(this, 'Dashboard', {
        pipelines: this.trainingPipeline ? [this.trainingPipeline] : [],
        validationGate: this.validationGate,
        biasGate: this.biasGate,
        endpoints: this.endpoint ? [this.endpoint] : [],
        sageMakerEndpoints: this.sageMakerEndpoint ? [this.sageMakerEndpoint] : [],
        driftMonitors: this.driftMonitor ? [this.driftMonitor] : [],
        alarms: [this.ingest.deadLetterAlarm],
      });
      new CfnOutput(this, 'DashboardName', { value: this.dashboard.dashboard.dashboardName });
    }

    new CfnOutput(this, 'DataBucketName', { value: this.dataLake.dataBucket.bucketName, description: 'Upload datasets to s3://<this>/<dataPrefix><dataset>/<file>' });
    new CfnOutput(this, 'ArtifactsBucketName', { value: this.dataLake.artifactsBucket.bucketName });
    new CfnOutput(this, 'LedgerTableName', { value: this.ledger.table.tableName });
    new CfnOutput(this, 'LedgerBucketName', { value: this.ledger.wormBucket.bucketName, description: "The ledger's WORM copies (the authority `cdk-mlops lineage verify` checks the table against)" });
    new CfnOutput(this, 'DataPrefix', { value: this.dataLake.dataPrefix });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn, description: 'Subscribe to be told of every alarm: uploads or runs that could not start, endpoint health and rollbacks, drift' });
    new CfnOutput(this, 'ValidationGateFunctionName', { value: this.validationGate.function.functionName });
    new CfnOutput(this, 'DatasetValidationStateMachineArn', { value: this.datasetValidation.stateMachine.stateMachineArn, description: 'StartExecution with { "datasetVersionId": "dsv-..." }' });
    if (this.biasGate) new CfnOutput(this, 'BiasGateFunctionName', { value: this.biasGate.function.functionName });
  }
}
