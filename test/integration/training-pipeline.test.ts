import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logicalIdByPath } from '../../bin/local/cloud-assembly';
import { uploadWithEvent } from '../../bin/local/s3-events';
import { parseObjectCreated } from '../../lambdas/ingest/event';
import { datasetVersionId } from '../../lambdas/ingest/ingest';
import { cpsCsv } from '../../bin/local/sample-data';
import { localServices, type Notification } from '../../bin/local/services';
import { runStateMachine } from '../../bin/local/state-machine';
import { cdkJsonContext } from '../../bin/app';
import type { LedgerRecord } from '../../lambdas/core/lineage';
import type { IngestOutcome } from '../../lambdas/ingest/ingest';
import { startLocal, type LocalEnvironment } from '../helpers/local';

/*
 * The reference app's TrainingPipeline state machine from cdk.out, run by
 * aws-local-stepfunctions: Lambda steps on their bundled handlers, SageMaker
 * training by the local training job (the example TypeScript trainer), SNS kept.
 * With cdk.json's bias gate (DI ≥ 0.8) the CPS model is stopped at the bias gate;
 * with a lenient one it is deployed, and a second run keeps the champion.
 */

async function ingest(env: LocalEnvironment, key: string, body: string): Promise<string> {
  const event = await uploadWithEvent(env.s3, { Bucket: env.dataBucket, Key: key, Body: body });
  const [invocation] = (await env.stack.putEvent(event)).filter((i) => i.functionId === env.ingestFunctionId);
  return (invocation!.result as IngestOutcome).recordId;
}

function run(env: LocalEnvironment, input: unknown, notifications: Notification[], overrides: Parameters<typeof runStateMachine>[3] = {}) {
  return runStateMachine(env.stack, env.trainingPipelineId!, input, { services: localServices({ s3: env.s3, stack: env.stack, notifications }), ...overrides });
}

describe('TrainingPipeline with the reference bias gate (DI ≥ 0.8)', () => {
  let env: LocalEnvironment;
  beforeAll(async () => {
    env = await startLocal({ bundle: true });
  }, 180_000);
  afterAll(async () => env?.stop());

  it('trains, records the model, and stops at the bias gate with an Incident and a notification', async () => {
    const dsv = await ingest(env, 'data/cps-wages/cps.csv', cpsCsv());
    const notifications: Notification[] = [];
    const err = (await run(env, { datasetVersionId: dsv }, notifications).catch((e: unknown) => e)) as Error & { cause?: Error };
    expect(err.cause).toMatchObject({ name: 'bias-gate', message: expect.stringMatching(/^bias-gate: gender=female: DI 0\.\d{4} < 0\.8/) });
    expect(notifications).toHaveLength(1);
    expect(String(notifications[0]!.message)).toMatch(/^bias-gate: /);
    const history = await env.ledger().history('pipeline/cps-wages');
    expect(history.map((r) => r.kind)).toEqual(['TrainingRun', 'ModelVersion', 'Incident']);
    const run0 = history[0] as LedgerRecord<'TrainingRun'>;
    expect(run0.parents).toEqual([dsv]);
    expect(run0.data.image.uri).toMatch(/cdk-mlops-logistic-regression:latest$/);
    expect(run0.data.metrics!['train:accuracy']).toBeGreaterThan(0.6);
    const model = history[1] as LedgerRecord<'ModelVersion'>;
    expect(model.data.artifact.sha256).toMatch(/^[0-9a-f]{64}$/);
    for (const r of await env.ledger().verifyAll()) expect(r, r.chain).toMatchObject({ ok: true });
  }, 120_000);

  it('an upload starts one execution named after its dataset version; a duplicate event starts none', async () => {
    const event = await uploadWithEvent(env.s3, { Bucket: env.dataBucket, Key: 'data/cps-wages/2026-12.csv', Body: cpsCsv() });
    const starterId = logicalIdByPath(env.stack.template, 'CdkMlops/TrainingPipeline/Starter/Resource');
    const first = (await env.stack.putEvent(event)).find((i) => i.functionId === starterId)!;
    const again = (await env.stack.putEvent(event)).find((i) => i.functionId === starterId)!;
    const ingested = (await env.stack.putEvent(event)).find((i) => i.functionId === env.ingestFunctionId)!.result as IngestOutcome;
    expect(first.error).toBeUndefined();
    expect(first.result).toMatchObject({ started: true, duplicate: false, datasetVersionId: ingested.recordId, executionName: ingested.recordId });
    expect(again.result).toMatchObject({ started: false, duplicate: true });
    const queued = env.emulators.stepFunctions.started.filter((e) => e.name === ingested.recordId);
    expect(queued).toHaveLength(1);
    expect(queued[0]!.input).toEqual({ datasetVersionId: ingested.recordId });
    expect(queued[0]!.stateMachineArn).toBe(env.stack.physical.get(env.trainingPipelineId!)!.attributes.Arn);
    // an upload outside the pipeline's datasets does not retrain
    const other = await uploadWithEvent(env.s3, { Bucket: env.dataBucket, Key: 'data/other/x.csv', Body: 'a\n1\n' });
    expect((await env.stack.putEvent(other)).find((i) => i.functionId === starterId)).toBeUndefined();
  }, 60_000);

  it('waits for ingest: the first state retries until the dataset version is recorded', async () => {
    const event = await uploadWithEvent(env.s3, { Bucket: env.dataBucket, Key: 'data/cps-wages/late.csv', Body: cpsCsv() });
    const id = datasetVersionId(parseObjectCreated(event));
    let resolves = 0;
    const notifications: Notification[] = [];
    const err = (await run(env, { datasetVersionId: id }, notifications, {
      taskOverrides: {
        'Resolve dataset version': async (input) => {
          if (++resolves === 2) await env.stack.putEvent(event); // ingest lands while the pipeline waits
          return env.stack.invoke(logicalIdByPath(env.stack.template, 'CdkMlops/TrainingPipeline/Steps/Resource'), input);
        },
      },
    }).catch((e: unknown) => e)) as Error & { cause?: Error };
    expect(resolves).toBe(2); // pending (retried), then found: ingest ran before the second try
    expect(err.cause?.name).toBe('bias-gate'); // then the whole pipeline ran
  }, 120_000);

  it('stops at the validation gate when the data breaks its contract, before any training', async () => {
    await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: 'contracts/cps-strict.yaml', Body: 'version: 1\nrows: { min: 1000 }\ncolumns:\n  wage: { type: float }\n' }));
    const dsv = await ingest(env, 'data/cps-strict/cps.csv', cpsCsv());
    const notifications: Notification[] = [];
    const err = (await run(env, { datasetVersionId: dsv }, notifications).catch((e: unknown) => e)) as Error & { cause?: Error };
    expect(err.cause).toMatchObject({ name: 'validation-gate', message: 'validation-gate: dataset: 534 rows, fewer than the minimum 1000' });
    expect(notifications).toHaveLength(1);
    const incident = (await env.ledger().derivedFrom(dsv)).find((r) => r.kind === 'Incident') as LedgerRecord<'Incident'>;
    expect(incident.data).toMatchObject({ type: 'gate-failure', pipeline: 'cps-wages' });
    expect((await env.ledger().derivedFrom(dsv)).some((r) => r.kind === 'TrainingRun')).toBe(false);
  }, 120_000);

  it('an error in the validation step itself is recorded and notified too (fault injection)', async () => {
    const dsv = await ingest(env, 'data/cps-wages/cps-fault.csv', cpsCsv());
    const notifications: Notification[] = [];
    const err = (await run(env, { datasetVersionId: dsv }, notifications, {
      taskOverrides: { Validate: () => Promise.reject(Object.assign(new Error('gate crashed'), { name: 'InvalidEventError' })) },
    }).catch((e: unknown) => e)) as Error & { cause?: Error };
    expect(err.cause).toMatchObject({ name: 'validation', message: 'validation: InvalidEventError: gate crashed' });
    expect(notifications).toHaveLength(1);
    expect((await env.ledger().derivedFrom(dsv)).some((r) => r.kind === 'Incident')).toBe(true);
  }, 120_000);

  it('a failed training job is recorded and notified, and the execution fails with its reason', async () => {
    const dsv = await ingest(env, 'data/cps-wages/cps-2.csv', cpsCsv().replace('wage,', 'hourly_wage,'));
    const notifications: Notification[] = [];
    const err = (await run(env, { datasetVersionId: dsv }, notifications).catch((e: unknown) => e)) as Error & { cause?: Error };
    expect(err.cause).toMatchObject({ name: 'training', message: expect.stringContaining("label 'wage' is missing") });
    expect(notifications).toHaveLength(1);
    const last = (await env.ledger().history('pipeline/cps-wages')).at(-1) as LedgerRecord<'Incident'>;
    expect(last).toMatchObject({ kind: 'Incident', parents: [dsv], data: { type: 'pipeline-failure' } });
  }, 120_000);

  it('retries SageMaker throttling, then trains', async () => {
    const dsv = await ingest(env, 'data/cps-wages/cps-3.csv', cpsCsv());
    let calls = 0;
    const services = localServices({ s3: env.s3, stack: env.stack });
    const outcome = (await runStateMachine(env.stack, env.trainingPipelineId!, { datasetVersionId: dsv }, {
      services: {
        ...services,
        'arn:aws:states:::sagemaker:createTrainingJob.sync': async (input) => {
          if (++calls < 3) throw Object.assign(new Error('Rate exceeded'), { name: 'SageMaker.ThrottlingException' });
          return services['arn:aws:states:::sagemaker:createTrainingJob.sync']!(input);
        },
      },
    }).catch((e: unknown) => e)) as Error & { cause?: Error };
    expect(calls).toBe(3);
    // trained on the third call; then the reference bias gate stops the model
    expect(outcome.cause?.name).toBe('bias-gate');
  }, 120_000);
});

describe('TrainingPipeline with a lenient bias gate', () => {
  let env: LocalEnvironment;
  beforeAll(async () => {
    const bias = cdkJsonContext()['cdk-mlops:biasGate'] as Record<string, unknown>;
    env = await startLocal({ bundle: true, context: { 'cdk-mlops:biasGate': { ...bias, thresholds: { DPPL: 0.5 } } } });
  }, 180_000);
  afterAll(async () => env?.stop());

  it('deploys the first model; a second run is judged against it as the champion (equal accuracy, minImprovement 0: replaced)', async () => {
    const dsv = await ingest(env, 'data/cps-wages/cps.csv', cpsCsv());
    const first = (await run(env, { datasetVersionId: dsv }, [])).output as any;
    expect(first.evaluation).toMatchObject({ promote: true, championModelVersionId: null });
    const evaluation = (await env.ledger().get(first.evaluation.gateReportId)) as LedgerRecord<'GateReport'>;
    expect(evaluation).toMatchObject({ kind: 'GateReport', parents: [dsv, first.model.modelVersionId], data: { gate: 'evaluation', passed: true, thresholds: { minImprovement: 0 } } });
    expect(evaluation.data.metrics['challenger.accuracy']).toBeGreaterThan(0.6);
    expect(first.deployment.deploymentId).toMatch(/^dp-/);
    const dsv2 = await ingest(env, 'data/cps-wages/cps-again.csv', cpsCsv() + '');
    const second = (await runStateMachine(env.stack, env.trainingPipelineId!, { datasetVersionId: dsv2 }, { services: localServices({ s3: env.s3, stack: env.stack }) })).output as any;
    expect(second.evaluation.championModelVersionId).toBe(first.model.modelVersionId);
    expect(second.evaluation.promote).toBe(true); // equal accuracy, minImprovement 0: the retrained model replaces it
    const kinds = (await env.ledger().history('pipeline/cps-wages')).map((r) => r.kind);
    expect(kinds).toEqual(['TrainingRun', 'ModelVersion', 'Deployment', 'TrainingRun', 'ModelVersion', 'Deployment']);
    for (const r of await env.ledger().verifyAll()) expect(r, r.chain).toMatchObject({ ok: true });
  }, 180_000);
});
