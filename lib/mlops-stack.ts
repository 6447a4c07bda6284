import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { BiasGateConfig } from '../lambdas/core/bias-gate';
import { BiasGate } from './bias-gate';
import { DataLake, type DataLakeProps } from './data-lake';
import { DatasetValidation, type DatasetValidationProps } from './dataset-validation';
import { DatasetIngest } from './dataset-ingest';
import { LineageLedger } from './lineage-ledger';
import { ValidationGate } from './validation-gate';

export interface MlopsStackProps extends StackProps {
  /**
   * Settings of the data lake.
   * @default - the DataLake defaults
   */
  readonly dataLake?: DataLakeProps;
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
}

/**
 * The whole kit in one stack: data lake, lineage ledger and ingest (training,
 * gates, endpoints, monitoring and the dashboard join it as they land). Every
 * piece is also importable on its own.
 */
export class MlopsStack extends Stack {
  readonly dataLake: DataLake;
  readonly ledger: LineageLedger;
  readonly ingest: DatasetIngest;
  readonly validationGate: ValidationGate;
  readonly biasGate?: BiasGate;
  readonly datasetValidation: DatasetValidation;

  constructor(scope: Construct, id: string, props: MlopsStackProps = {}) {
    super(scope, id, props);
    this.dataLake = new DataLake(this, 'DataLake', props.dataLake);
    this.ledger = new LineageLedger(this, 'Ledger', { wormBucket: this.dataLake.artifactsBucket });
    this.ingest = new DatasetIngest(this, 'Ingest', { dataLake: this.dataLake, ledger: this.ledger });
    this.validationGate = new ValidationGate(this, 'ValidationGate', { dataLake: this.dataLake, ledger: this.ledger });
    this.datasetValidation = new DatasetValidation(this, 'DatasetValidation', { dataLake: this.dataLake, ledger: this.ledger, validationGate: this.validationGate, ...props.datasetValidation });
    if (props.biasGate) this.biasGate = new BiasGate(this, 'BiasGate', { dataLake: this.dataLake, ledger: this.ledger, config: props.biasGate });

    new CfnOutput(this, 'DataBucketName', { value: this.dataLake.dataBucket.bucketName, description: 'Upload datasets to s3://<this>/<dataPrefix><dataset>/<file>' });
    new CfnOutput(this, 'ArtifactsBucketName', { value: this.dataLake.artifactsBucket.bucketName });
    new CfnOutput(this, 'LedgerTableName', { value: this.ledger.table.tableName });
    new CfnOutput(this, 'DataPrefix', { value: this.dataLake.dataPrefix });
    new CfnOutput(this, 'ValidationGateFunctionName', { value: this.validationGate.function.functionName });
    new CfnOutput(this, 'DatasetValidationStateMachineArn', { value: this.datasetValidation.stateMachine.stateMachineArn, description: 'StartExecution with { "datasetVersionId": "dsv-..." }' });
    if (this.biasGate) new CfnOutput(this, 'BiasGateFunctionName', { value: this.biasGate.function.functionName });
  }
}
