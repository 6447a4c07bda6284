import { CreateDeploymentCommand, CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { GetAliasCommand, GetFunctionConfigurationCommand, LambdaClient, PublishVersionCommand, UpdateAliasCommand, UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { createHash } from 'node:crypto';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { LedgerRecord } from '../../lambdas/core/lineage';
import { release, rollbackOnAlarm, type ReleaseConfig, type ReleaseDeps } from '../../lambdas/endpoint-deployer/release';
import { parseDriftTrigger, parseImagePush, startForDrift, startForImagePush, startForWaitingDrift, waitingDrift, type DriftStarterDeps } from '../../lambdas/pipeline-starter/start';
import { MemoryLedger } from '../helpers/memory-ledger';

/*
 * What the alarms' EventBridge rules reach: the pipeline starter on a drift
 * alarm (a drift Incident, one retraining on the newest data, never two in
 * flight) and the deployer on a health alarm (a rollback only right after a
 * finished release). In-memory ledger; Lambda's client mocked (no emulator).
 */

const ARN = 'arn:aws:states:us-east-1:1:stateMachine:pipeline';
const TRIGGER = { endpoint: 'wages', alarmName: 'DriftAlarm', time: '2026-12-01T10:00:00Z', reason: 'education drifted' };

async function dataset(ledger: MemoryLedger, id: string, status: 'accepted' | 'rejected' = 'accepted'): Promise<void> {
  await ledger.append({ kind: 'DatasetVersion', id, subject: 'dataset/cps', data: { dataset: 'cps', bucket: 'b', key: `data/cps/${id}.csv`, versionId: '1', etag: 'e', sha256: 'a'.repeat(64), size: 1, contentType: null, format: 'csv', status, source: { eventId: null, eventTime: null } } });
}

async function served(ledger: MemoryLedger, model: string, trainedOn: string, extra: { functionVersion?: string } = {}): Promise<LedgerRecord> {
  await ledger.append({ kind: 'TrainingRun', id: `tr-${model}`, subject: 'pipeline/cps', parents: [trainedOn], data: { pipeline: 'cps', executionId: 'x', datasetVersionIds: [trainedOn], image: { uri: 'i' }, hyperparameters: {}, instanceType: 'ml.m5.large', instanceCount: 1, status: 'succeeded' } });
  await ledger.append({ kind: 'ModelVersion', id: model, subject: 'pipeline/cps', parents: [`tr-${model}`], data: { pipeline: 'cps', trainingRunId: `tr-${model}`, artifact: { uri: 's3://a/m.onnx', sha256: 'f'.repeat(64) }, format: 'onnx', signature: { input: 'features', output: 'score', features: ['education'] }, metrics: {}, approval: { status: 'Approved' } } });
  return (await ledger.append({ kind: 'Deployment', id: `dp-${model}`, subject: 'endpoint/wages', parents: [model], data: { endpoint: 'wages', modelVersionId: model, strategy: 'x', reason: 'initial', status: 'succeeded', ...extra } })).record;
}

describe('retraining on a drift alarm (pipeline starter)', () => {
  let ledger: MemoryLedger;
  let started: { name: string; input: unknown }[];
  let running: string[];
  let deps: DriftStarterDeps;
  beforeEach(() => {
    ledger = new MemoryLedger();
    started = [];
    running = [];
    deps = {
      ledger,
      starter: {
        async start(input) {
          if (started.some((s) => s.name === input.name)) return 'exists';
          started.push({ name: input.name, input: JSON.parse(input.input) });
          return 'started';
        },
      },
      running: async () => running,
    };
  });
  const settings = { stateMachineArn: ARN, pipeline: 'cps' };

  it('records the drift Incident, then retrains on the newest accepted data', async () => {
    await dataset(ledger, 'dsv-old');
    const serving = await served(ledger, 'mv-1', 'dsv-old');
    await dataset(ledger, 'dsv-new');
    await dataset(ledger, 'dsv-bad', 'rejected');
    const out = await startForDrift(TRIGGER, deps, settings);
    expect(out).toMatchObject({ decision: { action: 'start', datasetVersionId: 'dsv-new', executionName: 'dsv-new' }, start: 'started' });
    const incident = (await ledger.get(out.incidentId!))!;
    expect(incident).toMatchObject({ kind: 'Incident', subject: 'endpoint/wages', parents: [serving.id, 'mv-1'], data: { type: 'drift', reason: 'drift on wages (model mv-1): education drifted', endpoint: 'wages', pipeline: 'cps', details: { alarmName: 'DriftAlarm', trainedOn: 'dsv-old', retraining: { action: 'start', datasetVersionId: 'dsv-new' } } } });
    // the execution is named as an upload of that version would name it, and carries the Incident
    expect(started).toEqual([{ name: 'dsv-new', input: { datasetVersionId: 'dsv-new', trigger: { type: 'drift', incidentId: incident.id } } }]);
    // the same event delivered again: the same Incident, and the name is taken
    const again = await startForDrift(TRIGGER, deps, settings);
    expect(again).toMatchObject({ incidentId: incident.id, start: 'exists' });
    expect(ledger.records.filter((r) => r.kind === 'Incident')).toHaveLength(1);
  });

  it('starts nothing while a retraining is in flight, or when no newer data exists — and says so in the Incident', async () => {
    await dataset(ledger, 'dsv-old');
    await served(ledger, 'mv-1', 'dsv-old');
    const none = await startForDrift(TRIGGER, deps, settings);
    expect(none.decision).toEqual({ action: 'none', why: 'no-new-data', detail: "no accepted data of 'cps' newer than dsv-old, which model mv-1 was trained on: retraining waits for new data" });
    await dataset(ledger, 'dsv-new');
    running = ['dsv-new'];
    const busy = await startForDrift({ ...TRIGGER, time: '2026-12-01T11:00:00Z' }, deps, settings);
    expect(busy.decision).toEqual({ action: 'none', why: 'in-flight', detail: 'retraining already in flight: dsv-new' });
    expect(started).toEqual([]);
    expect(ledger.records.filter((r) => r.kind === 'Incident').map((r) => (r.data as unknown as { details: { retraining: { why?: string } } }).details.retraining.why)).toEqual(['no-new-data', 'in-flight']);
  });

  it('a drift waiting for data retrains on the next upload of that dataset, with the drift as its trigger', async () => {
    await dataset(ledger, 'dsv-old');
    await served(ledger, 'mv-1', 'dsv-old');
    const drift = await startForDrift(TRIGGER, deps, settings);
    expect(drift.decision).toMatchObject({ why: 'no-new-data' });
    const upload = (key: string) => ({ 'detail-type': 'Object Created', source: 'aws.s3', time: '2026-12-01T12:00:00Z', id: 'e1', detail: { bucket: { name: 'data' }, object: { key, size: 10, etag: 'abc', 'version-id': 'v1', sequencer: '1' } } });
    const waitSettings = { stateMachineArn: ARN, dataPrefix: 'data/', endpoints: ['wages'] };
    // another dataset's upload: nothing
    expect(await startForWaitingDrift(upload('data/other/x.csv'), deps, waitSettings)).toMatchObject({ started: false, reason: "no drift of wages waits for data of 'other'" });
    // in flight: nothing yet
    running = ['dsv-other'];
    expect(await startForWaitingDrift(upload('data/cps/new.csv'), deps, waitSettings)).toMatchObject({ started: false, incidentId: drift.incidentId, reason: 'retraining already in flight: dsv-other' });
    running = [];
    const out = await startForWaitingDrift(upload('data/cps/new.csv'), deps, waitSettings);
    expect(out).toMatchObject({ started: true, duplicate: false, incidentId: drift.incidentId, executionName: out.datasetVersionId });
    expect(started).toEqual([{ name: out.datasetVersionId, input: { datasetVersionId: out.datasetVersionId, trigger: { type: 'drift', incidentId: drift.incidentId } } }]);
    // once a release followed the drift, uploads no longer retrain through it
    await ledger.append({ kind: 'Deployment', id: 'dp-after', subject: 'endpoint/wages', parents: ['mv-1'], data: { endpoint: 'wages', modelVersionId: 'mv-1', strategy: 'x', reason: 'retrain', status: 'succeeded' } });
    expect(waitingDrift(await ledger.history('endpoint/wages'))).toBeUndefined();
    expect(await startForWaitingDrift(upload('data/cps/newer.csv'), deps, waitSettings)).toMatchObject({ started: false });
  });

  it('does nothing for an endpoint with no model, and refuses a malformed trigger by field', async () => {
    expect(await startForDrift(TRIGGER, deps, settings)).toEqual({ decision: { action: 'none', why: 'no-model', detail: "no model serves endpoint 'wages'" } });
    expect(ledger.records).toEqual([]);
    expect(() => parseDriftTrigger({ trigger: 'drift', endpoint: 'wages', alarmName: '' })).toThrow('alarmName: expected a non-empty string in the drift trigger');
    expect(parseDriftTrigger({ trigger: 'drift', endpoint: 'wages', alarmName: 'a', time: 't' })).toEqual({ endpoint: 'wages', alarmName: 'a', time: 't', reason: '' });
  });
});

describe('rollback on a health alarm (endpoint deployer)', () => {
  const lambda = mockClient(LambdaClient);
  const CONFIG: ReleaseConfig & { windowMs: number; now: () => Date } = { endpoint: 'wages', functionName: 'fn', alias: 'live', application: 'app', deploymentGroup: 'dg', requireApproval: true, windowMs: 60 * 60_000, now: () => new Date('2026-12-01T00:30:00Z') };
  let ledger: MemoryLedger;
  let deps: ReleaseDeps;
  beforeEach(async () => {
    lambda.reset();
    ledger = new MemoryLedger();
    deps = { ledger, models: { read: async () => new Uint8Array() }, lambda: lambda, codedeploy: mockClient(CodeDeployClient), sleep: async () => undefined };
    await dataset(ledger, 'dsv-1');
    await served(ledger, 'mv-1', 'dsv-1', { functionVersion: '2' });
    await served(ledger, 'mv-2', 'dsv-1', { functionVersion: '3' }); // created 2026-12-01T00:00:0xZ: right before `now`
  });
  const event = { alarmName: 'HealthAlarm', time: '2026-12-01T00:30:00Z', reason: 'PredictionShift breached' };

  it('right after a finished release: back to the previous model, with the Incident', async () => {
    lambda.on(GetAliasCommand).resolves({ FunctionVersion: '3', RoutingConfig: { AdditionalVersionWeights: {} } });
    lambda.on(UpdateAliasCommand).resolves({});
    const out = await rollbackOnAlarm(event, deps, CONFIG);
    expect(out).toMatchObject({ rolledBack: true, modelVersionId: 'mv-1' });
    // the alarm again, right after the rollback: no ping-pong back to the model just rolled back from
    lambda.on(GetAliasCommand).resolves({ FunctionVersion: '2', RoutingConfig: { AdditionalVersionWeights: {} } });
    expect(await rollbackOnAlarm(event, deps, CONFIG)).toMatchObject({ rolledBack: false, skipped: 'after-a-rollback' });
    expect(lambda.commandCalls(UpdateAliasCommand)).toHaveLength(1);
    expect(lambda.commandCalls(UpdateAliasCommand)[0]!.args[0].input).toEqual({ FunctionName: 'fn', Name: 'live', FunctionVersion: '2', RoutingConfig: { AdditionalVersionWeights: {} } });
    const incident = ledger.records.find((r) => r.kind === 'Incident')!;
    expect(incident.data).toMatchObject({ type: 'rollback', reason: expect.stringContaining('from model mv-2 to mv-1: health alarm HealthAlarm right after release dp-mv-2: PredictionShift breached') });
  });

  it('does not act during a CodeDeploy release, past the window, when the alias moved, or with nothing to go back to', async () => {
    lambda.on(GetAliasCommand).resolves({ FunctionVersion: '3', RoutingConfig: { AdditionalVersionWeights: { '4': 0.1 } } });
    expect(await rollbackOnAlarm(event, deps, CONFIG)).toMatchObject({ rolledBack: false, skipped: 'release-in-progress' });
    lambda.on(GetAliasCommand).resolves({ FunctionVersion: '3' });
    expect(await rollbackOnAlarm(event, deps, { ...CONFIG, now: () => new Date('2026-12-01T02:00:00Z') })).toMatchObject({ rolledBack: false, skipped: 'not-right-after-release', detail: expect.stringContaining('120 min old, past the 60 min rollback window') });
    lambda.on(GetAliasCommand).resolves({ FunctionVersion: '7' });
    expect(await rollbackOnAlarm(event, deps, CONFIG)).toMatchObject({ rolledBack: false, skipped: 'alias-moved' });
    expect(lambda.commandCalls(UpdateAliasCommand)).toHaveLength(0);
    const first = new MemoryLedger();
    await dataset(first, 'dsv-1');
    await served(first, 'mv-1', 'dsv-1', { functionVersion: '2' });
    lambda.on(GetAliasCommand).resolves({ FunctionVersion: '2' });
    expect(await rollbackOnAlarm(event, { ...deps, ledger: first }, CONFIG)).toMatchObject({ rolledBack: false, skipped: 'nothing-to-roll-back' });
    expect(ledger.records.filter((r) => r.kind === 'Incident')).toEqual([]);
  });

  it('a release pins the model and its artifact on the version it publishes (a stale artifact version id is dropped)', async () => {
    // Prepare: mv-3 recorded with an S3 version id; $LATEST still pins mv-2's, with a version id of its own
    await ledger.append({ kind: 'ModelVersion', id: 'mv-3', subject: 'pipeline/cps', parents: ['tr-mv-1'], data: { pipeline: 'cps', trainingRunId: 'tr-mv-1', artifact: { uri: 's3://a/m3.onnx', sha256: 'e'.repeat(64), versionId: 'ver-3' }, format: 'onnx', signature: { input: 'features', output: 'score', features: ['education'] }, metrics: {}, approval: { status: 'Approved' } } });
    await ledger.append({ kind: 'ModelVersion', id: 'mv-4', subject: 'pipeline/cps', parents: ['tr-mv-1'], data: { pipeline: 'cps', trainingRunId: 'tr-mv-1', artifact: { uri: 's3://a/m4.onnx', sha256: 'd'.repeat(64) }, format: 'onnx', signature: { input: 'features', output: 'score', features: ['education'] }, metrics: {}, approval: { status: 'Approved' } } });
    const codedeploy = mockClient(CodeDeployClient);
    codedeploy.on(CreateDeploymentCommand).resolves({ deploymentId: 'd-1' });
    lambda.on(GetAliasCommand).resolves({ FunctionVersion: '3' });
    lambda.on(GetFunctionConfigurationCommand).resolves({ Environment: { Variables: { ENDPOINT_NAME: 'wages', MODEL_VERSION_ID: 'mv-2', MODEL_ARTIFACT_URI: 's3://a/m.onnx', MODEL_ARTIFACT_VERSION_ID: 'ver-2' } }, RevisionId: 'r1', LastUpdateStatus: 'Successful' });
    lambda.on(UpdateFunctionConfigurationCommand).resolves({});
    lambda.on(PublishVersionCommand).resolves({ Version: '4' });
    const releaseDeps = { ...deps, codedeploy, ledger };
    // Act
    await release({ modelVersionId: 'mv-3' }, releaseDeps, { ...CONFIG, requireApproval: false });
    await release({ modelVersionId: 'mv-4' }, releaseDeps, { ...CONFIG, requireApproval: false });
    // Assess
    const pinned = lambda.commandCalls(UpdateFunctionConfigurationCommand).map((c) => c.args[0].input.Environment!.Variables);
    expect(pinned).toEqual([
      { ENDPOINT_NAME: 'wages', MODEL_VERSION_ID: 'mv-3', MODEL_ARTIFACT_URI: 's3://a/m3.onnx', MODEL_ARTIFACT_VERSION_ID: 'ver-3' },
      { ENDPOINT_NAME: 'wages', MODEL_VERSION_ID: 'mv-4', MODEL_ARTIFACT_URI: 's3://a/m4.onnx' },
    ]);
  });

  it('a release with contract checks fixes the contract of the model\'s training data, as JSON, and pins its key; an invalid contract refuses it', async () => {
    // Prepare: the dataset 'cps' (mv-2's training data) has a YAML contract
    const objects = new Map<string, string>([['contracts/cps.yaml', 'version: 1\ncolumns:\n  education: { type: integer, min: 0, max: 30 }\n']]);
    const artifacts = { uri: (k: string) => `s3://artifacts/${k}`, getText: async (k: string) => objects.get(k), putOnce: async (k: string, body: string) => (objects.has(k) ? undefined : objects.set(k, body), `s3://artifacts/${k}`) };
    const codedeploy = mockClient(CodeDeployClient);
    codedeploy.on(CreateDeploymentCommand).resolves({ deploymentId: 'd-1' });
    lambda.on(GetAliasCommand).resolves({ FunctionVersion: '3' });
    lambda.on(GetFunctionConfigurationCommand).resolves({ Environment: { Variables: { ENDPOINT_NAME: 'wages', MODEL_CONTRACT_KEY: 'releases/wages/contracts/old.json' } }, RevisionId: 'r1', LastUpdateStatus: 'Successful' });
    lambda.on(UpdateFunctionConfigurationCommand).resolves({});
    lambda.on(PublishVersionCommand).resolves({ Version: '4' });
    const releaseDeps = { ...deps, codedeploy, artifacts };
    const config = { ...CONFIG, requireApproval: false, contractsPrefix: 'contracts/' };
    // Act
    await release({ modelVersionId: 'mv-1' }, releaseDeps, config);
    // Assess: the key is the body's SHA-256; the body says which dataset and what its contract was
    const variables = lambda.commandCalls(UpdateFunctionConfigurationCommand)[0]!.args[0].input.Environment!.Variables!;
    expect(variables.MODEL_CONTRACT_KEY).toMatch(/^releases\/wages\/contracts\/[0-9a-f]{64}\.json$/);
    const body = objects.get(variables.MODEL_CONTRACT_KEY!)!;
    expect(variables.MODEL_CONTRACT_KEY).toBe(`releases/wages/contracts/${createHash('sha256').update(body).digest('hex')}.json`);
    expect(JSON.parse(body)).toEqual({ dataset: 'cps', contract: { version: 1, columns: { education: { type: 'integer', min: 0, max: 30 } } } });
    // without contract checks, no key (a stale one is dropped)
    await release({ modelVersionId: 'mv-1' }, releaseDeps, { ...CONFIG, requireApproval: false });
    expect(lambda.commandCalls(UpdateFunctionConfigurationCommand)[1]!.args[0].input.Environment!.Variables).not.toHaveProperty('MODEL_CONTRACT_KEY');
    // a contract that does not parse: the release is refused, naming it
    objects.set('contracts/cps.yaml', 'version: 1\ncolumns:\n  education: { type: decimal }\n');
    await expect(release({ modelVersionId: 'mv-1' }, releaseDeps, config)).rejects.toThrow(/^model mv-1: the contract of dataset 'cps' is invalid: s3:\/\/artifacts\/contracts\/cps.yaml: columns.education.type/);
  });
});

describe('retraining on a push of the training image (pipeline starter)', () => {
  const DIGEST = `sha256:${'7f5b2640'.repeat(8)}`;
  const push = (detail: Record<string, unknown> = {}) => ({ version: '0', id: 'e1', 'detail-type': 'ECR Image Action', source: 'aws.ecr', account: '123456789012', time: '2026-12-01T10:00:00Z', region: 'us-west-2', resources: [], detail: { result: 'SUCCESS', 'repository-name': 'trainer', 'image-digest': DIGEST, 'action-type': 'PUSH', 'image-tag': 'latest', ...detail } });
  let ledger: MemoryLedger;
  let started: { name: string; input: unknown }[];
  const deps = () => ({
    ledger,
    starter: {
      async start(input: { name: string; input: string }) {
        if (started.some((s) => s.name === input.name)) return 'exists' as const;
        started.push({ name: input.name, input: JSON.parse(input.input) });
        return 'started' as const;
      },
    },
  });
  const settings = { stateMachineArn: ARN, pipeline: 'cps' };
  beforeEach(() => {
    ledger = new MemoryLedger();
    started = [];
  });

  it('reads ECR\'s push event (the documented sample), ignores what is not a successful push, names a missing field', () => {
    expect(parseImagePush(push())).toEqual({ repository: 'trainer', tag: 'latest', digest: DIGEST });
    expect(parseImagePush(push({ result: 'FAILURE' }))).toEqual({ ignored: 'not a successful push (PUSH FAILURE)' });
    expect(parseImagePush(push({ 'action-type': 'DELETE' }))).toEqual({ ignored: 'not a successful push (DELETE SUCCESS)' });
    expect(() => parseImagePush(push({ 'image-digest': 'sha256:abc' }))).toThrow(/detail\.image-digest: expected/);
    expect(() => parseImagePush({ source: 'aws.s3', 'detail-type': 'Object Created' })).toThrow(/expected an 'ECR Image Action' event from aws\.ecr/);
  });

  it('retrains on the newest accepted data of the dataset the pipeline trained on, once per pushed digest', async () => {
    await dataset(ledger, 'dsv-old');
    await served(ledger, 'mv-1', 'dsv-old');
    await dataset(ledger, 'dsv-new');
    await dataset(ledger, 'dsv-bad', 'rejected');
    const image = parseImagePush(push()) as Exclude<ReturnType<typeof parseImagePush>, { ignored: string }>;
    expect(await startForImagePush(image, deps(), settings)).toEqual({ started: true, duplicate: false, datasetVersionId: 'dsv-new', executionName: 'dsv-new-image-7f5b26407f5b' });
    expect(started).toEqual([{ name: 'dsv-new-image-7f5b26407f5b', input: { datasetVersionId: 'dsv-new', trigger: { type: 'image-push' } } }]);
    // the same push delivered again starts nothing; another digest trains again on the same data
    expect(await startForImagePush(image, deps(), settings)).toMatchObject({ started: false, duplicate: true });
    expect(await startForImagePush({ ...image, digest: `sha256:${'0c'.repeat(32)}` }, deps(), settings)).toMatchObject({ started: true, executionName: 'dsv-new-image-0c0c0c0c0c0c' });
  });

  it('starts nothing before the pipeline has trained: its first run takes the new image anyway', async () => {
    await dataset(ledger, 'dsv-1');
    const image = parseImagePush(push()) as Exclude<ReturnType<typeof parseImagePush>, { ignored: string }>;
    expect(await startForImagePush(image, deps(), settings)).toEqual({ started: false, duplicate: false, reason: "pipeline 'cps' has not trained yet: its first run trains with the new image" });
    expect(started).toEqual([]);
  });
});
