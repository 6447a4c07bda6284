import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { LEDGER_DENIED_ACTIONS, LineageLedger, WORM_GUARDED_ACTIONS } from '../../lib';
import { asArray, iamStatements, referenceTemplate, testStack } from '../helpers/stacks';

function ledger() {
  const stack = testStack();
  const bucket = new s3.Bucket(stack, 'Worm', { objectLockEnabled: true });
  const l = new LineageLedger(stack, 'Ledger', { wormBucket: bucket });
  return { stack, ledger: l };
}

describe('LineageLedger', () => {
  it('is an on-demand table with PITR, deletion protection and a rotating customer-managed key, retained', () => {
    const { stack } = ledger();
    const template = Template.fromStack(stack);
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
        GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'lookup' }), Match.objectLike({ IndexName: 'byChain' })],
      }),
      DeletionPolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('denies item updates and deletes to every principal with a resource policy', () => {
    const { stack } = ledger();
    Template.fromStack(stack).hasResourceProperties('AWS::DynamoDB::Table', {
      ResourcePolicy: { PolicyDocument: { Statement: [{ Sid: 'LedgerIsAppendOnly', Effect: 'Deny', Principal: { AWS: '*' }, Action: LEDGER_DENIED_ACTIONS, Resource: '*' }] } },
    });
  });

  it('grants appenders PutItem and reads on the table and its two indexes, and PutObject under ledger/ only', () => {
    const { stack, ledger: l } = ledger();
    const role = new iam.Role(stack, 'Writer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    l.grantAppend(role);
    const statements = iamStatements(Template.fromStack(stack)).map((s) => s.statement);
    const table = statements.find((s) => asArray(s.Action).includes('dynamodb:PutItem'))!;
    expect(asArray(table.Action).sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query']);
    expect(JSON.stringify(table.Resource)).toContain('/index/lookup');
    expect(JSON.stringify(table.Resource)).toContain('/index/byChain');
    const worm = statements.find((s) => asArray(s.Action).includes('s3:PutObject'))!;
    expect(asArray(worm.Action)).toEqual(['s3:PutObject']);
    expect(JSON.stringify(worm.Resource)).toContain('/ledger/*');
  });

  it('makes every WORM copy write-once for every principal, and kept: no delete, no retention change below the break-glass role', () => {
    // GIVEN
    const stack = testStack();
    const bucket = new s3.Bucket(stack, 'Worm', { objectLockEnabled: true });
    const breakGlass = iam.Role.fromRoleArn(stack, 'BreakGlass', 'arn:aws:iam::123456789012:role/ledger-break-glass');
    // WHEN
    new LineageLedger(stack, 'Ledger', { wormBucket: bucket, breakGlassRole: breakGlass });
    // THEN
    const copies = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^Worm'), 'Arn'] }, '/ledger/*']] };
    Template.fromStack(stack).hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Sid: 'LedgerCopiesAreWrittenOnce', Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:PutObject', Resource: copies, Condition: { Null: { 's3:if-none-match': 'true' } } },
          { Sid: 'LedgerCopiesAreNeverReplaced', Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:PutObject', Resource: copies, Condition: { Null: { 's3:if-match': 'false' } } },
          { Sid: 'LedgerCopiesAreKept', Effect: 'Deny', Principal: { AWS: '*' }, Action: WORM_GUARDED_ACTIONS, Resource: copies, Condition: { ArnNotEquals: { 'aws:PrincipalArn': 'arn:aws:iam::123456789012:role/ledger-break-glass' } } },
        ]),
      },
    });
  });

  it('without a break-glass role, denies deleting and unlocking WORM copies to everyone, unconditionally', () => {
    const { stack } = ledger();
    const statements = Template.fromStack(stack).findResources('AWS::S3::BucketPolicy');
    const kept = Object.values(statements).flatMap((p) => p.Properties.PolicyDocument.Statement as { Sid?: string; Condition?: unknown }[]).find((s) => s.Sid === 'LedgerCopiesAreKept')!;
    expect(kept.Condition).toBeUndefined();
  });

  it('refuses a WORM bucket without Object Lock, and an imported one unless its policy is attached elsewhere', () => {
    // GIVEN
    const stack = testStack();
    const unlocked = new s3.Bucket(stack, 'Plain');
    const imported = s3.Bucket.fromBucketName(stack, 'Imported', 'someone-elses-ledger');
    // WHEN / THEN
    expect(() => new LineageLedger(stack, 'A', { wormBucket: unlocked })).toThrow(/'wormBucket' has no Object Lock, so its copies are not WORM/);
    expect(() => new LineageLedger(stack, 'B', { wormBucket: imported })).toThrow(/'wormBucket' is not managed by this stack.*'wormBucketPolicyAttachedElsewhere: true'/);
    expect(() => new LineageLedger(stack, 'C', { wormBucket: imported, wormBucketPolicyAttachedElsewhere: true })).not.toThrow();
    const locked = new s3.Bucket(stack, 'Locked', { objectLockEnabled: true });
    expect(() => new LineageLedger(stack, 'D', { wormBucket: locked, wormBucketPolicyAttachedElsewhere: true })).toThrow(/'wormBucketPolicyAttachedElsewhere' is for an imported 'wormBucket'/);
  });

  it('in the reference app, keeps the WORM copies in the ledger bucket, whose policy carries the three denials', () => {
    const { template } = referenceTemplate();
    const policies = Object.values(template.findResources('AWS::S3::BucketPolicy'));
    const ledgerPolicy = policies.find((p) => JSON.stringify(p.Properties.Bucket).includes('LedgerBucket'))!;
    const sids = (ledgerPolicy.Properties.PolicyDocument.Statement as { Sid?: string }[]).map((s) => s.Sid);
    expect(sids).toEqual(expect.arrayContaining(['LedgerCopiesAreWrittenOnce', 'LedgerCopiesAreNeverReplaced', 'LedgerCopiesAreKept']));
    const fns = Object.values(template.findResources('AWS::Lambda::Function')).map((f) => f.Properties.Environment?.Variables?.LEDGER_WORM_BUCKET).filter(Boolean);
    expect(fns.length).toBeGreaterThan(0);
    for (const bucket of fns) expect(JSON.stringify(bucket)).toContain('LedgerBucket');
  });

  it('rejects a bad WORM prefix', () => {
    const stack = testStack();
    const bucket = new s3.Bucket(stack, 'Worm', { objectLockEnabled: true });
    expect(() => new LineageLedger(stack, 'L', { wormBucket: bucket, wormPrefix: 'ledger' })).toThrow(/'wormPrefix' must be one or more path segments ending in '\/'/);
  });

  it('in the reference app, no role can update or delete ledger items', () => {
    const { template } = referenceTemplate();
    const tableId = Object.keys(template.findResources('AWS::DynamoDB::Table'))[0]!;
    const forbidden = /^(\*|dynamodb:\*|dynamodb:(UpdateItem|DeleteItem|BatchWriteItem|PartiQLUpdate|PartiQLDelete|PartiQL\*|Update\*|Delete\*|\*Item|BatchWrite\*))$/;
    const touchingTable = iamStatements(template).filter(({ statement }) => statement.Effect === 'Allow' && (JSON.stringify(statement.Resource).includes(tableId) || JSON.stringify(statement.Resource) === '"*"'));
    expect(touchingTable.length).toBeGreaterThan(0); // the ingest role does write the ledger
    for (const { policy, statement } of touchingTable) {
      for (const action of asArray(statement.Action)) expect(action, `${policy} allows ${action}`).not.toMatch(forbidden);
    }
  });
});
