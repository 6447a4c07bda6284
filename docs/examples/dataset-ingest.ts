// Example: event-driven ingest in an existing stack that already has its data bucket.
import { Stack, type StackProps } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { DataLake, DatasetIngest, LineageLedger } from '../../lib';

export interface DatasetIngestExampleProps extends StackProps {
  /** Name of an existing bucket with versioning, Object Lock, KMS and EventBridge notifications on. */
  readonly existingDataBucketName: string;
}

export class DatasetIngestExampleStack extends Stack {
  constructor(scope: Construct, id: string, props: DatasetIngestExampleProps) {
    super(scope, id, props);
    const lake = new DataLake(this, 'Lake', {
      dataBucket: s3.Bucket.fromBucketName(this, 'Existing', props.existingDataBucketName),
    });
    const ledger = new LineageLedger(this, 'Ledger', { wormBucket: lake.ledgerBucket });
    const ingest = new DatasetIngest(this, 'Ingest', { dataLake: lake, ledger });
    // Operators: the DLQ alarm is created; wire it to your paging.
    ingest.deadLetterAlarm.node.addMetadata('owner', 'data-platform');
  }
}
