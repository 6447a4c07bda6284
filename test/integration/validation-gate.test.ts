import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainLogisticRegression } from '../../bin/local/trainers/logistic-regression';
import { registerLocalModel } from '../../bin/local/register-model';
import { uploadWithEvent } from '../../bin/local/s3-events';
import { cpsCsv, cpsRows } from '../../bin/local/sample-data';
import type { LedgerRecord } from '../../lambdas/core/lineage';
import type { IngestOutcome } from '../../lambdas/ingest/ingest';
import type { ValidationGateResult } from '../../lambdas/validation-gate/gate';
import { LocalStack } from '../../bin/local/local-stack';
import { startLocal, type LocalEnvironment } from '../helpers/local';

let env: LocalEnvironment;
beforeAll(async () => {
  env = await startLocal({ bundle: true });
});
afterAll(async () => {
  await env?.stop();
});

/** Uploads a file and ingests it through the template's rule and the bundled ingest function. */
async function ingest(key: string, body: string | Buffer): Promise<IngestOutcome> {
  const event = await uploadWithEvent(env.s3, { Bucket: env.dataBucket, Key: key, Body: body });
  const [delivered] = await env.stack.putEvent(event);
  return delivered!.result as IngestOutcome;
}

const gate = (event: unknown) => env.stack.invoke(env.validationGateFunctionId, event) as Promise<ValidationGateResult>;
const putArtifact = (key: string, body: string) => env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: key, Body: body }));
const getArtifact = async (key: string) => JSON.parse(await (await env.s3.send(new (await import('@aws-sdk/client-s3')).GetObjectCommand({ Bucket: env.artifactsBucket, Key: key }))).Body!.transformToString()) as Record<string, any>;

describe('ValidationGate (bundled, on s3rver + dynalite)', () => {
  it('passes a dataset that keeps its contract, storing the profile and the report and appending a GateReport', async () => {
    // Prepare: the CPS data and a contract for it
    await putArtifact('contracts/cps.yaml', 'version: 1\nrows: { min: 500 }\ncolumns:\n  wage: { type: float, nullable: false, min: 0 }\n  gender: { allowedValues: [female, male] }\n  race: { allowedValues: [hispanic, other, white] }\n');
    const dsv = await ingest('data/cps/cps-1985.csv', cpsCsv());
    // Act
    const result = await gate({ datasetVersionId: dsv.recordId });
    // Assess
    expect(result).toMatchObject({ passed: true, reason: null, reasons: [], datasetVersionId: dsv.recordId });
    const report = await getArtifact(result.reportUri.replace(`s3://${env.artifactsBucket}/`, ''));
    expect(report).toMatchObject({ gate: 'validation', passed: true, metrics: { rows: 534, columns: 11, contractViolations: 0 } });
    expect(report.summary.columns.wage.numeric.mean).toBeCloseTo(cpsRows().reduce((s, r) => s + r.wage, 0) / 534, 9);
    const record = (await env.ledger().get(result.gateReportId)) as LedgerRecord<'GateReport'>;
    expect(record).toMatchObject({ kind: 'GateReport', subject: 'dataset/cps', parents: [dsv.recordId], data: { gate: 'validation', passed: true, reportUri: result.reportUri } });
    expect((await env.ledger().derivedFrom(dsv.recordId)).map((r) => r.id)).toContain(result.gateReportId);
  });

  it('fails with the contract violations as reasons', async () => {
    await putArtifact('contracts/strict.yaml', 'version: 1\ncolumns:\n  wage: { max: 20 }\n  gender: { allowedValues: [female] }\n');
    const dsv = await ingest('data/strict/cps.csv', cpsCsv());
    const result = await gate({ datasetVersionId: dsv.recordId });
    expect(result.passed).toBe(false);
    expect(result.reasons).toEqual(['wage: maximum 44.5 is above 20', "gender: value(s) outside the allowed set: 'male' (289)"]);
    expect(result.reason).toBe('wage: maximum 44.5 is above 20');
  });

  it('fails on drift against a baseline profile, and passes the same data against itself', async () => {
    const base = await ingest('data/drift/base.csv', cpsCsv());
    const baseline = await gate({ datasetVersionId: base.recordId });
    const baselineKey = baseline.profileUri!.replace(`s3://${env.artifactsBucket}/`, '');
    const shifted = await ingest('data/drift/shifted.csv', cpsCsv(cpsRows().map((r) => ({ ...r, wage: r.wage * 2 + 10 }))));
    const drifted = await gate({ datasetVersionId: shifted.recordId, baselineProfileKey: baselineKey });
    expect(drifted.passed).toBe(false);
    expect(drifted.reasons.join('\n')).toMatch(/^wage: PSI \d+\.\d+ > 0\.2$/m);
    const same = await gate({ datasetVersionId: base.recordId, baselineProfileKey: baselineKey });
    expect(same.reasons).toEqual([]);
    expect(same).toMatchObject({ passed: true });
  });

  it('fails a malformed CSV with the file, row and column, without crashing', async () => {
    const dsv = await ingest('data/broken/rows.csv', 'a,b\n1,2\n3\n');
    expect(dsv.status).toBe('accepted'); // the header is fine: ingest records it; the gate reads every row
    const result = await gate({ datasetVersionId: dsv.recordId });
    expect(result).toMatchObject({ passed: false, profileUri: null });
    expect(result.reason).toBe(`s3://${env.dataBucket}/data/broken/rows.csv, row 3, column 'b': expected 2 fields (as the header), found 1`);
  });

  it('fails a dataset version that ingest rejected, with ingest\'s reason', async () => {
    const dsv = await ingest('data/broken/empty.csv', Buffer.alloc(0));
    expect(await gate({ datasetVersionId: dsv.recordId })).toMatchObject({ passed: false, reason: `dataset version ${dsv.recordId} was rejected at ingest: empty file` });
  });

  it('throws a named error for a request naming no dataset version', async () => {
    await expect(gate({ datasetVersionId: 'dsv-nope' })).rejects.toMatchObject({ name: 'InvalidEventError', message: "datasetVersionId: no DatasetVersion 'dsv-nope' in the ledger" });
    await expect(gate({})).rejects.toThrow('datasetVersionId: expected a non-empty string');
  });

  it('leaves every chain verifiable', async () => {
    for (const r of await env.ledger().verifyAll()) expect(r, r.chain).toMatchObject({ ok: true });
  });
});

describe('ValidationGate on several threads (the bundle is its own worker script)', () => {
  it('profiles a 9 MB CSV with PROFILE_WORKERS=2 to the same summary as one thread', async () => {
    const rows = cpsCsv().split('\n');
    const body = [rows[0], ...Array.from({ length: 420 }, () => rows.slice(1).filter((r) => r !== '')).flat()].join('\n') + '\n';
    expect(body.length).toBeGreaterThan(8 * 1024 * 1024);
    const one = await ingest('data/threads/one.csv', body);
    const two = await ingest('data/threads/two.csv', body);
    const threaded = await LocalStack.start({ outdir: env.outdir, stackName: 'CdkMlops', emulators: env.emulators, functionEnv: { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true', PROFILE_WORKERS: '2' } });
    const single = await gate({ datasetVersionId: one.recordId });
    const multi = (await threaded.invoke(env.validationGateFunctionId, { datasetVersionId: two.recordId })) as ValidationGateResult;
    expect([single.passed, multi.passed]).toEqual([true, true]);
    const [ra, rb] = await Promise.all([single, multi].map(async (r) => getArtifact(r.reportUri.replace(`s3://${env.artifactsBucket}/`, ''))));
    expect([ra!.profileThreads, rb!.profileThreads]).toEqual([1, 2]);
    const [a, b] = [ra!.summary, rb!.summary];
    expect(b.rows).toBe(534 * 420);
    expect(b.rows).toBe(a.rows);
    for (const name of ['wage', 'age', 'gender', 'occupation']) {
      const [x, y] = [a.columns[name], b.columns[name]];
      expect([y.count, y.missing, y.distinct, y.numeric?.min, y.numeric?.max], name).toEqual([x.count, x.missing, x.distinct, x.numeric?.min, x.numeric?.max]);
      if (x.numeric) expect(y.numeric.mean).toBeCloseTo(x.numeric.mean, 9);
      expect(y.top, name).toEqual(x.top);
    }
  }, 120_000);
});

describe('BiasGate (bundled, configured from cdk.json: wage > 10 by gender and race)', () => {
  const bias = (event: unknown) => env.stack.invoke(env.biasGateFunctionId, event) as Promise<ValidationGateResult>;

  it('measures the CPS data and fails on the documented gap, recording the GateReport', async () => {
    const dsv = await ingest('data/cps-bias/cps.csv', cpsCsv());
    const result = await bias({ datasetVersionId: dsv.recordId });
    const rows = cpsRows();
    const women = rows.filter((r) => r.gender === 'female');
    const men = rows.filter((r) => r.gender !== 'female');
    const dpl = men.filter((r) => r.wage > 10).length / men.length - women.filter((r) => r.wage > 10).length / women.length;
    expect(result.passed).toBe(dpl <= 0.2);
    const record = (await env.ledger().get(result.gateReportId)) as LedgerRecord<'GateReport'>;
    expect(record.data.gate).toBe('bias');
    expect(record.data.metrics['gender=female.DPL']).toBeCloseTo(dpl, 12);
    expect(record.data.thresholds).toEqual({ CI: 0.8, DPL: 0.2, KL: 0.2, DPPL: 0.2, 'DI.min': 0.8 });
    expect(record.parents).toEqual([dsv.recordId]);
  });

  it('fails a malformed file with its location rather than crashing', async () => {
    const dsv = await ingest('data/cps-bias/broken.csv', 'wage,gender,race\n12,female,white\n9,male\n');
    const result = await bias({ datasetVersionId: dsv.recordId });
    expect(result).toMatchObject({ passed: false, reason: `s3://${env.dataBucket}/data/cps-bias/broken.csv, row 3, column 'race': expected 3 fields (as the header), found 2` });
  });

  it('fails with "cannot be computed" when a facet is absent from the data', async () => {
    const dsv = await ingest('data/cps-bias/men-only.csv', 'wage,gender,race\n12,male,white\n9,male,white\n');
    const result = await bias({ datasetVersionId: dsv.recordId });
    expect(result.reasons).toContain('gender=female: DPL cannot be computed (facet d is empty)');
  });

  it("scores a registered ONNX model in the bundled onnxruntime-node and records the post-training GateReport against it", async () => {
    const dsv = await ingest('data/cps-bias/holdout.csv', cpsCsv());
    const rows = cpsRows() as unknown as Record<string, unknown>[];
    const signature = { input: 'features', output: 'score', features: ['education', 'experience', { column: 'gender', categories: { female: 1, male: 0 } }] };
    const trained = trainLogisticRegression(rows, { signature, target: (r) => ((r.wage as number) > 10 ? 1 : 0) });
    const registered = await registerLocalModel(env.ledger(), env.s3, env.artifactsBucket, { pipeline: 'wages', model: trained, datasetVersionIds: [dsv.recordId] });

    const result = await bias({ datasetVersionId: dsv.recordId, modelVersionId: registered.modelVersionId });

    // the predictions, computed here with the same float32 weights
    const predicted = rows.map((r) => [r.education, r.experience, r.gender === 'female' ? 1 : 0].reduce((s: number, v, j) => s + (v as number) * Math.fround(trained.weights[j]!), Math.fround(trained.bias)) > 0);
    const share = (sel: (i: number) => boolean) => {
      const idx = rows.map((_, i) => i).filter(sel);
      return idx.filter((i) => predicted[i]).length / idx.length;
    };
    const dppl = share((i) => rows[i]!.gender !== 'female') - share((i) => rows[i]!.gender === 'female');
    const record = (await env.ledger().get(result.gateReportId)) as LedgerRecord<'GateReport'>;
    expect(record.parents).toEqual([dsv.recordId, registered.modelVersionId]);
    expect(record.data.metrics['gender=female.DPPL']).toBeCloseTo(dppl, 12);
    const report = await getArtifact(record.data.reportUri!.replace(`s3://${env.artifactsBucket}/`, ''));
    expect(report).toMatchObject({ stage: 'post-training', modelVersionId: registered.modelVersionId, rows: 534 });
    expect((await env.ledger().derivedFrom(registered.modelVersionId)).map((r) => r.id)).toContain(result.gateReportId);
  });

  it('refuses to run a model whose bytes changed after registration', async () => {
    const dsv = await ingest('data/cps-bias/holdout2.csv', cpsCsv());
    const trained = trainLogisticRegression(cpsRows() as unknown as Record<string, unknown>[], { signature: { input: 'features', output: 'score', features: ['age'] }, target: (r) => ((r.wage as number) > 10 ? 1 : 0), iterations: 50 });
    const registered = await registerLocalModel(env.ledger(), env.s3, env.artifactsBucket, { pipeline: 'tamper', model: trained, datasetVersionIds: [dsv.recordId] });
    // s3rver has no Object Lock: overwrite the key the way a GOVERNANCE-bypassing writer could
    await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: registered.uri.replace(`s3://${env.artifactsBucket}/`, ''), Body: new Uint8Array([8, 1]) }));
    const result = await bias({ datasetVersionId: dsv.recordId, modelVersionId: registered.modelVersionId });
    expect(result.passed).toBe(false);
    expect(result.reason).toMatch(/refusing to run it$/);
  });
});
