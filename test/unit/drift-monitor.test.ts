import { describe, expect, it } from 'vitest';
import { buildRecord, deterministicId } from '../../lambdas/core/lineage';
import { DatasetProfile } from '../../lambdas/core/profile/dataset-profile';
import { driftMetricLines } from '../../lambdas/drift-monitor/index';
import { captureTime, hourPrefixes, monitorDrift, type MonitorDeps, type MonitorSettings } from '../../lambdas/drift-monitor/monitor';
import { MemoryLedger } from '../helpers/memory-ledger';

/*
 * The drift monitor's run, on an in-memory ledger and artifact store: which
 * captures it reads (the window, the serving model's rows only), what it
 * compares them with (the training data's stored profile), what it stores and
 * the metrics it publishes.
 */

const NOW = new Date('2026-12-01T10:20:00.000Z');
const SETTINGS: MonitorSettings = { endpoint: 'wages', pipeline: 'cps', capturePrefix: 'captures/wages/', profilesPrefix: 'profiles/', reportsPrefix: 'reports/drift/', windowMs: 60 * 60_000, minRows: 100, maxRows: 100_000, thresholds: {} };

class MemoryArtifacts {
  readonly objects = new Map<string, string>();
  uri(key: string): string {
    return `s3://artifacts/${key}`;
  }
  async getText(key: string): Promise<string | undefined> {
    return this.objects.get(key);
  }
  async putJson(key: string, value: unknown): Promise<string> {
    if (!this.objects.has(key)) this.objects.set(key, JSON.stringify(value));
    return this.uri(key);
  }
  async *list(prefix: string): AsyncIterable<string> {
    for (const k of [...this.objects.keys()].sort()) if (k.startsWith(prefix)) yield k;
  }
}

/** A capture file as the endpoint writes it, `minutesAgo` before NOW. */
function capture(artifacts: MemoryArtifacts, minutesAgo: number, model: string, rows: { education: number; p: number }[]): void {
  const t = new Date(NOW.getTime() - minutesAgo * 60_000).toISOString();
  const key = `captures/wages/${t.slice(0, 4)}/${t.slice(5, 7)}/${t.slice(8, 10)}/${t.slice(11, 13)}/${t.replace(/[-:.]/g, '')}-req${minutesAgo}.jsonl`;
  artifacts.objects.set(key, rows.map((r) => JSON.stringify({ education: r.education, __prediction: r.p, __model_version: model, __time: t })).join('\n') + '\n');
}

async function setup(): Promise<{ ledger: MemoryLedger; artifacts: MemoryArtifacts; deps: MonitorDeps }> {
  const ledger = new MemoryLedger();
  const artifacts = new MemoryArtifacts();
  const dsv = await ledger.append({ kind: 'DatasetVersion', id: 'dsv-train', subject: 'dataset/cps', data: { dataset: 'cps', bucket: 'data', key: 'data/cps/a.csv', versionId: '1', etag: 'e', sha256: 'a'.repeat(64), size: 1, contentType: 'text/csv', format: 'csv', status: 'accepted', source: { eventId: null, eventTime: null } } });
  const run = await ledger.append({ kind: 'TrainingRun', id: 'tr-1', subject: 'pipeline/cps', parents: [dsv.record.id], data: { pipeline: 'cps', executionId: 'x', datasetVersionIds: ['dsv-train'], image: { uri: 'img' }, hyperparameters: {}, instanceType: 'ml.m5.large', instanceCount: 1, status: 'succeeded' } });
  for (const id of ['mv-1', 'mv-2']) {
    await ledger.append({ kind: 'ModelVersion', id, subject: 'pipeline/cps', parents: [run.record.id], data: { pipeline: 'cps', trainingRunId: 'tr-1', artifact: { uri: 's3://a/m.onnx', sha256: 'b'.repeat(64) }, format: 'onnx', signature: { input: 'features', output: 'score', features: ['education'] }, metrics: { 'score:mean': 0.3 }, approval: { status: 'Approved' } } });
  }
  await ledger.append({ kind: 'Deployment', id: deterministicId('dp', 'wages', '1'), subject: 'endpoint/wages', parents: ['mv-1'], data: { endpoint: 'wages', modelVersionId: 'mv-1', strategy: 'x', reason: 'initial', status: 'succeeded' } });
  // the training data's profile, as the validation gate stores it: education 8..17 evenly
  const profile = new DatasetProfile('csv');
  for (let i = 0; i < 1000; i++) profile.addRecord({ education: 8 + (i % 10), wage: 5 });
  artifacts.objects.set('profiles/cps/dsv-train.json', JSON.stringify(profile.toJSON()));
  const deps: MonitorDeps = { ledger, artifacts, objects: { open: () => Promise.reject(new Error('the stored profile is used')), openFrom: () => Promise.reject(new Error('unused')), randomAccess: () => { throw new Error('unused'); } } as unknown as MonitorDeps['objects'], now: () => NOW };
  return { ledger, artifacts, deps };
}

const rows = (n: number, education: (i: number) => number, p: number) => Array.from({ length: n }, (_, i) => ({ education: education(i), p }));

describe('drift monitor', () => {
  it('reads the hour folders of the window and the compact time of each capture', () => {
    expect(hourPrefixes(new Date('2026-12-31T23:40:00Z'), new Date('2027-01-01T01:05:00Z'))).toEqual(['2026/12/31/23/', '2027/01/01/00/', '2027/01/01/01/']);
    expect(captureTime('captures/wages/2026/12/01/10/20261201T101500123Z-abc.jsonl')).toBe(Date.UTC(2026, 11, 1, 10, 15, 0, 123));
    expect(captureTime('captures/wages/2026/12/01/10/notes.txt')).toBeNaN();
  });

  it('compares the serving model rows of the window with its training data: shifted traffic drifts', async () => {
    const { artifacts, deps } = await setup();
    capture(artifacts, 10, 'mv-1', rows(150, (i) => 14 + (i % 4), 0.6)); // shifted up: 14..17
    capture(artifacts, 30, 'mv-1', rows(100, (i) => 12 + (i % 6), 0.6));
    capture(artifacts, 20, 'mv-2', rows(500, () => 8, 0.1)); // a canary's rows: another model's, left out
    capture(artifacts, 90, 'mv-1', rows(500, () => 8, 0.1)); // before the window
    const r = await monitorDrift(deps, SETTINGS);
    if (r.status === 'no-model') throw new Error(r.reason);
    expect(r).toMatchObject({ status: 'judged', modelVersionId: 'mv-1', captureObjects: 3 /* files read in the window, the canary's among them */, window: { from: '2026-12-01T09:20:00.000Z', to: '2026-12-01T10:20:00.000Z' } });
    expect(r.report.rows).toBe(250);
    expect(r.report.features[0]!.psi).toBeGreaterThan(1);
    expect(r.report.prediction).toMatchObject({ baselineMean: 0.3, drifted: true });
    expect(r.report.prediction.shift).toBeCloseTo(0.3, 12);
    // the report is stored, write-once, under the endpoint's folder
    expect(r.reportUri).toBe('s3://artifacts/reports/drift/wages/20261201T102000000Z.json');
    expect(JSON.parse(artifacts.objects.get('reports/drift/wages/20261201T102000000Z.json')!)).toMatchObject({ endpoint: 'wages', modelVersionId: 'mv-1', baseline: { datasetVersionId: 'dsv-train', rows: 1000 }, drifted: true });
    // the metrics the alarms read: per feature (pipeline, endpoint, feature), and the predictions
    const docs = driftMetricLines(r, 'cdk-mlops', 0).map((l) => JSON.parse(l) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] } });
    expect(docs.map((d) => [d._aws.CloudWatchMetrics[0]!.Dimensions, d._aws.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name)])).toEqual([
      [[['pipeline', 'endpoint']], ['CapturedRows', 'DriftedFeatures', 'PredictionDrift']],
      [[['pipeline', 'endpoint', 'feature']], ['FeaturePSI', 'FeatureJSDistance']],
    ]);
    expect(docs[0]).toMatchObject({ pipeline: 'cps', endpoint: 'wages', CapturedRows: 250, DriftedFeatures: 1 });
    expect(docs[1]).toMatchObject({ feature: 'education', FeaturePSI: r.report.features[0]!.psi });
  });

  it('traffic like the training data does not drift', async () => {
    const { artifacts, deps } = await setup();
    capture(artifacts, 5, 'mv-1', rows(400, (i) => 8 + (i % 10), 0.31));
    const r = await monitorDrift(deps, SETTINGS);
    if (r.status === 'no-model') throw new Error(r.reason);
    expect(r.report.drifted).toBe(false);
    expect(r.report.features[0]!.psi).toBeLessThan(0.01);
  });

  it('too few rows: only the row count is published; no model: nothing', async () => {
    const { artifacts, deps } = await setup();
    capture(artifacts, 5, 'mv-1', rows(20, () => 17, 0.9));
    const r = await monitorDrift(deps, SETTINGS);
    expect(r).toMatchObject({ status: 'too-few-rows', report: { judged: false, rows: 20 } });
    expect(driftMetricLines(r, 'ns').map((l) => Object.keys(JSON.parse(l) as object))).toEqual([['_aws', 'pipeline', 'endpoint', 'CapturedRows']]);
    const empty = new MemoryLedger();
    const none = await monitorDrift({ ...deps, ledger: empty }, SETTINGS);
    expect(none).toEqual({ status: 'no-model', endpoint: 'wages', reason: "no model is deployed to endpoint 'wages'" });
    expect(driftMetricLines(none, 'ns')).toEqual([]);
  });

  it('reads at most maxRows rows, the newest first', async () => {
    const { artifacts, deps } = await setup();
    capture(artifacts, 50, 'mv-1', rows(200, () => 8, 0.3));
    capture(artifacts, 2, 'mv-1', rows(200, () => 17, 0.3));
    const r = await monitorDrift(deps, { ...SETTINGS, maxRows: 150 });
    if (r.status === 'no-model') throw new Error(r.reason);
    expect(r.captureObjects).toBe(1);
    expect(r.report.rows).toBe(200);
  });
});

describe('drift monitor on SageMaker captures', () => {
  const SM: MonitorSettings = { ...SETTINGS, capturePrefix: 'captures/wages/wages/AllTraffic/', captureFormat: 'sagemaker' };

  /** A SageMaker capture file: one JSON line per invocation (CSV in, CSV out), in the hour folder of its first invocation. */
  function smCapture(artifacts: MemoryArtifacts, file: string, invocations: { minutesAgo: number; rows: { education: number; p: number }[] }[]): void {
    const first = new Date(NOW.getTime() - invocations[0]!.minutesAgo * 60_000).toISOString();
    const key = `captures/wages/wages/AllTraffic/${first.slice(0, 4)}/${first.slice(5, 7)}/${first.slice(8, 10)}/${first.slice(11, 13)}/${first.slice(14, 16)}-${first.slice(17, 19)}-000-${file}.jsonl`;
    const lines = invocations.map(({ minutesAgo, rows: rs }) =>
      JSON.stringify({
        captureData: {
          endpointInput: { observedContentType: 'text/csv', mode: 'INPUT', data: rs.map((r) => String(r.education)).join('\n'), encoding: 'CSV' },
          endpointOutput: { observedContentType: 'text/csv; charset=utf-8', mode: 'OUTPUT', data: rs.map((r) => String(r.p)).join('\n'), encoding: 'CSV' },
        },
        eventMetadata: { eventId: `${file}-${minutesAgo}`, inferenceTime: new Date(NOW.getTime() - minutesAgo * 60_000).toISOString() },
        eventVersion: '0',
      }),
    );
    artifacts.objects.set(key, lines.join('\n') + '\n');
  }

  it('the same traffic as SageMaker captured it gives the same report as the OnnxEndpoint captures', async () => {
    // Prepare: one traffic, written by each endpoint kind
    const traffic = [
      { minutesAgo: 10, rows: rows(150, (i) => 14 + (i % 4), 0.6) },
      { minutesAgo: 30, rows: rows(100, (i) => 12 + (i % 6), 0.55) },
    ];
    const onnx = await setup();
    for (const t of traffic) capture(onnx.artifacts, t.minutesAgo, 'mv-1', t.rows);
    const sm = await setup();
    smCapture(sm.artifacts, 'a', traffic);
    // Act
    const a = await monitorDrift(onnx.deps, SETTINGS);
    const b = await monitorDrift(sm.deps, SM);
    // Assess
    if (a.status === 'no-model' || b.status === 'no-model') throw new Error('no model');
    expect(b.report).toEqual(a.report);
    expect(b.report).toMatchObject({ rows: 250, judged: true, drifted: true });
    expect(b.invocations).toEqual({ read: 2, skipped: 0, unreadable: 0, unpairedScores: 0 });
    expect(b.captureObjects).toBe(1);
    expect(JSON.parse(sm.artifacts.objects.get('reports/drift/wages/20261201T102000000Z.json')!)).toMatchObject({ invocations: { read: 2 }, rows: 250 });
  });

  it('counts only what was invoked in the window since the serving Deployment; unreadable lines are counted with the first reason', async () => {
    // Prepare: mv-2 released at 10:00 (a Deployment recorded once the endpoint was InService on it)
    const { ledger, artifacts, deps } = await setup();
    ledger.records.push(buildRecord({ kind: 'Deployment', id: 'dp-2', subject: 'endpoint/wages', parents: ['mv-2'], data: { endpoint: 'wages', modelVersionId: 'mv-2', strategy: 'blue/green canary', reason: 'retrain', status: 'succeeded' } }, new Date('2026-12-01T10:00:00Z'), () => 'x'));
    smCapture(artifacts, 'new', [
      { minutesAgo: 5, rows: rows(120, (i) => 8 + (i % 10), 0.3) },
      { minutesAgo: 15, rows: rows(10, () => 9, 0.3) },
    ]);
    smCapture(artifacts, 'old', [
      { minutesAgo: 25, rows: rows(300, () => 17, 0.9) }, // 09:55: mv-1 still served (or both fleets did)
      { minutesAgo: 90, rows: rows(300, () => 17, 0.9) }, // before the window
    ]);
    artifacts.objects.set('captures/wages/wages/AllTraffic/2026/12/01/10/12-00-000-bad.jsonl', '{"captureData": {"endpointInput": {"observedContentType": "image/png", "data": "AA==", "encoding": "BASE64"}}, "eventMetadata": {"inferenceTime": "2026-12-01T10:12:00Z"}}\n');
    // Act
    const r = await monitorDrift(deps, SM);
    // Assess
    if (r.status === 'no-model') throw new Error(r.reason);
    expect(r.modelVersionId).toBe('mv-2');
    expect(r.report.rows).toBe(130);
    expect(r.report.drifted).toBe(false);
    expect(r.captureObjects).toBe(2); // the 10:xx folder only: the 09:xx one is before the Deployment
    expect(r.invocations).toEqual({ read: 2, skipped: 0, unreadable: 1, firstProblem: "captures/wages/wages/AllTraffic/2026/12/01/10/12-00-000-bad.jsonl line 1: the request is 'image/png', neither CSV nor JSON", unpairedScores: 0 });
  });

  it('an Inferentia endpoint serving a Neo-compiled model: the inputs are those of the model it was compiled from', async () => {
    // Prepare: mv-neo (compiled from mv-1, no signature of its own) released at 10:00
    const { ledger, artifacts, deps } = await setup();
    await ledger.append({ kind: 'ModelVersion', id: 'mv-neo', subject: 'pipeline/cps', parents: ['mv-1'], data: { pipeline: 'cps', trainingRunId: 'tr-1', artifact: { uri: 's3://a/compiled.tar.gz', sha256: 'd'.repeat(64) }, format: 'neo:ml_inf2', metrics: { 'score:mean': 0.3 }, approval: { status: 'Approved', by: 'derived from mv-1' } } });
    ledger.records.push(buildRecord({ kind: 'Deployment', id: 'dp-neo', subject: 'endpoint/wages', parents: ['mv-neo'], data: { endpoint: 'wages', modelVersionId: 'mv-neo', strategy: 'blue/green canary', reason: 'retrain', status: 'succeeded' } }, new Date('2026-12-01T10:00:00Z'), () => 'x'));
    smCapture(artifacts, 'neo', [{ minutesAgo: 5, rows: rows(150, (i) => 14 + (i % 4), 0.6) }]);
    // Act
    const r = await monitorDrift(deps, SM);
    // Assess
    if (r.status === 'no-model') throw new Error(r.reason);
    expect(r).toMatchObject({ modelVersionId: 'mv-neo', status: 'judged', report: { rows: 150, drifted: true, features: [{ feature: 'education', drifted: true }] } });
  });

  it('invocations in an hour folder but outside the window are skipped; at most maxRows rows, the newest files first', async () => {
    const { artifacts, deps } = await setup();
    // 09:20:30 is in the window's first hour folder; 09:19 (61 minutes ago) is in the same folder but before the window
    smCapture(artifacts, 'a', [{ minutesAgo: 61, rows: rows(50, () => 17, 0.9) }, { minutesAgo: 59.5, rows: rows(100, () => 8, 0.3) }]);
    const r = await monitorDrift(deps, SM);
    if (r.status === 'no-model') throw new Error(r.reason);
    expect(r.invocations).toMatchObject({ read: 1, skipped: 1 });
    expect(r.report.rows).toBe(100);

    smCapture(artifacts, 'b', [{ minutesAgo: 2, rows: rows(200, () => 17, 0.3) }]);
    const capped = await monitorDrift(deps, { ...SM, maxRows: 150 });
    if (capped.status === 'no-model') throw new Error(capped.reason);
    expect(capped.captureObjects).toBe(1);
    expect(capped.report.rows).toBe(200);
  });
});
