import { Duration, RemovalPolicy, type Size } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ValidateDataset } from '../stepfunctions/validate-dataset';
import type { DataLake } from './data-lake';
import type { LineageLedger } from './lineage-ledger';
import { DEFAULT_LOG_RETENTION } from './private/defaults';
import { ProfileShards } from './profile-shards';
import type { ValidationGate } from './validation-gate';

export interface DatasetValidationProps {
  readonly dataLake: DataLake;
  readonly ledger: LineageLedger;
  /** The gate that judges the profile (contract, drift). */
  readonly validationGate: ValidationGate;
  /**
   * Versions up to this size are profiled in one pass by the gate; bigger ones in parallel shards.
   * @default Size.mebibytes(512)
   */
  readonly shardThreshold?: Size;
  /** @default Size.mebibytes(128) */
  readonly shardSize?: Size;
  /** @default 1000 */
  readonly maxShards?: number;
  /** Shards profiled at once. @default 100 */
  readonly maxConcurrency?: number;
  /** @default Duration.hours(2) */
  readonly timeout?: Duration;
  /** Retention of the state machine's execution log. @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A state machine that validates any dataset version on demand:
 * `StartExecution({ datasetVersionId, baselineProfileKey? })` → the validation
 * gate's verdict at `$.validation`. Big versions are profiled in parallel shards
 * (a Distributed Map, see `ValidateDataset`) before the gate. Logs every event
 * (with execution data) to its own log group, X-Ray tracing on.
 */
export class DatasetValidation extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly profileShards: ProfileShards;
  readonly logGroup: logs.LogGroup;
  readonly definition: ValidateDataset;

  constructor(scope: Construct, id: string, props: DatasetValidationProps) {
    super(scope, id);
    this.profileShards = new ProfileShards(this, 'ProfileShards', {
      dataLake: props.dataLake,
      ledger: props.ledger,
      thresholdSize: props.shardThreshold,
      shardSize: props.shardSize,
      maxShards: props.maxShards,
    });
    this.definition = new ValidateDataset(this, 'Definition', { validationGate: props.validationGate, profileShards: this.profileShards, maxConcurrency: props.maxConcurrency });
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? DEFAULT_LOG_RETENTION, encryptionKey: props.dataLake.encryptionKey, removalPolicy: RemovalPolicy.RETAIN });
    this.stateMachine = new sfn.StateMachine(this, 'Resource', {
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: props.timeout ?? Duration.hours(2),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      comment: 'cdk-mlops: validates a dataset version (sharded profiling for big versions, then the validation gate)',
    });
    ValidateDataset.acknowledgeNagFindings(this.stateMachine);
  }

  /** Lets `grantee` start executions (e.g. the ingest rule, a training pipeline). */
  grantStartExecution(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  /** Failed executions. Statistic: Sum; period: 5 minutes. */
  metricFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stateMachine.metricFailed({ period: Duration.minutes(5), ...props });
  }
}
