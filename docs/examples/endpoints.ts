// Example: both endpoint kinds in your own stack — a serverless ONNX endpoint with
// provisioned concurrency and a linear rollout, and a SageMaker endpoint on Inferentia2
// serving a Neo-compiled model, autoscaled and watched for drift through its data
// capture; one dashboard over them; a caller role allowed to invoke both.
import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { DataLake, DriftMonitor, HostingInstanceType, LineageLedger, OnnxEndpoint, OpsDashboard, SageMakerEndpoint } from '../../lib';

export class EndpointsExampleStack extends Stack {
  readonly onnx: OnnxEndpoint;
  readonly inferentia: SageMakerEndpoint;
  readonly inferentiaDrift: DriftMonitor;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const lake = new DataLake(this, 'Lake');
    const ledger = new LineageLedger(this, 'Ledger', { wormBucket: lake.ledgerBucket });

    // Serverless ONNX: 2..20 warm containers tracking 70% utilization; each release shifts
    // 10% of traffic a minute, rolled back by the error, p99, shift and integrity alarms.
    this.onnx = new OnnxEndpoint(this, 'Churn', {
      dataLake: lake,
      ledger,
      provisionedConcurrency: { minCapacity: 2, maxCapacity: 20, utilizationTarget: 0.7 },
      deploymentConfig: codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_1MINUTE,
      alarmThresholds: { maxErrorRate: 0.01, maxP99Latency: Duration.millis(200), maxPredictionShift: 0.1 },
      captureSampleRate: 0.1,
      maxRows: 5000,
    });

    // Inferentia2: the pipeline's Neo-compiled archive (TrainingPipeline compileForInferentia),
    // a Neuron inference image, 1..4 instances at 200 invocations per instance.
    const repository = ecr.Repository.fromRepositoryName(this, 'NeuronImage', 'churn-neuron-inference');
    this.inferentia = new SageMakerEndpoint(this, 'ChurnInf2', {
      dataLake: lake,
      ledger, // releases of compiled model versions through its deployer, recorded in endpoint/churninf2
      imageUri: repository.repositoryUriForTag('2.19'),
      imageRepository: repository,
      initialModelDataUrl: lake.artifactsBucket.s3UrlForObject('training/churn/compiled/model-ml_inf2.tar.gz'),
      instanceType: HostingInstanceType.INFERENTIA_INF2_XLARGE,
      autoscaling: { minCapacity: 1, maxCapacity: 4, targetInvocationsPerInstance: 200 },
      dataCapturePercent: 10,
      trafficShifting: { type: 'CANARY', size: 25, waitInterval: Duration.minutes(10) },
    });

    // SageMaker's own capture format (CSV or JSON requests), read from the serving Deployment
    // on, against the serving model's training data; features as the model signature names them.
    this.inferentiaDrift = new DriftMonitor(this, 'ChurnInf2Drift', {
      endpoint: this.inferentia,
      dataLake: lake,
      ledger,
      features: ['tenure', 'monthly_charges', 'contract'],
      interval: Duration.hours(6),
    });

    // one dashboard over both endpoints and the monitor
    new OpsDashboard(this, 'Ops', { dashboardName: 'churn-endpoints', endpoints: [this.onnx], sageMakerEndpoints: [this.inferentia], driftMonitors: [this.inferentiaDrift] });

    const caller = new iam.Role(this, 'Caller', { assumedBy: new iam.AccountRootPrincipal(), description: 'an application calling both endpoints' });
    this.onnx.grantInvoke(caller);
    this.inferentia.grantInvoke(caller);
    // e.g. a CI job that releases an approved, compiled model version
    this.inferentia.grantRelease(caller);
  }
}
