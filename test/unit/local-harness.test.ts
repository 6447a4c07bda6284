import { describe, expect, it } from 'vitest';
import { IntrinsicResolver } from '../../bin/local/cloud-assembly';
import { matchesPattern } from '../../bin/local/event-pattern';

describe('matchesPattern (EventBridge semantics)', () => {
  const event = { source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: { name: 'b' }, object: { key: 'data/x/a.csv', size: 10 }, tags: ['a', 'b'] } };
  it.each([
    [{ source: ['aws.s3'] }, true],
    [{ source: ['aws.ec2', 'aws.s3'] }, true],
    [{ source: ['aws.ec2'] }, false],
    [{ detail: { object: { key: [{ prefix: 'data/' }] } } }, true],
    [{ detail: { object: { key: [{ prefix: 'models/' }] } } }, false],
    [{ detail: { object: { key: [{ suffix: '.csv' }] } } }, true],
    [{ detail: { object: { size: [{ numeric: ['>', 5, '<=', 10] }] } } }, true],
    [{ detail: { object: { size: [{ numeric: ['>', 10] }] } } }, false],
    [{ detail: { object: { missing: [{ exists: false }] } } }, true],
    [{ detail: { object: { key: [{ exists: true }] } } }, true],
    [{ detail: { bucket: { name: [{ 'anything-but': ['c'] }] } } }, true],
    [{ detail: { bucket: { name: [{ 'anything-but': 'b' }] } } }, false],
    [{ detail: { tags: ['b'] } }, true],
    [{ 'detail-type': [{ 'equals-ignore-case': 'object created' }] }, true],
    [{ detail: { bucket: 'b' } }, 'error'],
  ])('%j -> %s', (pattern, expected) => {
    if (expected === 'error') expect(() => matchesPattern(pattern, event)).toThrow();
    else expect(matchesPattern(pattern, event)).toBe(expected);
  });

  it('refuses an operator it does not implement rather than mismatching silently', () => {
    expect(() => matchesPattern({ source: [{ wildcard: 'aws.*' }] }, event)).toThrow("operator 'wildcard' is not supported");
  });
});

describe('IntrinsicResolver', () => {
  const resolver = new IntrinsicResolver(new Map([['Bucket', { ref: 'my-bucket', attributes: { Arn: 'arn:aws:s3:::my-bucket' } }]]), {
    region: 'us-east-1',
    accountId: '000000000000',
    partition: 'aws',
    stackName: 'S',
  });
  it.each([
    [{ Ref: 'Bucket' }, 'my-bucket'],
    [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, 'arn:aws:s3:::my-bucket'],
    [{ 'Fn::GetAtt': 'Bucket.Arn' }, 'arn:aws:s3:::my-bucket'],
    [{ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/data/*']] }, 'arn:aws:s3:::my-bucket/data/*'],
    [{ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${Bucket}/x' }, 'arn:aws:s3:::my-bucket/x'],
    [{ 'Fn::Sub': ['${A}-${Bucket.Arn}', { A: { Ref: 'AWS::Region' } }] }, 'us-east-1-arn:aws:s3:::my-bucket'],
    [{ 'Fn::Select': [1, { 'Fn::Split': [',', 'a,b,c'] }] }, 'b'],
    [{ nested: [{ Ref: 'AWS::AccountId' }] }, { nested: ['000000000000'] }],
  ])('%j', (value, expected) => {
    expect(resolver.resolve(value)).toEqual(expected);
  });

  it('names what it cannot resolve', () => {
    expect(() => resolver.resolve({ Ref: 'Nope' })).toThrow("Ref to unknown resource or parameter 'Nope'");
    expect(() => resolver.resolve({ 'Fn::If': [] })).toThrow('intrinsic Fn::If is not supported');
  });
});
