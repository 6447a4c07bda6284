// Example: a TrainingPipeline in an existing stack, with your own data bucket, KMS key, VPC and
// training image (an ECR repository you push to), training on a GPU with managed spot, a person
// approving each registered model; and a second pipeline, a PyTorch model trained on Trainium
// and compiled for Inferentia2 with Neo. Both fit in one stack.
import { Duration, Size, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { BiasGate, DataLake, LineageLedger, TrainingInstanceType, TrainingPipeline, ValidationGate } from '../../lib';

export interface TrainingPipelineExampleProps extends StackProps {
  /** Your existing, versioned and Object-Locked bucket. */
  readonly existingDataBucketName: string;
  readonly existingKeyArn: string;
  readonly vpcId: string;
}

export class TrainingPipelineExampleStack extends Stack {
  readonly pipeline: TrainingPipeline;
  readonly vision: TrainingPipeline;

  constructor(scope: Construct, id: string, props: TrainingPipelineExampleProps) {
    super(scope, id, props);
    const key = kms.Key.fromKeyArn(this, 'TeamKey', props.existingKeyArn);
    const dataLake = new DataLake(this, 'Lake', { dataBucket: s3.Bucket.fromBucketName(this, 'Data', props.existingDataBucketName), encryptionKey: key });
    const ledger = new LineageLedger(this, 'Ledger', { wormBucket: dataLake.ledgerBucket });
    const validationGate = new ValidationGate(this, 'Validation', { dataLake, ledger });
    const biasGate = new BiasGate(this, 'Bias', {
      dataLake,
      ledger,
      config: { label: { column: 'churned', values: ['yes'] }, facets: [{ column: 'age', threshold: 60 }], thresholds: { DPPL: 0.1, DI: { min: 0.8 } }, model: {} },
    });
    const vpc = ec2.Vpc.fromLookup(this, 'Vpc', { vpcId: props.vpcId });
    this.pipeline = new TrainingPipeline(this, 'Churn', {
      pipelineName: 'churn',
      dataLake,
      ledger,
      validationGate,
      biasGate,
      trainingImage: tasks.DockerImage.fromEcrRepository(ecr.Repository.fromRepositoryName(this, 'Trainer', 'churn-trainer'), 'sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945'),
      instanceType: TrainingInstanceType.GPU_G5_XLARGE,
      spot: { maxWait: Duration.hours(6) },
      maxRuntime: Duration.hours(4),
      volumeSize: Size.gibibytes(100),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      hyperparameters: { label: 'churned', label_values: 'yes', features: 'tenure,monthly_charges,contract=monthly:0|yearly:1', iterations: '800' },
      metricDefinitions: [{ name: 'validation:accuracy', regex: 'validation:accuracy=([0-9.]+);' }],
      label: { column: 'churned', values: ['yes'] },
      minImprovement: 0.005,
      holdoutPercent: 25,
      // every upload under data/churn/ retrains; a person approves what is registered
      retrainOnUpload: { datasets: ['churn'] },
      approval: 'manual',
      approvalTimeout: Duration.days(3),
    });
    // the model risk team answers approvals (`npx cdk-mlops pipeline approve --token ... --by ...`)
    this.pipeline.grantApprove(iam.Role.fromRoleName(this, 'ModelRisk', 'model-risk-reviewers'));

    this.vision = new TrainingPipeline(this, 'Defects', {
      pipelineName: 'defects',
      dataLake,
      ledger,
      validationGate,
      trainingImage: tasks.DockerImage.fromRegistry('123456789012.dkr.ecr.us-east-2.amazonaws.com/defects-trainer:2.1'),
      instanceType: TrainingInstanceType.TRAINIUM_TRN1_2XLARGE,
      label: { column: 'defect', values: ['1'] },
      // the trainer saves model.pth (TorchScript) beside model.onnx in model.tar.gz
      compileForInferentia: { framework: 'PYTORCH', frameworkVersion: '1.13', dataInputConfig: '{"input0": [1, 3, 224, 224]}' },
    });
  }
}
