import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { DataLake } from '../../lib';
import { testStack } from '../helpers/stacks';

function lake(props: ConstructorParameters<typeof DataLake>[2] = {}) {
  const stack = testStack();
  const dataLake = new DataLake(stack, 'Lake', props);
  return { stack, dataLake, get template() { return Template.fromStack(stack); } };
}

describe('DataLake', () => {
  it('creates versioned, Object-Locked (GOVERNANCE, 30 days; the ledger 3650), KMS-encrypted, private data, artifacts and ledger buckets', () => {
    // GIVEN / WHEN
    const { template, stack, dataLake } = lake();
    // THEN
    const locked = template.findResources('AWS::S3::Bucket', { Properties: { ObjectLockEnabled: true } });
    expect(Object.keys(locked)).toHaveLength(3);
    const ledgerId = stack.getLogicalId(dataLake.ledgerBucket.node.defaultChild as s3.CfnBucket);
    for (const [id, bucket] of Object.entries(locked)) {
      expect(bucket.Properties).toMatchObject({
        VersioningConfiguration: { Status: 'Enabled' },
        ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: id === ledgerId ? 3650 : 30 } } },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: expect.anything() }, BucketKeyEnabled: true }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LoggingConfiguration: { DestinationBucketName: expect.anything(), LogFilePrefix: expect.stringMatching(/-bucket\/$/) },
      });
      expect(bucket.DeletionPolicy).toBe('Retain');
      expect(bucket.UpdateReplacePolicy).toBe('Retain');
    }
  });

  it('expires nothing in the ledger bucket: no expiration of any version, only incomplete uploads aborted', () => {
    // GIVEN / WHEN
    const { template, stack, dataLake } = lake({ noncurrentVersionExpiration: Duration.days(30) });
    // THEN
    const ledger = template.toJSON().Resources[stack.getLogicalId(dataLake.ledgerBucket.node.defaultChild as s3.CfnBucket)];
    expect(ledger.Properties.LifecycleConfiguration).toEqual({ Rules: [{ Id: 'abort-incomplete-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 }, Status: 'Enabled' }] });
    expect(JSON.stringify(ledger.Properties.LifecycleConfiguration)).not.toMatch(/Expiration/);
  });

  it('takes the ledger retention from props', () => {
    const { template } = lake({ ledgerRetention: s3.ObjectLockRetention.compliance(Duration.days(3653)) });
    template.hasResourceProperties('AWS::S3::Bucket', { ObjectLockConfiguration: { Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 3653 } } } });
  });

  it('uses a customer-managed key with rotation, retained', () => {
    const { template } = lake();
    template.hasResource('AWS::KMS::Key', { Properties: { EnableKeyRotation: true }, DeletionPolicy: 'Retain' });
  });

  it('takes the Object Lock retention from props (COMPLIANCE)', () => {
    const { template } = lake({ objectLockRetention: s3.ObjectLockRetention.compliance(Duration.days(2555)) });
    template.hasResourceProperties('AWS::S3::Bucket', { ObjectLockConfiguration: { Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2555 } } } });
  });

  it('denies any request that is not TLS 1.2+ on every bucket', () => {
    const { template } = lake();
    const policies = template.findResources('AWS::S3::BucketPolicy');
    expect(Object.keys(policies)).toHaveLength(4);
    for (const policy of Object.values(policies)) {
      expect(policy.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
        ]),
      );
    }
  });

  it('logs access to a separate SSE-S3 bucket via a bucket policy (no ACLs)', () => {
    const { template } = lake();
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ ExpirationInDays: 365, Status: 'Enabled' })]) },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 's3:PutObject', Principal: { Service: 'logging.s3.amazonaws.com' } })]) },
    });
  });

  it('expires noncurrent versions and aborts stale multipart uploads', () => {
    const { template } = lake({ noncurrentVersionExpiration: Duration.days(90) });
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      LifecycleConfiguration: { Rules: [Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 90 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } })] },
    });
  });

  it('sends EventBridge notifications from the data bucket, without a notifications custom resource', () => {
    const { template } = lake();
    template.resourcePropertiesCountIs('AWS::S3::Bucket', { NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } } }, 1);
    template.resourceCountIs('Custom::S3BucketNotifications', 0);
  });

  it('honours a removal policy given explicitly', () => {
    const { template } = lake({ removalPolicy: RemovalPolicy.DESTROY });
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete' });
  });

  it('grants read under the data prefix with KMS decrypt and no wildcard actions', () => {
    const { stack, dataLake } = lake();
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    dataLake.grantReadData(role);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: { 'Fn::Join': ['', [Match.anyValue(), '/data/*']] } }),
          Match.objectLike({ Action: 'kms:Decrypt' }),
        ]),
      },
    });
  });

  it('accepts a key and a data bucket you bring, and warns that their settings are yours', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'MyKey', { enableKeyRotation: true });
    const bucket = s3.Bucket.fromBucketName(stack, 'Existing', 'my-existing-data');
    const dataLake = new DataLake(stack, 'Lake', { encryptionKey: key, dataBucket: bucket });
    expect(dataLake.dataBucket).toBe(bucket);
    expect(dataLake.encryptionKey).toBe(key);
    Template.fromStack(stack).resourceCountIs('AWS::S3::Bucket', 3); // artifacts + access logs only
    Annotations.fromStack(stack).hasWarning('/Test/Lake', Match.stringLikeRegexp('dataBucket is brought by you'));
  });

  it.each([
    [{ dataBucket: {} as s3.IBucket, objectLockRetention: s3.ObjectLockRetention.governance(Duration.days(1)) }, /'objectLockRetention' applies to the buckets DataLake creates/],
    [{ dataPrefix: 'data' }, /'dataPrefix' must be one or more path segments ending in '\/'/],
    [{ dataPrefix: '/data/' }, /'dataPrefix' must be one or more path segments/],
    [{ noncurrentVersionExpiration: Duration.hours(1) }, /'noncurrentVersionExpiration' must be at least 1 day/],
    [{ accessLogsBucket: {} as s3.IBucket, accessLogsRetention: Duration.days(9) }, /'accessLogsRetention' applies only to the log bucket DataLake creates/],
    [{ accessLogsRetention: Duration.hours(2) }, /'accessLogsRetention' must be at least 1 day/],
  ])('rejects bad props: %o', (props, message) => {
    expect(() => new DataLake(testStack(), 'Lake', props)).toThrow(message);
  });
});
