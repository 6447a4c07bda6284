import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logicalIdByPath } from '../../bin/local/cloud-assembly';
import type { LocalDeployment } from '../../bin/local/codedeploy';
import { cpsRows } from '../../bin/local/sample-data';
import type { LocalServing } from '../../bin/local/serving';
import { runStateMachine } from '../../bin/local/state-machine';
import { deterministicId } from '../../lambdas/core/lineage';
import { startLocal, type LocalEnvironment } from '../helpers/local';
import { rng } from '../helpers/random';
import { recordTestModel, referenceScore, type RecordedTestModel } from '../helpers/models';

/*
 * Releases to the reference app's ONNX endpoint, from cdk.out: the release
 * state machine runs the bundled deployer, which calls the Lambda and
 * CodeDeploy APIs (local stand-ins); CodeDeploy shifts the live alias by the
 * deployment group's canary while real HTTP requests reach the bundled
 * inference handler through the Function URL server, and evaluates the
 * group's alarms (the template's definitions) on what that traffic emitted.
 */

let env: LocalEnvironment;
let serving: LocalServing;
let url: string;
const ids = { endpoint: '', release: '', deployer: '', shiftAlarm: '', errorAlarm: '' };
/** What each canary interval does besides the traffic (set per test). */
let duringCanary: (d: LocalDeployment) => Promise<void> | void = () => undefined;
const GENDER = { female: 1, male: 0 };
const ROWS = cpsRows();

async function traffic(requests: number, rowsPerRequest = 5): Promise<{ status: number; version: string | null; modelVersionId: string | null }[]> {
  const out = [];
  for (let i = 0; i < requests; i++) {
    const rows = Array.from({ length: rowsPerRequest }, (_, j) => ROWS[(i * rowsPerRequest + j) % ROWS.length]!).map((r) => ({ education: r.education, experience: r.experience, gender: r.gender }));
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows }) });
    out.push({ status: res.status, version: res.headers.get('x-local-executed-version'), modelVersionId: res.headers.get('x-model-version-id') });
  }
  return out;
}

async function approved(name: string, extra: Record<string, number> = {}): Promise<RecordedTestModel> {
  const m = await recordTestModel(env, { name, features: ['education', 'experience', { column: 'gender', categories: GENDER }] });
  let model = m.model;
  if (Object.keys(extra).length > 0) {
    // a ModelVersion recorded with other training metrics (the same bytes): a train/serve skew
    model = (await env.ledger().append({ kind: 'ModelVersion', id: deterministicId('mv', 'test', name, 'skewed'), subject: 'pipeline/test', parents: m.model.parents, data: { ...m.model.data, metrics: { ...m.model.data.metrics, ...extra } } })).record;
  }
  await env.ledger().append({ kind: 'GateReport', id: deterministicId('gr', 'approval', model.id), subject: 'dataset/cps-wages', parents: [model.id], data: { gate: 'approval', passed: true, metrics: {}, thresholds: {}, reasons: ['approved by test'] } });
  return { ...m, model };
}

const release = (modelVersionId: string) => runStateMachine(env.stack, ids.release, { modelVersionId }, { name: `release-${modelVersionId}` });
const history = async () => env.ledger().history('endpoint/cps-wages');

beforeAll(async () => {
  env = await startLocal({
    bundle: true,
    serving: {
      random: rng(5), // which version a request reaches during a canary
      traffic: async (d) => {
        await traffic(100, 20);
        await duringCanary(d);
      },
    },
  });
  serving = env.serving;
  ids.endpoint = logicalIdByPath(env.stack.template, 'CdkMlops/Endpoint/Function/Resource');
  ids.release = logicalIdByPath(env.stack.template, 'CdkMlops/Endpoint/ReleaseStateMachine/Resource');
  ids.deployer = logicalIdByPath(env.stack.template, 'CdkMlops/Endpoint/Deployer/Resource');
  ids.shiftAlarm = logicalIdByPath(env.stack.template, 'CdkMlops/Endpoint/PredictionShiftAlarm/Resource');
  ids.errorAlarm = logicalIdByPath(env.stack.template, 'CdkMlops/Endpoint/ErrorRateAlarm/Resource');
  url = await serving.serve(ids.endpoint);
  await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: 'contracts/cps-wages.yaml', Body: 'version: 1\ncolumns:\n  education: { type: integer, min: 0, max: 30 }\n' }));
}, 240_000);
afterAll(async () => env?.stop());

describe('OnnxEndpoint releases, locally from cdk.out', () => {
  let v1: RecordedTestModel;

  it('answers 503 before any model is released', async () => {
    const [r] = await traffic(1);
    expect(r).toMatchObject({ status: 503, version: '1' });
  });

  it('releases v1 (the first model goes live at once), then serves it over HTTP with its predictions', async () => {
    v1 = await approved('v1');
    const run = await release(v1.model.id);
    expect((run.output as any).releaseStatus).toMatchObject({ done: true, succeeded: true, status: 'Succeeded' });
    const [d] = serving.codedeploy.deployments;
    expect(d).toMatchObject({ deploymentConfigName: 'CodeDeployDefault.LambdaAllAtOnce', currentVersion: '1', targetVersion: '2', status: 'Succeeded' });
    // a real request through the Function URL server: the bundled handler, the model pinned on version 2
    const row = ROWS[7]!;
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows: [{ education: row.education, experience: row.experience, gender: row.gender }] }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-local-executed-version')).toBe('2');
    const body = (await res.json()) as { modelVersionId: string; predictions: number[] };
    expect(body.modelVersionId).toBe(v1.model.id);
    expect(body.predictions[0]).toBeCloseTo(referenceScore(v1.trained, [row.education, row.experience, GENDER[row.gender as 'female']]), 5);
    // bad input gets its field-level 400 from the same handler; the contract applies
    const bad = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows: [{ education: 40, experience: 1, gender: 'male' }] }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ errors: [{ field: 'rows[0].education', message: "40 is above the contract's max 30" }] });
    // version 2 pins the model, its artifact and the contract the release fixed (read by its cold start in one request)
    const pins = serving.lambda.getConfiguration(ids.endpoint, '2').Environment.Variables;
    expect(pins).toMatchObject({ MODEL_VERSION_ID: v1.model.id, MODEL_ARTIFACT_URI: v1.model.data.artifact.uri, MODEL_CONTRACT_KEY: expect.stringMatching(/^releases\/cps-wages\/contracts\/[0-9a-f]{64}\.json$/) });
    const fixed = await (await env.s3.send(new GetObjectCommand({ Bucket: env.artifactsBucket, Key: pins.MODEL_CONTRACT_KEY }))).Body!.transformToString();
    expect(JSON.parse(fixed)).toEqual({ dataset: 'cps-wages', contract: { version: 1, columns: { education: { type: 'integer', min: 0, max: 30 } } } });
    const [deployment] = await history();
    // the Deployment records that contract and the artifact too: a version `cdk deploy` publishes (no pins) reads them there
    expect(deployment).toMatchObject({ kind: 'Deployment', parents: [v1.model.id], data: { modelVersionId: v1.model.id, status: 'succeeded', reason: 'initial', functionVersion: '2', strategy: 'codedeploy:CodeDeployDefault.LambdaAllAtOnce', contractKey: pins.MODEL_CONTRACT_KEY, modelArtifact: { uri: v1.model.data.artifact.uri } } });
  }, 120_000);

  it("v2's canary trips its forced health alarm: CodeDeploy rolls back to v1; the ledger has both Deployments and the Incident", async () => {
    const v2 = await approved('v2');
    const split: (string | null)[] = [];
    duringCanary = async () => {
      // while the alias is split 90/10, requests reach both versions; then the alarm is forced (SetAlarmState)
      split.push(...(await traffic(60, 1)).map((r) => r.version));
      serving.cloudwatch.setAlarmState(ids.shiftAlarm, 'ALARM', 'forced by the test');
    };
    const err = (await release(v2.model.id).catch((e: unknown) => e)) as Error & { cause?: Error };
    duringCanary = () => undefined;
    serving.cloudwatch.clearForced();
    // the release state machine ends in 'Rolled back' with the reason
    expect(err.cause).toMatchObject({ name: 'Stopped', message: expect.stringMatching(new RegExp(`^release of model ${v2.model.id} to cps-wages rolled back to version 2 \\(model ${v1.model.id}\\): One or more alarms have been activated.*${ids.shiftAlarm}`)) });
    expect(new Set(split)).toEqual(new Set(['2', '3'])); // the canary really split the traffic
    const d = serving.codedeploy.deployments.at(-1)!;
    expect(d).toMatchObject({ deploymentConfigName: 'CodeDeployDefault.LambdaCanary10Percent5Minutes', steps: [0.1, 1], currentVersion: '2', targetVersion: '3', status: 'Stopped' });
    // what serves now is v1 again
    expect(serving.lambda.getAlias(ids.endpoint, 'live')).toEqual(expect.objectContaining({ FunctionVersion: '2' }));
    expect((await traffic(5)).every((r) => r.status === 200 && r.modelVersionId === v1.model.id)).toBe(true);
    // the ledger: v1's Deployment, v2's rolled-back Deployment, the rollback Incident
    const records = await history();
    expect(records.map((r) => [r.kind, (r.data as { modelVersionId?: string }).modelVersionId ?? null, (r.data as { status?: string; type?: string }).status ?? (r.data as { type?: string }).type])).toEqual([
      ['Deployment', v1.model.id, 'succeeded'],
      ['Deployment', v2.model.id, 'rolled-back'],
      ['Incident', null, 'rollback'],
    ]);
    // released through the endpoint's release state machine: an operator's release
    expect(records[1]).toMatchObject({ data: { previousModelVersionId: v1.model.id, reason: 'manual', functionVersion: '3', detail: expect.stringContaining('Activated alarms') } });
    expect(records[2]).toMatchObject({ parents: [records[1]!.id, v2.model.id], data: { endpoint: 'cps-wages', details: { errorCode: 'ALARM_ACTIVE', fromVersion: '3', toVersion: '2' } } });
    for (const r of await env.ledger().verifyAll()) expect(r, r.chain).toMatchObject({ ok: true });
  }, 120_000);

  it('a model whose live predictions drift from its training mean trips the prediction-shift alarm from real metrics', async () => {
    // the same weights, recorded with a training mean score of 0.97: live predictions are far below it
    const skewed = await approved('v3-skewed', { 'score:mean': 0.97 });
    const err = (await release(skewed.model.id).catch((e: unknown) => e)) as Error & { cause?: Error };
    expect(err.cause?.message).toMatch(/rolled back to version 2/);
    const d = serving.codedeploy.deployments.at(-1)!;
    const shift = d.evaluations[0]!.find((e) => e.alarmId === ids.shiftAlarm)!;
    expect(shift.state).toBe('ALARM');
    expect(shift.value).toBeGreaterThan(0.25); // Average of PredictionShift, from the handler's EMF lines
    expect(d.evaluations[0]!.find((e) => e.alarmId === ids.errorAlarm)).toMatchObject({ state: 'OK', value: 0 });
    expect(serving.lambda.getAlias(ids.endpoint, 'live').FunctionVersion).toBe('2');
  }, 120_000);

  it('a healthy v4 goes live through the canary; then the rollback task returns to v1 at once, with an Incident', async () => {
    const v4 = await approved('v4', { 'train:accuracy': 0.99 });
    const run = await release(v4.model.id);
    expect((run.output as any).releaseStatus).toMatchObject({ succeeded: true, status: 'Succeeded' });
    const d = serving.codedeploy.deployments.at(-1)!;
    expect(d.evaluations[0]!.every((e) => e.state === 'OK')).toBe(true);
    expect((await traffic(3)).every((r) => r.modelVersionId === v4.model.id)).toBe(true);
    // a health alarm after the release: the rollback operation (issue 6 wires the alarm to it)
    const rolled = (await env.stack.invoke(ids.deployer, { operation: 'rollback', reason: 'health alarm: error rate 12% after the release' })) as { modelVersionId: string; functionVersion: string; incidentId: string };
    expect(rolled).toMatchObject({ modelVersionId: v1.model.id, functionVersion: '2' });
    expect((await traffic(3)).every((r) => r.modelVersionId === v1.model.id)).toBe(true);
    const last = (await history()).slice(-3);
    expect(last.map((r) => r.kind)).toEqual(['Deployment', 'Incident', 'Deployment']);
    expect(last[1]).toMatchObject({ data: { type: 'rollback', reason: `rolled back cps-wages from model ${v4.model.id} to ${v1.model.id}: health alarm: error rate 12% after the release` } });
    // the rollback's Deployment names what version 2 pins: v1's artifact and the contract its release fixed
    const v1Pins = serving.lambda.getConfiguration(ids.endpoint, '2').Environment.Variables;
    expect(last[2]).toMatchObject({ data: { modelVersionId: v1.model.id, reason: 'rollback', strategy: 'alias-revert', status: 'succeeded', contractKey: v1Pins.MODEL_CONTRACT_KEY, modelArtifact: { uri: v1Pins.MODEL_ARTIFACT_URI } } });
  }, 120_000);

  it('refuses to release a model that is not approved, or whose bytes were altered', async () => {
    const unapproved = await recordTestModel(env, { name: 'unapproved', features: ['education'] });
    const err = (await release(unapproved.model.id).catch((e: unknown) => e)) as Error & { cause?: Error };
    expect(err.cause).toMatchObject({ name: 'ReleaseRefusedError', message: expect.stringMatching(/is not approved \(no approval GateReport in the ledger\)/) });
    const altered = await approved('altered');
    await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: altered.key, Body: new Uint8Array([1, 2, 3]) }));
    const err2 = (await release(altered.model.id).catch((e: unknown) => e)) as Error & { cause?: Error };
    expect(err2.cause?.message).toMatch(/has SHA-256 [0-9a-f]{64}, but the ledger recorded/);
  }, 120_000);

  it("a container whose model file was replaced answers 503, and the template's integrity and error-rate alarms fire on what it emitted", async () => {
    // Prepare: a version pinned to an approved model whose file is then replaced (the release check would refuse it)
    const victim = await approved('replaced-later');
    // (another model's bytes: the same training gives the same bytes, so use one on other features)
    const other = await recordTestModel(env, { name: 'other-features', features: ['age'] });
    await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: victim.key, Body: other.trained.onnx }));
    const latest = serving.lambda.getConfiguration(ids.endpoint);
    serving.lambda.updateConfiguration(ids.endpoint, { ...latest.Environment.Variables, MODEL_VERSION_ID: victim.model.id }, latest.RevisionId);
    const { Version } = serving.lambda.publishVersion(ids.endpoint);
    serving.lambda.updateAlias(ids.endpoint, 'live', Version, {});
    const since = Date.now();
    // Act
    const answers = await traffic(5);
    // Assess
    expect(answers).toEqual(Array.from({ length: 5 }, () => ({ status: 503, version: Version, modelVersionId: null })));
    const integrity = serving.cloudwatch.evaluate(logicalIdByPath(env.stack.template, 'CdkMlops/Endpoint/IntegrityAlarm/Resource'), since);
    expect(integrity).toMatchObject({ state: 'ALARM', value: 5 });
    expect(serving.cloudwatch.evaluate(ids.errorAlarm, since)).toMatchObject({ state: 'ALARM', value: 1 }); // 5 of 5 requests failed
  }, 120_000);
});
