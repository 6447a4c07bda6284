import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { LEDGER_DENIED_ACTIONS, LineageLedger } from '../../lib';
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

  it('rejects a bad WORM prefix', () => {
    const stack = testStack();
    const bucket = new s3.Bucket(stack, 'Worm');
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
