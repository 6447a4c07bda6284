import type { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

export interface TrainingJobExtras {
  /** Managed spot training: the job waits up to `maxWait` (≥ max runtime) for capacity and resumes from checkpoints. */
  readonly spot?: { readonly maxWait: Duration; readonly checkpointS3Uri: string };
  /** Encrypt traffic between training containers (distributed training). */
  readonly interContainerTrafficEncryption?: boolean;
}

/**
 * SageMaker CreateTrainingJob (`.sync`) with what CDK's task does not render:
 * managed spot training (EnableManagedSpotTraining, MaxWaitTimeInSeconds,
 * CheckpointConfig) and inter-container traffic encryption. IAM stays CDK's
 * (derived from the task's own props).
 */
export class TrainingJobTask extends tasks.SageMakerCreateTrainingJob {
  private readonly extras: TrainingJobExtras;

  constructor(scope: Construct, id: string, props: tasks.SageMakerCreateTrainingJobProps & { extras: TrainingJobExtras }) {
    super(scope, id, props);
    this.extras = props.extras;
  }

  protected override _renderTask(topLevelQueryLanguage?: sfn.QueryLanguage): unknown {
    const rendered = super._renderTask(topLevelQueryLanguage) as { Parameters: Record<string, unknown> };
    const params = rendered.Parameters;
    if (this.extras.spot) {
      params.EnableManagedSpotTraining = true;
      params.StoppingCondition = { ...(params.StoppingCondition as Record<string, unknown>), MaxWaitTimeInSeconds: this.extras.spot.maxWait.toSeconds() };
      params.CheckpointConfig = { S3Uri: this.extras.spot.checkpointS3Uri, LocalPath: '/opt/ml/checkpoints' };
    }
    if (this.extras.interContainerTrafficEncryption) params.EnableInterContainerTrafficEncryption = true;
    return rendered;
  }
}

/**
 * An S3 location the task reads from the state (a JSONPath), whose access the construct grants
 * itself, scoped to the prefixes the pipeline writes. CDK's `S3Location.fromJsonExpression` grants
 * s3:GetObject, s3:ListBucket and s3:PutObject on `Resource: *` instead: any object of the account.
 */
export class PreGrantedS3Location extends tasks.S3Location {
  /** @param path JSONPath of the s3:// URI in the state, e.g. `$.prepare.trainUri`. */
  constructor(private readonly path: string) {
    super();
  }

  bind(): tasks.S3LocationConfig {
    return { uri: sfn.JsonPath.stringAt(this.path) };
  }
}
