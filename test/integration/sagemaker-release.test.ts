import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logicalIdByPath } from '../../bin/local/cloud-assembly';
import { LocalSageMakerHosting, startSageMakerApi, type UpdateOutcome } from '../../bin/local/sagemaker-hosting';
import { runStateMachine } from '../../bin/local/state-machine';
import { deterministicId, sha256Hex, type LedgerRecord } from '../../lambdas/core/lineage';
import { startLocal, type LocalEnvironment } from '../helpers/local';

/*
 * Releases to the reference app's SageMaker endpoint (cdk-mlops:sageMakerEndpoint),
 * from cdk.out: the endpoint's release state machine runs its bundled deployer,
 * whose SageMaker SDK client calls a local stand-in of SageMaker hosting's
 * control plane (bin/local/sagemaker-hosting.ts); the update's outcome (the
 * guardrails' alarms) is injected, since no model runs locally. v1, then v2
 * rolled back by its guardrails, then v3 live, then the rollback task back to
 * v1: the ledger has the Deployments and the Incidents.
 */

const ENDPOINT = 'cps-wages-gpu';
let env: LocalEnvironment;
let hosting: LocalSageMakerHosting;
let api: { endpoint: string; close(): Promise<void> } | undefined;
let releaseId: string;
let deployerId: string;
/** How the next update to a config ends (by release name: `<endpoint>-<model id prefix>`). */
const outcomes = new Map<string, UpdateOutcome>();

/** An approved ModelVersion whose SageMaker archive (a model.tar.gz's bytes) is in S3. */
async function approvedArchive(name: string): Promise<string> {
  const bytes = Buffer.from(`model archive ${name}`);
  const key = `training/cps-wages/jobs/${name}/output/model.tar.gz`;
  await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: key, Body: bytes }));
  const ledger = env.ledger();
  const { record } = await ledger.append({
    kind: 'ModelVersion',
    id: deterministicId('mv', 'sagemaker-test', name),
    subject: 'pipeline/cps-wages',
    data: { pipeline: 'cps-wages', trainingRunId: 'tr-none', artifact: { uri: `s3://${env.artifactsBucket}/models/${name}.onnx`, sha256: 'a'.repeat(64) }, archive: { uri: `s3://${env.artifactsBucket}/${key}`, sha256: sha256Hex(bytes) }, format: 'onnx', metrics: {}, approval: { status: 'Approved' } },
  });
  await ledger.append({ kind: 'GateReport', id: deterministicId('gr', 'approval', record.id), subject: 'pipeline/cps-wages', parents: [record.id], data: { gate: 'approval', passed: true, metrics: {}, thresholds: {}, reasons: ['approved by test'] } });
  return record.id;
}

const release = (modelVersionId: string) => runStateMachine(env.stack, releaseId, { modelVersionId }, { name: `release-${modelVersionId}` });
const history = async () => env.ledger().history(`endpoint/${ENDPOINT}`);

beforeAll(async () => {
  env = await startLocal({ bundle: true, context: { 'cdk-mlops:sageMakerEndpoint': { name: ENDPOINT, repository: 'cps-inference', initialModelDataUrl: 's3://models-bucket/cps/initial.tar.gz', instanceType: 'ml.g5.xlarge', dataCapturePercent: 10 } } });
  releaseId = logicalIdByPath(env.stack.template, 'CdkMlops/SageMakerEndpoint/ReleaseStateMachine/Resource');
  deployerId = logicalIdByPath(env.stack.template, 'CdkMlops/SageMakerEndpoint/Deployer/Resource');
  hosting = new LocalSageMakerHosting(env.stack, { s3: env.s3, outcome: (_endpoint, config) => outcomes.get(config) ?? 'InService' });
  api = await startSageMakerApi(hosting);
  env.stack.addServiceEndpoints({ AWS_ENDPOINT_URL_SAGEMAKER: api.endpoint });
}, 240_000);
afterAll(async () => {
  await api?.close();
  await env?.stop();
});

describe('SageMakerEndpoint releases, locally from cdk.out (SageMaker hosting stand-in)', () => {
  let v1: string;

  it('the stand-in holds the endpoint the template creates, InService on its config', () => {
    const [name, endpoint] = [...hosting.endpoints][0]!;
    expect(name).toBe(ENDPOINT);
    expect(endpoint.status).toBe('InService');
    const config = hosting.configs.get(endpoint.config)!;
    expect(config).toMatchObject({ ProductionVariants: [{ VariantName: 'AllTraffic', InstanceType: 'ml.g5.xlarge' }], DataCaptureConfig: { InitialSamplingPercentage: 10 } });
  });

  it('releases v1: a model and config copied from what serves with the new archive, a blue/green update, a Deployment', async () => {
    v1 = await approvedArchive('v1');
    const out = (await release(v1)).output as any;
    expect(out.releaseStatus).toMatchObject({ done: true, status: 'Succeeded', succeeded: true });
    const name = out.release.targetVersion as string;
    expect(hosting.endpoints.get(ENDPOINT)).toMatchObject({ status: 'InService', config: name });
    // the copy: same image, role and capture; the archive the ledger names
    const model = hosting.models.get(name)! as { PrimaryContainer: { Image: string; ModelDataUrl: string } };
    expect(model.PrimaryContainer.ModelDataUrl).toBe(`s3://${env.artifactsBucket}/training/cps-wages/jobs/v1/output/model.tar.gz`);
    expect(model.PrimaryContainer.Image).toMatch(/cps-inference:latest$/);
    expect(hosting.configs.get(name)).toMatchObject({ DataCaptureConfig: { InitialSamplingPercentage: 10 } });
    expect(hosting.calls.filter((c) => c.startsWith('UpdateEndpoint'))).toEqual([`UpdateEndpoint ${ENDPOINT} ${name}`]);
    const [deployment] = await history();
    expect(deployment).toMatchObject({ kind: 'Deployment', parents: [v1], data: { modelVersionId: v1, status: 'succeeded', reason: 'initial', deploymentId: name } });
    // the code that serves, by digest: the image the config names, as SageMaker resolved it
    expect((deployment as LedgerRecord<'Deployment'>).data.images).toEqual([{ specified: model.PrimaryContainer.Image, resolved: expect.stringMatching(/cps-inference@sha256:[0-9a-f]{64}$/) }]);
  }, 120_000);

  it("v2's update is rolled back by its guardrails: the execution fails, v1's config still serves, the ledger has the Deployment and the Incident", async () => {
    const v2 = await approvedArchive('v2');
    outcomes.set(`${ENDPOINT}-${v2.replace(/^mv-/, '').slice(0, 16)}`, 'RolledBack');
    const err = (await release(v2).catch((e: unknown) => e)) as Error & { cause?: Error };
    expect(err.cause).toMatchObject({ name: 'RolledBack', message: expect.stringContaining("an alarm of the update's guardrails fired") });
    const records = await history();
    expect(hosting.endpoints.get(ENDPOINT)).toMatchObject({ status: 'InService', config: (records[0] as LedgerRecord<'Deployment'>).data.deploymentId });
    const rolledBack = records.find((r) => r.kind === 'Deployment' && (r as LedgerRecord<'Deployment'>).data.modelVersionId === v2) as LedgerRecord<'Deployment'>;
    expect(rolledBack.data).toMatchObject({ status: 'rolled-back', reason: 'manual' }); // an operator's release
    expect(rolledBack.data.images).toBeUndefined(); // it does not serve: no images recorded for it
    expect(records.some((r) => r.kind === 'Incident' && (r as LedgerRecord<'Incident'>).data.type === 'rollback')).toBe(true);
  }, 120_000);

  it('v3 goes live; then the rollback task returns the endpoint to v1 at once, with an Incident and a rollback Deployment', async () => {
    const v3 = await approvedArchive('v3');
    const out = (await release(v3)).output as any;
    expect(out.releaseStatus).toMatchObject({ succeeded: true });
    // Act: the rollback (what the operator or a health alarm asks the deployer)
    const started = (await env.stack.invoke(deployerId, { operation: 'rollback', reason: 'p99 too high after the release' })) as { targetVersion: string; modelVersionId: string; incidentId: string };
    expect(started.modelVersionId).toBe(v1);
    expect(hosting.calls.at(-1)).toBe(`UpdateEndpoint ${ENDPOINT} ${started.targetVersion}`);
    // as the release state machine polls: Updating, then done
    let status: Record<string, unknown> = {};
    for (let i = 0; i < 5 && status.done !== true; i++) status = (await env.stack.invoke(deployerId, { operation: 'check', release: started })) as Record<string, unknown>;
    expect(status).toMatchObject({ done: true, succeeded: true });
    // Assess: v1's config serves; the ledger says how it came to be
    expect(hosting.endpoints.get(ENDPOINT)).toMatchObject({ status: 'InService', config: started.targetVersion });
    const records = await history();
    const last = records.filter((r) => r.kind === 'Deployment').at(-1) as LedgerRecord<'Deployment'>;
    expect(last.data).toMatchObject({ modelVersionId: v1, previousModelVersionId: v3, reason: 'rollback', status: 'succeeded' });
    const incident = records.find((r) => r.id === started.incidentId) as LedgerRecord<'Incident'>;
    expect(incident.data).toMatchObject({ type: 'rollback', reason: expect.stringContaining('p99 too high') });
    for (const r of await env.ledger().verifyAll()) expect(r, r.chain).toMatchObject({ ok: true });
  }, 120_000);
});
