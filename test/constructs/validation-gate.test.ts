import { Size } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { BiasGate, DataLake, LineageLedger, ValidationGate } from '../../lib';
import { asArray, iamStatements, testStack } from '../helpers/stacks';

function gate(props: Partial<ConstructorParameters<typeof ValidationGate>[2]> = {}) {
  const stack = testStack();
  const dataLake = new DataLake(stack, 'Lake');
  const ledger = new LineageLedger(stack, 'Ledger', { wormBucket: dataLake.artifactsBucket });
  const construct = new ValidationGate(stack, 'Gate', { dataLake, ledger, ...props });
  return { stack, construct, get template() { return Template.fromStack(stack); } };
}

describe('ValidationGate', () => {
  it('passes thresholds, prefixes and the ledger to the function', () => {
    const { template } = gate({ driftThresholds: { psi: 0.25 }, columnDriftThresholds: { wage: { ks: 0.05 } }, contractsPrefix: 'contracts/v2/' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 2048,
      Environment: { Variables: Match.objectLike({ CONTRACTS_PREFIX: 'contracts/v2/', DRIFT_THRESHOLDS: '{"psi":0.25}', COLUMN_DRIFT_THRESHOLDS: '{"wage":{"ks":0.05}}', LEDGER_TABLE: Match.anyValue(), ARTIFACTS_BUCKET: Match.anyValue(), PROFILE_WORKERS: '1' }) },
    });
  });

  it('profiles on one thread per vCPU its memory buys (1,769 MB each)', () => {
    const { template } = gate({ memorySize: Size.mebibytes(7076) });
    template.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 7076, Environment: { Variables: Match.objectLike({ PROFILE_WORKERS: '4' }) } });
  });

  it('reads data and contracts, writes only profiles and reports, and may not update or delete ledger items', () => {
    const { template } = gate();
    const statements = iamStatements(template).map((s) => s.statement);
    const puts = statements.filter((s) => asArray(s.Action).includes('s3:PutObject')).map((s) => JSON.stringify(s.Resource));
    expect(puts.some((r) => r.includes('/profiles/*'))).toBe(true);
    expect(puts.some((r) => r.includes('/reports/*'))).toBe(true);
    expect(puts.some((r) => r.includes('/contracts/*'))).toBe(false);
    const actions = statements.flatMap((s) => asArray(s.Action));
    expect(actions).not.toEqual(expect.arrayContaining(['dynamodb:UpdateItem']));
    expect(actions).not.toEqual(expect.arrayContaining(['dynamodb:DeleteItem']));
    expect(actions).not.toEqual(expect.arrayContaining(['s3:DeleteObject']));
  });

  it.each([
    [{ driftThresholds: { psi: -1 } }, /'driftThresholds.psi' must be a finite number >= 0 \(got -1\)/],
    [{ driftThresholds: { ks: 2 } }, /'driftThresholds.ks' must be at most 1 \(got 2\)/],
    [{ columnDriftThresholds: { wage: { jsDistance: Number.NaN } } }, /'columnDriftThresholds.wage.jsDistance' must be a finite number >= 0/],
    [{ contractsPrefix: 'contracts' }, /'contractsPrefix' must be one or more path segments ending in '\/'/],
  ])('rejects bad props: %o', (props, message) => {
    expect(() => gate(props)).toThrow(message);
  });
});

describe('BiasGate', () => {
  const config = { label: { column: 'wage', threshold: 10 }, facets: [{ column: 'gender', values: ['female'] }], thresholds: { DPL: 0.1 } };

  it('carries its configuration to the function, checked at synth', () => {
    const stack = testStack();
    const dataLake = new DataLake(stack, 'Lake');
    const ledger = new LineageLedger(stack, 'Ledger', { wormBucket: dataLake.artifactsBucket });
    new BiasGate(stack, 'Bias', { dataLake, ledger, config });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ BIAS_CONFIG: JSON.stringify(config), REPORTS_PREFIX: 'reports/' }) } });
    expect(() => new BiasGate(stack, 'Bad', { dataLake, ledger, config: { ...config, prediction: { column: 'p', values: [1] }, model: {} } })).toThrow(
      "BiasGate: invalid 'config': model: give either 'prediction' (rows already scored) or 'model' (the gate scores the rows), not both",
    );
    expect(() => new BiasGate(stack, 'Bad2', { dataLake, ledger, config: { ...config, model: { batchSize: 0 } } })).toThrow("BiasGate: invalid 'config': model.batchSize: expected a whole number from 1 to 65536");
  });

  it('may read candidate models under models/ (or the given pattern) and nothing else of the artifacts', () => {
    const stack = testStack();
    const dataLake = new DataLake(stack, 'Lake');
    const ledger = new LineageLedger(stack, 'Ledger', { wormBucket: dataLake.artifactsBucket });
    new BiasGate(stack, 'Bias', { dataLake, ledger, config, modelArtifactsPattern: 'registry/onnx/*' });
    const reads = iamStatements(Template.fromStack(stack))
      .map((s) => s.statement)
      .filter((s) => asArray(s.Action).includes('s3:GetObject'))
      .map((s) => JSON.stringify(s.Resource));
    expect(reads.some((r) => r.includes('/registry/onnx/*'))).toBe(true);
    expect(reads.some((r) => r.includes('/models/*'))).toBe(false);
  });
});
