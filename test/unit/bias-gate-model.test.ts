import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainLogisticRegression, type TrainedLinearModel } from '../../bin/local/trainers/logistic-regression';
import { linearModelOnnx } from '../../bin/local/onnx-builder';
import { cpsCsv, cpsRows } from '../../bin/local/sample-data';
import { parseBiasGateEvent, runBiasGate, type BiasGateDeps } from '../../lambdas/bias-gate/gate';
import { BiasAccumulator, evaluateBias, type BiasGateConfig } from '../../lambdas/core/bias-gate';
import { InvalidEventError, ModelError } from '../../lambdas/core/errors';
import { buildRecord, type LedgerRecord, type RecordDraft } from '../../lambdas/core/lineage';
import type { ModelSignature } from '../../lambdas/core/model-signature';
import { checkArtifactBytes } from '../../lambdas/shared/model-artifacts';
import { OnnxModel } from '../../lambdas/shared/onnx-model';

/*
 * The bias gate scoring a candidate ONNX model (onnxruntime-node, in batches)
 * over a dataset version, with in-memory ledger, objects and artifacts. The
 * expected metrics come from the same rows scored in TypeScript with the same
 * weights, fed through the prediction-column path.
 */

const signature: ModelSignature = { input: 'features', output: 'score', features: ['education', 'experience', 'union', { column: 'gender', categories: { female: 1, male: 0 } }] };
const config: BiasGateConfig = {
  label: { column: 'wage', threshold: 10 },
  facets: [{ column: 'gender', values: ['female'] }, { column: 'race', values: ['hispanic', 'other'] }],
  thresholds: { DPL: 0.5, DPPL: 0.5, DI: { min: 0.1 } },
  model: { batchSize: 100 },
};

function memoryDeps(files: Record<string, Uint8Array | string>, models: Record<string, Uint8Array>) {
  const records = new Map<string, LedgerRecord>();
  const reports = new Map<string, unknown>();
  let n = 0;
  const append = (draft: RecordDraft) => {
    const existing = draft.id ? records.get(draft.id) : undefined;
    if (existing) return { record: existing, created: false };
    const record = buildRecord(draft, new Date('2026-11-23T00:00:00Z'), () => String(++n));
    records.set(record.id, record);
    return { record, created: true };
  };
  const deps: BiasGateDeps = {
    ledger: { get: async (id) => records.get(id), append: async (d) => append(d) },
    objects: {
      open: async (ref) => (files[ref.key] === undefined ? undefined : { body: (async function* () { yield typeof files[ref.key] === 'string' ? new TextEncoder().encode(files[ref.key] as string) : (files[ref.key] as Uint8Array); })(), contentType: null, versionId: null, etag: null }),
      randomAccess: () => { throw new Error('not used'); },
    },
    artifacts: { putJson: async (key, value) => (reports.set(key, value), `s3://artifacts/${key}`) },
    models: { read: async (model) => checkArtifactBytes(model, models[model.data.artifact.uri]!) },
    loadModel: (bytes, sig) => OnnxModel.load(bytes, sig),
  };
  const dataset = (key: string) => append({ kind: 'DatasetVersion', subject: 'dataset/cps', data: { dataset: 'cps', bucket: 'data', key, versionId: null, etag: null, sha256: 'x', size: 1, contentType: 'text/csv', format: 'csv', status: 'accepted', source: { eventId: null, eventTime: null } } }).record.id;
  const model = (uri: string, bytes: Uint8Array, sig: unknown = signature, sha = createHash('sha256').update(bytes).digest('hex')) => {
    models[uri] = bytes;
    return append({ kind: 'ModelVersion', subject: 'pipeline/wages', data: { pipeline: 'wages', trainingRunId: 'tr-1', artifact: { uri, sha256: sha }, format: 'onnx', signature: sig as ModelSignature, metrics: {}, approval: { status: 'PendingManualApproval' } } }).record.id;
  };
  return { deps, records, reports, dataset, model };
}

describe('BiasGate with a candidate ONNX model', () => {
  const rows = cpsRows() as unknown as Record<string, unknown>[];
  let trained: TrainedLinearModel;
  beforeAll(() => {
    trained = trainLogisticRegression(rows, { signature, target: (r) => ((r.wage as number) > 10 ? 1 : 0) });
  });

  /** The same predictions computed in TypeScript, through the prediction-column path. */
  function expectedMetrics(model: TrainedLinearModel) {
    const scored = rows.map((r) => {
      const x = [r.education, r.experience, r.union, r.gender === 'female' ? 1 : 0] as number[];
      const logit = x.reduce((s, v, j) => s + v * Math.fround(model.weights[j]!), Math.fround(model.bias));
      expect(Math.abs(logit)).toBeGreaterThan(1e-4); // no row on the float32 edge of the threshold
      return { ...r, predicted: logit > 0 ? 1 : 0 };
    });
    const columnConfig: BiasGateConfig = { ...config, model: undefined, prediction: { column: 'predicted', values: [1] } };
    const acc = new BiasAccumulator(columnConfig);
    scored.forEach((r) => acc.add(r));
    return evaluateBias(acc, columnConfig).metrics;
  }

  it('the demo model learns something (training accuracy above the base rate)', () => {
    const base = rows.filter((r) => (r.wage as number) > 10).length / rows.length;
    expect(trained.accuracy).toBeGreaterThan(Math.max(base, 1 - base));
  });

  it.each([1, 100, 534, 4096])('scores every row in batches of %i and computes the post-training metrics', async (batchSize) => {
    const m = memoryDeps({ 'cps.csv': cpsCsv() }, {});
    const dsv = m.dataset('cps.csv');
    const mv = m.model('s3://artifacts/models/wages/1/model.onnx', trained.onnx);
    const verdict = await runBiasGate({ datasetVersionId: dsv, modelVersionId: mv }, m.deps, { ...config, model: { batchSize } }, 'reports/');
    expect(verdict).toMatchObject({ datasetVersionId: dsv, modelVersionId: mv });
    const report = [...m.reports.values()][0] as { metrics: Record<string, number>; stage: string; rows: number; unchecked: string[] };
    expect(report.stage).toBe('post-training');
    expect(report.unchecked).toEqual([]);
    expect(report.rows).toBe(534);
    const expected = expectedMetrics(trained);
    for (const key of ['gender=female.DPPL', 'gender=female.DI', 'gender=female.AD', 'gender=female.RD', 'gender=female.TE', 'race=hispanic|other.DPPL', 'gender=female.DPL']) {
      expect(report.metrics[key], key).toBeCloseTo(expected[key]!, 12);
    }
    const gr = m.records.get(verdict.gateReportId)!;
    expect(gr.parents).toEqual([dsv, mv]);
  });

  it('without a model it is a pre-training check: post-training thresholds are listed as not checked', async () => {
    const m = memoryDeps({ 'cps.csv': cpsCsv() }, {});
    const verdict = await runBiasGate({ datasetVersionId: m.dataset('cps.csv') }, m.deps, config, 'reports/');
    const report = [...m.reports.values()][0] as { metrics: Record<string, number>; stage: string; unchecked: string[] };
    expect(verdict.passed).toBe(true);
    expect(report.stage).toBe('pre-training');
    expect(report.unchecked).toEqual(['DPPL', 'DI']);
    expect(report.metrics['gender=female.DPPL']).toBeUndefined();
  });

  it('fails a model whose thresholds it breaches, naming facet and metric', async () => {
    const m = memoryDeps({ 'cps.csv': cpsCsv() }, {});
    const verdict = await runBiasGate({ datasetVersionId: m.dataset('cps.csv'), modelVersionId: m.model('s3://artifacts/models/w.onnx', trained.onnx) }, m.deps, { ...config, thresholds: { DI: { min: 0.99 } } }, 'reports/');
    expect(verdict.passed).toBe(false);
    expect(verdict.reason).toMatch(/^gender=female: DI 0\.\d{4} < 0\.99$/);
  });

  it.each([
    ['bytes changed after registration', (m: ReturnType<typeof memoryDeps>) => m.model('s3://a/models/x.onnx', linearModelOnnx({ weights: [1, 1, 1, 1], bias: 0 }), signature, 'f'.repeat(64)), /has SHA-256 [0-9a-f]{64}, but the ledger recorded f{64}; refusing to run it$/],
    ['a signature the graph does not have', (m: ReturnType<typeof memoryDeps>) => m.model('s3://a/models/x.onnx', linearModelOnnx({ weights: [1, 1, 1, 1], bias: 0 }), { ...signature, input: 'x' }), /the model does not match its signature: no input 'x' \(the graph has features\)$/],
    ['no signature', (m: ReturnType<typeof memoryDeps>) => m.model('s3://a/models/x.onnx', linearModelOnnx({ weights: [1], bias: 0 }), null), /signature: expected an object \{ input, features, output \}$/],
    ['not an ONNX model', (m: ReturnType<typeof memoryDeps>) => m.model('s3://a/models/x.onnx', new TextEncoder().encode('PK\u0003\u0004 a zip')), /onnxruntime cannot load the model: /],
    ['a feature count the graph does not take', (m: ReturnType<typeof memoryDeps>) => m.model('s3://a/models/x.onnx', linearModelOnnx({ weights: [1, 1], bias: 0 })), /the model does not match its signature: input 'features' takes 2 features; the signature lists 4$/],
  ])('fails with a reason, never a crash: %s', async (_case, register, reason) => {
    const m = memoryDeps({ 'cps.csv': cpsCsv() }, {});
    const mv = register(m);
    const verdict = await runBiasGate({ datasetVersionId: m.dataset('cps.csv'), modelVersionId: mv }, m.deps, config, 'reports/');
    expect(verdict.passed).toBe(false);
    expect(verdict.reason).toMatch(new RegExp(`^model ${mv}: `));
    expect(verdict.reason).toMatch(reason);
  });

  it('a model that fails mid-stream fails the gate with its reason (later batches are not scored)', async () => {
    const m = memoryDeps({ 'cps.csv': cpsCsv() }, {});
    let calls = 0;
    const deps: BiasGateDeps = {
      ...m.deps,
      loadModel: async () => ({
        score: async (_x, rows) => {
          if (++calls === 3) throw new ModelError('out of memory in batch 3');
          return new Float64Array(rows).fill(0.9);
        },
        release: async () => undefined,
      }),
    };
    const verdict = await runBiasGate({ datasetVersionId: m.dataset('cps.csv'), modelVersionId: m.model('s3://a/models/x.onnx', trained.onnx) }, deps, { ...config, model: { batchSize: 50 } }, 'reports/');
    expect(verdict).toMatchObject({ passed: false, reason: expect.stringMatching(/^model mv-\d+: out of memory in batch 3$/) });
    expect(calls).toBe(3);
  });

  it('names the row and column of a value the model cannot take', async () => {
    const m = memoryDeps({ 'bad.csv': 'wage,education,experience,union,gender,race\n12,16,3,0,male,white\n9,,10,1,female,white\n' }, {});
    const verdict = await runBiasGate({ datasetVersionId: m.dataset('bad.csv'), modelVersionId: m.model('s3://a/models/x.onnx', trained.onnx) }, m.deps, config, 'reports/');
    expect(verdict.reason).toBe("s3://data/bad.csv, row 3, column 'education': model feature: missing value");
  });

  it('rejects events that name no model version, or a model for a gate reading a prediction column', async () => {
    const m = memoryDeps({ 'cps.csv': cpsCsv() }, {});
    const dsv = m.dataset('cps.csv');
    await expect(runBiasGate({ datasetVersionId: dsv, modelVersionId: dsv }, m.deps, config, 'reports/')).rejects.toThrow(`modelVersionId: no ModelVersion '${dsv}' in the ledger`);
    const scoredConfig: BiasGateConfig = { ...config, model: undefined, prediction: { column: 'p', values: [1] } };
    await expect(runBiasGate({ datasetVersionId: dsv, modelVersionId: 'mv-1' }, m.deps, scoredConfig, 'reports/')).rejects.toThrow(InvalidEventError);
    expect(() => parseBiasGateEvent({ datasetVersionId: 'd', modelVersionId: 3 })).toThrow('modelVersionId: expected a non-empty string');
    expect(parseBiasGateEvent({ datasetVersionId: 'd', modelVersionId: null })).toEqual({ datasetVersionId: 'd' });
  });
});
