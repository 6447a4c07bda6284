// Example: a DataLake in your own stack, with your own KMS key and a 7-year COMPLIANCE lock.
import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { DataLake } from '../../lib';

export class DataLakeExampleStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const key = new kms.Key(this, 'TeamKey', { enableKeyRotation: true });
    const lake = new DataLake(this, 'Lake', {
      encryptionKey: key,
      objectLockRetention: s3.ObjectLockRetention.compliance(Duration.days(7 * 365)),
      dataPrefix: 'datasets/',
    });
    // Data scientists may upload (never delete) under datasets/.
    const uploader = new iam.Role(this, 'Uploader', { assumedBy: new iam.AccountRootPrincipal() });
    lake.grantUploadData(uploader);
  }
}
