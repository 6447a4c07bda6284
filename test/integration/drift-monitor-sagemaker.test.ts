import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logicalIdByPath } from '../../bin/local/cloud-assembly';
import { uploadWithEvent } from '../../bin/local/s3-events';
import { cpsCsv, cpsRows } from '../../bin/local/sample-data';
import { deterministicId } from '../../lambdas/core/lineage';
import type { IngestOutcome } from '../../lambdas/ingest/ingest';
import type { MonitorResult } from '../../lambdas/drift-monitor/monitor';
import { startLocal, type LocalEnvironment } from '../helpers/local';

/*
 * The bundled drift monitor from cdk.out over SageMaker's data capture, on
 * s3rver + dynalite: run with the environment a DriftMonitor gives it for a
 * SageMakerEndpoint (CAPTURE_FORMAT sagemaker, the <endpoint>/<variant>/
 * prefix). The training data is a real ingested DatasetVersion (the CPS
 * wages), profiled by the monitor itself; the captures are JSON lines as
 * SageMaker writes them, CSV and JSON requests mixed.
 */

const ENDPOINT = 'wages-sm';
const PREFIX = `captures/${ENDPOINT}/${ENDPOINT}/AllTraffic/`;
const ROWS = cpsRows();
let env: LocalEnvironment;
let monitorId: string;
let modelVersionId: string;

const runMonitor = () => env.stack.invoke(monitorId, {}, { extraEnv: { ENDPOINT_NAME: ENDPOINT, CAPTURE_PREFIX: PREFIX, CAPTURE_FORMAT: 'sagemaker', WINDOW_MINUTES: '60', MIN_ROWS: '100' } }) as Promise<MonitorResult>;
const tick = () => new Promise((r) => setTimeout(r, 5));

/** One capture file of invocations, in the hour folder SageMaker would put it in (its first invocation's). */
async function putCapture(name: string, invocations: { at: Date; body: { contentType: string; data: string }; scores: number[] }[]): Promise<void> {
  const first = invocations[0]!.at.toISOString();
  const key = `${PREFIX}${first.slice(0, 4)}/${first.slice(5, 7)}/${first.slice(8, 10)}/${first.slice(11, 13)}/${first.slice(14, 16)}-${first.slice(17, 19)}-${first.slice(20, 23)}-${name}.jsonl`;
  const lines = invocations.map((inv, i) =>
    JSON.stringify({
      captureData: {
        endpointInput: { observedContentType: inv.body.contentType, mode: 'INPUT', data: inv.body.data, encoding: inv.body.contentType === 'text/csv' ? 'CSV' : 'JSON' },
        endpointOutput: { observedContentType: 'text/csv; charset=utf-8', mode: 'OUTPUT', data: inv.scores.join('\n'), encoding: 'CSV' },
      },
      eventMetadata: { eventId: `${name}-${i}`, inferenceTime: inv.at.toISOString() },
      eventVersion: '0',
    }),
  );
  await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: key, Body: lines.join('\n') + '\n' }));
}

/** Requests of CPS rows as CSV (education,experience), or as SageMaker JSON instances. */
const csvBody = (rows: typeof ROWS) => ({ contentType: 'text/csv', data: rows.map((r) => `${r.education},${r.experience}`).join('\n') });
const jsonBody = (rows: typeof ROWS) => ({ contentType: 'application/json', data: JSON.stringify({ instances: rows.map((r) => [r.education, r.experience]) }) });
const deploy = (n: number) => env.ledger().append({ kind: 'Deployment', id: deterministicId('dp', ENDPOINT, String(n)), subject: `endpoint/${ENDPOINT}`, parents: [modelVersionId], data: { endpoint: ENDPOINT, modelVersionId, strategy: 'blue/green canary 10%', reason: n === 1 ? 'initial' : 'manual', status: 'succeeded', deploymentId: `${ENDPOINT}-config-${n}` } });

beforeAll(async () => {
  env = await startLocal({ bundle: true });
  monitorId = logicalIdByPath(env.stack.template, 'CdkMlops/DriftMonitor/Function/Resource');
  // the training data: the CPS wages, ingested through the template's rule
  const event = await uploadWithEvent(env.s3, { Bucket: env.dataBucket, Key: 'data/wages-sm/cps.csv', Body: cpsCsv() });
  const dsv = (await env.stack.putEvent(event))[0]!.result as IngestOutcome;
  const ledger = env.ledger();
  const run = await ledger.append({ kind: 'TrainingRun', id: deterministicId('tr', 'sm-test'), subject: 'pipeline/sm', parents: [dsv.recordId], data: { pipeline: 'sm', executionId: 'sm', datasetVersionIds: [dsv.recordId], image: { uri: 'xgboost' }, hyperparameters: {}, instanceType: 'ml.m5.xlarge', instanceCount: 1, status: 'succeeded' } });
  const mv = await ledger.append({ kind: 'ModelVersion', id: deterministicId('mv', 'sm-test'), subject: 'pipeline/sm', parents: [run.record.id], data: { pipeline: 'sm', trainingRunId: run.record.id, artifact: { uri: `s3://${env.artifactsBucket}/training/sm/model.tar.gz`, sha256: 'c'.repeat(64) }, format: 'xgboost', signature: { input: 'features', output: 'score', features: ['education', 'experience'] }, metrics: { 'score:mean': 0.4 }, approval: { status: 'Approved' } } });
  modelVersionId = mv.record.id;
}, 240_000);
afterAll(async () => env?.stop());

describe('DriftMonitor over SageMaker data capture (bundled, on s3rver + dynalite)', () => {
  it('no Deployment recorded for the endpoint: nothing to monitor', async () => {
    expect(await runMonitor()).toMatchObject({ status: 'no-model', reason: `no model is deployed to endpoint '${ENDPOINT}'` });
  });

  it('traffic like the training data, CSV and JSON requests, does not drift; invocations from before the Deployment are left out', async () => {
    // Prepare: invocations before the Deployment (another model's, all with 18 years of education), then the release
    await putCapture('before', [{ at: new Date(Date.now() - 60_000), body: csvBody(ROWS.slice(0, 50).map((r) => ({ ...r, education: 18 }))), scores: Array(50).fill(0.99) }]);
    await deploy(1);
    await tick();
    // the CPS rows themselves: a CSV batch, then a JSON batch
    await putCapture('like', [
      { at: new Date(), body: csvBody(ROWS.slice(0, 300)), scores: Array(300).fill(0.4) },
      { at: new Date(Date.now() + 1), body: jsonBody(ROWS.slice(300)), scores: Array(ROWS.length - 300).fill(0.42) },
    ]);
    await tick();
    // Act
    const r = await runMonitor();
    // Assess
    if (r.status === 'no-model') throw new Error(r.reason);
    expect(r).toMatchObject({ status: 'judged', modelVersionId, invocations: { read: 2, skipped: 1, unreadable: 0, unpairedScores: 0 } });
    expect(r.report.rows).toBe(ROWS.length);
    expect(r.report.drifted).toBe(false);
    for (const f of r.report.features) expect(f.psi).toBeLessThan(0.001); // the very rows of the training data
    expect(r.report.prediction.shift).toBeCloseTo(Math.abs((0.4 * 300 + 0.42 * (ROWS.length - 300)) / ROWS.length - 0.4), 12);
    // the monitor profiled the training data itself and stored the profile for the next run
    const dsvId = (await env.ledger().get((await env.ledger().get(modelVersionId))!.parents[0]!))!.parents[0]!;
    const stored = await env.s3.send(new GetObjectCommand({ Bucket: env.artifactsBucket, Key: `profiles/wages-sm/${dsvId}.json` }));
    expect(JSON.parse(await stored.Body!.transformToString())).toMatchObject({ rows: ROWS.length });
    const report = await env.s3.send(new GetObjectCommand({ Bucket: env.artifactsBucket, Key: r.reportUri.replace(`s3://${env.artifactsBucket}/`, '') }));
    expect(JSON.parse(await report.Body!.transformToString())).toMatchObject({ endpoint: ENDPOINT, modelVersionId, invocations: { read: 2, skipped: 1 }, drifted: false });
  });

  it('after a new Deployment, shifted traffic drifts on the shifted feature only; an unreadable line is counted with its reason', async () => {
    // Prepare: a new release; the CPS rows with 6 more years of education each
    await deploy(2);
    await tick();
    await putCapture('shifted', [
      { at: new Date(), body: jsonBody(ROWS.map((r) => ({ ...r, education: r.education + 6 }))), scores: Array(ROWS.length).fill(0.4) },
      { at: new Date(Date.now() + 1), body: { contentType: 'text/csv', data: '12' }, scores: [0.4] },
    ]);
    await tick();
    // Act
    const r = await runMonitor();
    // Assess
    if (r.status === 'no-model') throw new Error(r.reason);
    expect(r.invocations).toMatchObject({ read: 1, skipped: 3, unreadable: 1 });
    expect(r.invocations!.firstProblem).toMatch(/-shifted\.jsonl line 2: request row 1 has 1 fields; the model has 2 features \(education, experience\)$/);
    expect(r.report.rows).toBe(ROWS.length);
    const [education, experience] = r.report.features;
    expect(education).toMatchObject({ feature: 'education', drifted: true });
    expect(education!.psi).toBeGreaterThan(1);
    expect(experience).toMatchObject({ feature: 'experience', drifted: false, psi: expect.closeTo(0, 6) });
    expect(r.report.drifted).toBe(true);
  });
});
