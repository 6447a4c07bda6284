// Example: a LineageLedger whose WORM copies go to a DataLake's artifacts bucket,
// and a Lambda of yours that may append to it (and nothing else).
import * as path from 'node:path';
import { Stack, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { DataLake, LineageLedger } from '../../lib';

export class LineageLedgerExampleStack extends Stack {
  readonly recorder: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const lake = new DataLake(this, 'Lake');
    const ledger = new LineageLedger(this, 'Ledger', { wormBucket: lake.ledgerBucket });
    this.recorder = new nodejs.NodejsFunction(this, 'Recorder', {
      entry: path.join(__dirname, 'ledger-library.ts'),
      handler: 'recordTrainingRun',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
    });
    ledger.grantAppend(this.recorder); // PutItem + reads + WORM PutObject; never Update/Delete
    ledger.bindEnvironment(this.recorder); // LEDGER_TABLE, LEDGER_WORM_BUCKET, LEDGER_WORM_PREFIX
  }
}
