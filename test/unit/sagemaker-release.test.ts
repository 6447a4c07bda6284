import { CreateEndpointConfigCommand, CreateModelCommand, DescribeEndpointCommand, DescribeEndpointConfigCommand, DescribeModelCommand, SageMakerClient, UpdateEndpointCommand } from '@aws-sdk/client-sagemaker';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { deterministicId, type LedgerRecord } from '../../lambdas/core/lineage';
import { MemoryLedger } from '../helpers/memory-ledger';
import { check, release, releaseName, rollback, type SageMakerReleaseConfig, type SageMakerReleaseDeps } from '../../lambdas/endpoint-deployer/sagemaker-release';

/*
 * Releases to a SageMaker endpoint. SageMaker has no emulator: its client is
 * mocked (aws-sdk-client-mock) and answers as the service documents; the
 * ledger is an in-memory one with the same record rules (ids, idempotent
 * appends, derivations).
 */

const sm = mockClient(SageMakerClient);
const CONFIG: SageMakerReleaseConfig = {
  endpoint: 'wages-gpu',
  requireApproval: true,
  deploymentConfig: { BlueGreenUpdatePolicy: { TrafficRoutingConfiguration: { Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: 10 }, WaitIntervalInSeconds: 300 } }, AutoRollbackConfiguration: { Alarms: [{ AlarmName: 'errors' }] } },
};
let ledger: MemoryLedger;
let hashes: Record<string, string>;
let deps: SageMakerReleaseDeps;

async function model(name: string, options: { approved?: boolean; compiled?: boolean } = {}): Promise<LedgerRecord<'ModelVersion'>> {
  const archive = { uri: `s3://artifacts/training/wages/jobs/${name}/output/model.tar.gz`, sha256: `${name}`.padEnd(64, '0') };
  const { record } = await ledger.append({
    kind: 'ModelVersion',
    id: deterministicId('mv', name),
    subject: 'pipeline/wages',
    data: { pipeline: 'wages', trainingRunId: 'tr-x', artifact: options.compiled ? { uri: `s3://artifacts/training/wages/compiled/${name}.tar.gz`, sha256: archive.sha256 } : { uri: `s3://artifacts/models/wages/${name}/model.onnx`, sha256: 'f'.repeat(64) }, format: options.compiled ? 'neo:ml_inf2' : 'onnx', ...(options.compiled ? {} : { archive }), metrics: {}, approval: { status: 'PendingManualApproval' } },
  });
  hashes[options.compiled ? `s3://artifacts/training/wages/compiled/${name}.tar.gz` : archive.uri] = archive.sha256;
  if (options.approved !== false) await ledger.append({ kind: 'GateReport', id: deterministicId('gr', name), subject: 'dataset/wages', parents: [record.id], data: { gate: 'approval', passed: true, metrics: {}, thresholds: {}, reasons: ['approved'] } });
  return record as LedgerRecord<'ModelVersion'>;
}

function serving(configName: string, modelName = 'initial-model') {
  sm.on(DescribeEndpointCommand).resolves({ EndpointName: 'wages-gpu', EndpointStatus: 'InService', EndpointConfigName: configName });
  sm.on(DescribeEndpointConfigCommand).resolves({ EndpointConfigName: configName, ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: modelName, InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 2, InitialVariantWeight: 1 }], DataCaptureConfig: { InitialSamplingPercentage: 5, DestinationS3Uri: 's3://artifacts/captures/wages-gpu', CaptureOptions: [{ CaptureMode: 'Input' }] }, KmsKeyId: undefined });
  sm.on(DescribeModelCommand).resolves({ ModelName: modelName, ExecutionRoleArn: 'arn:aws:iam::123456789012:role/hosting', PrimaryContainer: { Image: 'img:1', Environment: { A: '1' }, ModelDataUrl: 's3://old' }, EnableNetworkIsolation: true });
}

beforeEach(() => {
  sm.reset();
  ledger = new MemoryLedger();
  hashes = {};
  deps = { ledger, sagemaker: sm, hashObject: async (uri) => hashes[uri] ?? 'missing' };
});

describe('SageMaker endpoint releases', () => {
  it("release: a copy of the serving model and config with the version's archive, then UpdateEndpoint with the guardrails", async () => {
    // Prepare
    const v1 = await model('v1');
    serving('wages-gpu-config-initial');
    // Act
    const started = await release({ modelVersionId: v1.id }, deps, CONFIG);
    // Assess
    const name = releaseName('wages-gpu', v1.id);
    expect(name).toMatch(/^wages-gpu-[0-9a-f]{16}$/);
    expect(started).toEqual({ done: false, modelVersionId: v1.id, previousModelVersionId: null, reason: 'initial', currentVersion: 'wages-gpu-config-initial', targetVersion: name, deploymentId: name });
    expect(sm.commandCalls(CreateModelCommand)[0]!.args[0].input).toEqual({
      ModelName: name,
      ExecutionRoleArn: 'arn:aws:iam::123456789012:role/hosting',
      PrimaryContainer: { Image: 'img:1', Environment: { A: '1' }, ModelDataUrl: 's3://artifacts/training/wages/jobs/v1/output/model.tar.gz' },
      EnableNetworkIsolation: true,
      VpcConfig: undefined,
      Tags: [{ Key: 'cdk-mlops:modelVersionId', Value: v1.id }],
    });
    expect(sm.commandCalls(CreateEndpointConfigCommand)[0]!.args[0].input).toMatchObject({ EndpointConfigName: name, ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: name, InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 2 }], DataCaptureConfig: { InitialSamplingPercentage: 5 } });
    expect(sm.commandCalls(UpdateEndpointCommand)[0]!.args[0].input).toEqual({ EndpointName: 'wages-gpu', EndpointConfigName: name, DeploymentConfig: CONFIG.deploymentConfig });
  });

  it('serves a Neo-compiled model from its compiled archive (Inferentia)', async () => {
    const compiled = await model('inf2', { compiled: true });
    serving('c0');
    await release({ modelVersionId: compiled.id }, deps, CONFIG);
    expect(sm.commandCalls(CreateModelCommand)[0]!.args[0].input.PrimaryContainer!.ModelDataUrl).toBe('s3://artifacts/training/wages/compiled/inf2.tar.gz');
  });

  it.each([
    ['not approved', { approved: false }, /is not approved \(no approval GateReport in the ledger\)/],
    ['altered bytes', {}, /has SHA-256 altered, but the ledger recorded/],
  ])('refuses a model that is %s, before any SageMaker call', async (_case, options, message) => {
    const m = await model('bad', options);
    if (_case === 'altered bytes') hashes['s3://artifacts/training/wages/jobs/bad/output/model.tar.gz'] = 'altered';
    await expect(release({ modelVersionId: m.id }, deps, CONFIG)).rejects.toMatchObject({ name: 'ReleaseRefusedError', message: expect.stringMatching(message) });
    expect(sm.calls()).toHaveLength(0);
  });

  it('a retried release finds its model and config already there and goes on', async () => {
    const v1 = await model('v1');
    serving('c0');
    sm.on(CreateModelCommand).rejects(Object.assign(new Error('Cannot create already existing model'), { name: 'ValidationException' }));
    sm.on(CreateEndpointConfigCommand).rejects(Object.assign(new Error('Cannot create already existing endpoint configuration'), { name: 'ValidationException' }));
    await expect(release({ modelVersionId: v1.id }, deps, CONFIG)).resolves.toMatchObject({ done: false });
    expect(sm.commandCalls(UpdateEndpointCommand)).toHaveLength(1);
  });

  it('check: updating -> not done; InService on the new config -> a succeeded Deployment', async () => {
    const v1 = await model('v1');
    serving('c0');
    const started = await release({ modelVersionId: v1.id }, deps, CONFIG);
    sm.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'Updating', EndpointConfigName: 'c0' });
    expect(await check({ release: started }, deps, CONFIG)).toEqual({ done: false, status: 'Updating' });
    const resolved = `123456789012.dkr.ecr.us-east-1.amazonaws.com/infer@sha256:${'9a'.repeat(32)}`;
    sm.on(DescribeEndpointCommand).resolves({
      EndpointStatus: 'InService',
      EndpointConfigName: started.targetVersion,
      ProductionVariants: [{ VariantName: 'AllTraffic', DeployedImages: [{ SpecifiedImage: '123456789012.dkr.ecr.us-east-1.amazonaws.com/infer:latest', ResolvedImage: resolved }, { SpecifiedImage: 'half-described' }] }],
    });
    expect(await check({ release: started }, deps, CONFIG)).toMatchObject({ done: true, succeeded: true, status: 'Succeeded' });
    expect((await ledger.history('endpoint/wages-gpu')).map((r) => [r.kind, (r.data as any).status, (r.data as any).deploymentId, (r.data as any).strategy])).toEqual([['Deployment', 'succeeded', started.targetVersion, 'sagemaker:CANARY']]);
    // the serving code by digest, as SageMaker resolved the tag (an image it did not resolve is not recorded)
    expect(((await ledger.history('endpoint/wages-gpu'))[0]!.data as any).images).toEqual([{ specified: '123456789012.dkr.ecr.us-east-1.amazonaws.com/infer:latest', resolved }]);
  });

  it('check: InService on the old config after the update means the guardrails rolled it back: Deployment rolled-back and an Incident', async () => {
    const v1 = await model('v1');
    const v2 = await model('v2');
    serving('c0');
    const first = await release({ modelVersionId: v1.id }, deps, CONFIG);
    sm.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: first.targetVersion });
    await check({ release: first }, deps, CONFIG);
    serving(first.targetVersion, first.targetVersion);
    const second = await release({ modelVersionId: v2.id }, deps, CONFIG);
    expect(second).toMatchObject({ reason: 'retrain', previousModelVersionId: v1.id, currentVersion: first.targetVersion });
    sm.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: first.targetVersion, FailureReason: 'Alarm errors fired during the canary' });
    const outcome = await check({ release: second }, deps, CONFIG);
    expect(outcome).toMatchObject({ done: true, succeeded: false, status: 'RolledBack', reason: `release of model ${v2.id} to wages-gpu rolled back to version ${first.targetVersion} (model ${v1.id}): Alarm errors fired during the canary` });
    const kinds = (await ledger.history('endpoint/wages-gpu')).map((r) => [r.kind, (r.data as any).status ?? (r.data as any).type]);
    expect(kinds).toEqual([['Deployment', 'succeeded'], ['Deployment', 'rolled-back'], ['Incident', 'rollback']]);
  });

  it('rollback: back to the config of the previous model, all at once; the Incident now, the Deployment when InService', async () => {
    const [v1, v2] = [await model('v1'), await model('v2')];
    serving('c0');
    for (const v of [v1, v2]) {
      const r = await release({ modelVersionId: v.id }, deps, CONFIG);
      sm.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: r.targetVersion });
      await check({ release: r }, deps, CONFIG);
      serving(r.targetVersion, r.targetVersion);
    }
    sm.resetHistory();
    const rolled = await rollback({ reason: 'health alarm after the release' }, deps, CONFIG);
    expect(sm.commandCalls(UpdateEndpointCommand)[0]!.args[0].input).toEqual({ EndpointName: 'wages-gpu', EndpointConfigName: releaseName('wages-gpu', v1.id), DeploymentConfig: { BlueGreenUpdatePolicy: { TrafficRoutingConfiguration: { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 0 }, TerminationWaitInSeconds: 0 } } });
    expect(rolled).toMatchObject({ done: false, modelVersionId: v1.id, reason: 'rollback', targetVersion: releaseName('wages-gpu', v1.id) });
    sm.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: releaseName('wages-gpu', v1.id) });
    expect(await check({ release: rolled }, deps, CONFIG)).toMatchObject({ succeeded: true });
    const last = (await ledger.history('endpoint/wages-gpu')).slice(-2);
    expect(last.map((r) => r.kind)).toEqual(['Incident', 'Deployment']);
    expect(last[0]!.data).toMatchObject({ type: 'rollback', reason: `rolled back wages-gpu from model ${v2.id} to ${v1.id}: health alarm after the release` });
    expect(last[1]!.data).toMatchObject({ modelVersionId: v1.id, reason: 'rollback', status: 'succeeded', deploymentId: releaseName('wages-gpu', v1.id) });
    // and a later rollback finds the config to return to in that Deployment
    await expect(rollback({ reason: 'again' }, deps, CONFIG)).resolves.toMatchObject({ modelVersionId: v2.id, targetVersion: releaseName('wages-gpu', v2.id) });
  });

  it('rollback with nothing earlier to return to is a named error', async () => {
    await expect(rollback({ reason: 'x' }, deps, CONFIG)).rejects.toMatchObject({ name: 'NothingToRollBackError' });
  });
});
