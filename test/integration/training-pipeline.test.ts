import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logicalIdByPath } from '../../bin/local/cloud-assembly';
import { uploadWithEvent } from '../../bin/local/s3-events';
import { parseObjectCreated } from '../../lambdas/ingest/event';
import { datasetVersionId } from '../../lambdas/ingest/ingest';
import { cpsCsv } from '../../bin/local/sample-data';
import { LocalSageMaker } from '../../bin/local/sagemaker-registry';
import { localServices, localTrainingImages, templateModelPackageGroups, type Notification } from '../../bin/local/services';
import { describeLocalImages, EcrError, runTrainingJob } from '../../bin/local/sagemaker-training';
import { reproduction } from '../../lambdas/core/reproduce';
import { runStateMachine } from '../../bin/local/state-machine';
import { cdkJsonContext } from '../../bin/app';
import { sha256Hex, type LedgerRecord } from '../../lambdas/core/lineage';
import type { IngestOutcome } from '../../lambdas/ingest/ingest';
import { startLocal, type LocalEnvironment } from '../helpers/local';

/*
 * The reference app's TrainingPipeline state machine from cdk.out, run by
 * aws-local-stepfunctions: Lambda steps on their bundled handlers, SageMaker
 * training by the local training job (the example TypeScript trainer), the
 * Model Registry and Neo by their local stand-ins, SNS kept. The reference
 * model (on education) passes cdk.json's bias gate (DI ≥ 0.8) and is
 * registered and deployed; one on union and region too is stopped by it.
 */

async function ingest(env: LocalEnvironment, key: string, body: string): Promise<string> {
  const event = await uploadWithEvent(env.s3, { Bucket: env.dataBucket, Key: key, Body: body });
  const [invocation] = (await env.stack.putEvent(event)).filter((i) => i.functionId === env.ingestFunctionId);
  return (invocation!.result as IngestOutcome).recordId;
}

function run(env: LocalEnvironment, input: unknown, notifications: Notification[], overrides: Parameters<typeof runStateMachine>[3] = {}) {
  return runStateMachine(env.stack, env.trainingPipelineId!, input, { services: localServices({ s3: env.s3, stack: env.stack, notifications }), ...overrides });
}

const REFERENCE = cdkJsonContext()['cdk-mlops:trainingPipeline'] as { hyperparameters: Record<string, string> } & Record<string, unknown>;
/** Neo compilation of the example model for Inferentia2. */
const NEO = { framework: 'PYTORCH', frameworkVersion: '1.13', dataInputConfig: '{"features": [1, 1]}' };

describe('TrainingPipeline with the reference bias gate (DI ≥ 0.8) and a model that also uses union and region', () => {
  let env: LocalEnvironment;
  beforeAll(async () => {
    // retraining on uploads of cps-wages (the reference app retrains on drift instead)
    env = await startLocal({ bundle: true, context: { 'cdk-mlops:trainingPipeline': { ...REFERENCE, retrainOnUpload: ['cps-wages'], hyperparameters: { ...REFERENCE.hyperparameters, features: 'education,experience,union,south' } } } });
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
    // trained by the digest the tag named when the run resolved it, and recorded so
    const [resolved] = describeLocalImages({ RepositoryName: 'cdk-mlops-logistic-regression', ImageIds: [{ ImageTag: 'latest' }] }, localTrainingImages()).ImageDetails;
    expect(resolved!.ImageDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(run0.data.image).toEqual({ uri: `000000000000.dkr.ecr.us-east-1.amazonaws.com/cdk-mlops-logistic-regression@${String(resolved!.ImageDigest)}`, digest: resolved!.ImageDigest });
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
    // (the drift monitor's data-arrival rule still brings it to the starter, which starts nothing)
    const before = env.emulators.stepFunctions.started.length;
    expect((await env.stack.putEvent(other)).find((i) => i.functionId === starterId)).toMatchObject({ result: { started: false, duplicate: false, reason: "dataset 'other' does not retrain this pipeline" } });
    expect(env.emulators.stepFunctions.started).toHaveLength(before);
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

  it('trains on exactly the digest ECR resolved the tag to: one the registry does not have stops the run at training; a tag that names no image stops it before training; each with an Incident', async () => {
    const dsv = await ingest(env, 'data/cps-wages/cps-4.csv', cpsCsv());
    const services = localServices({ s3: env.s3, stack: env.stack });
    const trainedOn: string[] = [];
    const err = (await runStateMachine(env.stack, env.trainingPipelineId!, { datasetVersionId: dsv }, {
      services: {
        ...services,
        // ECR names a digest the local registry does not have (the trainer's files are another image)
        'arn:aws:states:::aws-sdk:ecr:describeImages': async () => ({ ImageDetails: [{ ImageDigest: `sha256:${'ab'.repeat(32)}` }] }),
        'arn:aws:states:::sagemaker:createTrainingJob.sync': async (input) => {
          trainedOn.push((input as { AlgorithmSpecification: { TrainingImage: string } }).AlgorithmSpecification.TrainingImage);
          return services['arn:aws:states:::sagemaker:createTrainingJob.sync']!(input);
        },
      },
    }).catch((e: unknown) => e)) as Error & { cause?: Error };
    expect(trainedOn).toEqual([`000000000000.dkr.ecr.us-east-1.amazonaws.com/cdk-mlops-logistic-regression@sha256:${'ab'.repeat(32)}`]);
    expect(err.cause).toMatchObject({ name: 'training', message: expect.stringContaining('Cannot find the requested image') });
    expect((await env.ledger().derivedFrom(dsv)).map((r) => r.kind)).toEqual(['GateReport', 'Incident']);

    // WHEN the tag names no image
    const missing = await ingest(env, 'data/cps-wages/cps-5.csv', cpsCsv());
    const notifications: Notification[] = [];
    const stopped = (await run(env, { datasetVersionId: missing }, notifications, {
      services: {
        ...localServices({ s3: env.s3, stack: env.stack, notifications }),
        'arn:aws:states:::aws-sdk:ecr:describeImages': () => Promise.reject(new EcrError('ImageNotFoundException', "The image with imageId {imageTag:'latest'} does not exist within the repository with name 'cdk-mlops-logistic-regression'")),
        'arn:aws:states:::sagemaker:createTrainingJob.sync': () => Promise.reject(new Error('no training may start')),
      },
    }).catch((e: unknown) => e)) as Error & { cause?: Error };
    // THEN the run stops there, says why, and nothing was trained
    expect(stopped.cause).toMatchObject({ name: 'training', message: expect.stringContaining('Ecr.ImageNotFoundException') });
    expect(notifications).toHaveLength(1);
    // the validation gate passed; then only the Incident, no TrainingRun
    const derived = await env.ledger().derivedFrom(missing);
    expect(derived.map((r) => r.kind)).toEqual(['GateReport', 'Incident']);
    expect(JSON.stringify(derived[1]!.data)).toContain('Ecr.ImageNotFoundException');
  }, 180_000);

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

const ledgerOk = async (env: LocalEnvironment) => {
  for (const r of await env.ledger().verifyAll()) expect(r, r.chain).toMatchObject({ ok: true });
};

describe('TrainingPipeline, reference configuration (automatic approval)', () => {
  let env: LocalEnvironment;
  beforeAll(async () => {
    env = await startLocal({ bundle: true });
  }, 180_000);
  afterAll(async () => env?.stop());

  it('happy path: holdout kept from the trainer, evaluated, registered with its reports, approved by the pipeline, deployed', async () => {
    const dsv = await ingest(env, 'data/cps-wages/cps.csv', cpsCsv());
    const notifications: Notification[] = [];
    const services = localServices({ s3: env.s3, stack: env.stack, notifications });
    const first = (await runStateMachine(env.stack, env.trainingPipelineId!, { datasetVersionId: dsv }, { services })).output as any;
    expect(notifications).toEqual([]);
    // the holdout: ~20% of the 534 rows, never in the training channel
    expect(first.prepare.trainRows + first.prepare.holdoutRows).toBe(534);
    expect(first.prepare.holdoutRows).toBeGreaterThan(70);
    expect(first.evaluation).toMatchObject({ promote: true, championModelVersionId: null, holdoutRows: first.prepare.holdoutRows });
    const evaluation = (await env.ledger().get(first.evaluation.gateReportId)) as LedgerRecord<'GateReport'>;
    expect(evaluation).toMatchObject({ kind: 'GateReport', parents: [dsv, first.model.modelVersionId], data: { gate: 'evaluation', passed: true, thresholds: { minImprovement: 0 } } });
    expect(evaluation.data.metrics['challenger.accuracy']).toBeGreaterThan(0.6);
    // the registry entry: the training job's model, the reports, the lineage ids
    expect(first.registry.ModelPackageArn).toBe('arn:aws:sagemaker:us-east-1:123456789012:model-package/cdk-mlops-cps-wages/1');
    const request = (services as any) && first.registration;
    expect(request.approvalStatus).toBe('Approved');
    expect(request.metadata).toMatchObject({ 'cdk-mlops:modelVersionId': first.model.modelVersionId, 'cdk-mlops:datasetVersionId': dsv, 'cdk-mlops:sha256': first.model.sha256, 'cdk-mlops:evaluation': first.evaluation.gateReportId, 'cdk-mlops:bias': first.bias.gateReportId });
    expect(request.modelMetrics).toEqual({ ModelQuality: { Statistics: { ContentType: 'application/json', S3Uri: first.evaluation.reportUri } }, Bias: { PostTrainingReport: { ContentType: 'application/json', S3Uri: first.bias.reportUri } } });
    const approval = (await env.ledger().get(first.approval.gateReportId)) as LedgerRecord<'GateReport'>;
    expect(approval.data).toMatchObject({ gate: 'approval', passed: true, modelPackageArn: first.registry.ModelPackageArn, reasons: ['approved by pipeline (automatic: the gates passed)'] });
    expect(first.deployment.deploymentId).toMatch(/^dp-/);
    // the job's archive is recorded with its SHA-256 (what a SageMaker endpoint would serve), hashed as it was read
    const recorded = (await env.ledger().get(first.model.modelVersionId)) as LedgerRecord<'ModelVersion'>;
    const archive = /^s3:\/\/([^/]+)\/(.+)$/.exec(recorded.data.archive!.uri)!;
    const bytes = await (await env.s3.send(new GetObjectCommand({ Bucket: archive[1], Key: archive[2] }))).Body!.transformToByteArray();
    expect(recorded.data.archive).toEqual({ uri: first.training.ModelArtifacts.S3ModelArtifacts, sha256: sha256Hex(bytes) });
    // released to the reference endpoint through its deployer: the first model goes live at once, recorded in the endpoint's chain
    expect(first.releaseStatus).toMatchObject({ done: true, succeeded: true, status: 'Succeeded' });
    expect(await env.ledger().history('endpoint/cps-wages')).toMatchObject([{ kind: 'Deployment', data: { modelVersionId: first.model.modelVersionId, status: 'succeeded', reason: 'initial', functionVersion: '2' } }]);
    expect(env.serving.lambda.getAlias(logicalIdByPath(env.stack.template, 'CdkMlops/Endpoint/Function/Resource'), 'live').FunctionVersion).toBe('2');
    const kinds = (await env.ledger().history('pipeline/cps-wages')).map((r) => r.kind);
    expect(kinds).toEqual(['TrainingRun', 'ModelVersion', 'Deployment']);
    const gates = (await env.ledger().derivedFrom(first.model.modelVersionId)).filter((r) => r.kind === 'GateReport').map((r) => (r as LedgerRecord<'GateReport'>).data.gate);
    expect(gates.sort()).toEqual(['approval', 'bias', 'evaluation']);
    await ledgerOk(env);
  }, 180_000);

  it('retrains a model from its lineage record alone: the same image digest, hyperparameters and input give the same model bytes', async () => {
    const model = (await env.ledger().history('pipeline/cps-wages')).find((r): r is LedgerRecord<'ModelVersion'> => r.kind === 'ModelVersion')!;
    const run = (await env.ledger().get(model.data.trainingRunId)) as LedgerRecord<'TrainingRun'>;
    // the record pins the input: the channel's one object, hashed as it was written
    const { inputs } = run.data;
    expect(inputs).toMatchObject({ holdoutPercent: 20, train: { format: 'csv', rows: expect.any(Number), channel: expect.stringMatching(/^s3:\/\/.+\/snapshots\/dsv-[0-9a-f]+\/train\/$/) } });
    const object = /^s3:\/\/([^/]+)\/(.+)$/.exec(inputs!.train.object)!;
    const written = await (await env.s3.send(new GetObjectCommand({ Bucket: object[1], Key: object[2] }))).Body!.transformToByteArray();
    expect(sha256Hex(written)).toBe(inputs!.train.sha256);
    // WHEN the request built from the record alone is run as a new training job
    const plan = reproduction(run, { jobName: 'cps-wages-repro-1' });
    expect(plan.gaps).toEqual([]);
    const job = await runTrainingJob(plan.request, { s3: env.s3, images: localTrainingImages() });
    // THEN its model is the recorded model, byte for byte
    const archive = /^s3:\/\/([^/]+)\/(.+)$/.exec(job.ModelArtifacts!.S3ModelArtifacts)!;
    const dir = mkdtempSync(path.join(tmpdir(), 'repro-'));
    try {
      writeFileSync(path.join(dir, 'model.tar.gz'), await (await env.s3.send(new GetObjectCommand({ Bucket: archive[1], Key: archive[2] }))).Body!.transformToByteArray());
      await tar.x({ file: path.join(dir, 'model.tar.gz'), cwd: dir });
      expect(sha256Hex(readFileSync(path.join(dir, 'model.onnx')))).toBe(model.data.artifact.sha256);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('a push of the training image retrains, through the template\'s rule and the bundled starter, once per digest; the run records why', async () => {
    if (!(await env.ledger().history('pipeline/cps-wages')).some((r) => r.kind === 'TrainingRun')) await run(env, { datasetVersionId: await ingest(env, 'data/cps-wages/cps-first.csv', cpsCsv()) }, []);
    const newest = (await env.ledger().history('dataset/cps-wages')).filter((r) => r.kind === 'DatasetVersion' && (r as LedgerRecord<'DatasetVersion'>).data.status === 'accepted').at(-1)!;
    const starterId = logicalIdByPath(env.stack.template, 'CdkMlops/TrainingPipeline/Starter/Resource');
    const digest = `sha256:${'5e'.repeat(32)}`;
    const push = (tag: string) => ({ version: '0', id: `push-${tag}`, 'detail-type': 'ECR Image Action', source: 'aws.ecr', account: '000000000000', time: new Date().toISOString(), region: 'us-east-1', resources: [], detail: { result: 'SUCCESS', 'repository-name': 'cdk-mlops-logistic-regression', 'image-digest': digest, 'action-type': 'PUSH', 'image-tag': tag } });
    // WHEN the tag the pipeline trains on is pushed (twice: EventBridge delivers at least once)
    const first = (await env.stack.putEvent(push('latest'))).find((i) => i.functionId === starterId)!;
    const again = (await env.stack.putEvent(push('latest'))).find((i) => i.functionId === starterId)!;
    // THEN one execution on the newest data, named after it and the digest
    expect(first.error).toBeUndefined();
    expect(first.result).toEqual({ started: true, duplicate: false, datasetVersionId: newest.id, executionName: `${newest.id}-image-5e5e5e5e5e5e` });
    expect(again.result).toMatchObject({ started: false, duplicate: true });
    const queued = env.emulators.stepFunctions.started.filter((e) => e.name === `${newest.id}-image-5e5e5e5e5e5e`);
    expect(queued.map((e) => e.input)).toEqual([{ datasetVersionId: newest.id, trigger: { type: 'image-push' } }]);
    // another tag of the repository is not the pipeline's image: the rule does not match
    expect((await env.stack.putEvent(push('experimental'))).find((i) => i.functionId === starterId)).toBeUndefined();
    // AND the queued execution, run, records the push as why it trained
    await runStateMachine(env.stack, env.trainingPipelineId!, queued[0]!.input, { services: localServices({ s3: env.s3, stack: env.stack }), name: queued[0]!.name }).catch(() => undefined);
    const runs = (await env.ledger().history('pipeline/cps-wages')).filter((r): r is LedgerRecord<'TrainingRun'> => r.kind === 'TrainingRun');
    expect(runs.at(-1)!.data).toMatchObject({ executionId: `${newest.id}-image-5e5e5e5e5e5e`, datasetVersionIds: [newest.id], trigger: { type: 'image-push' } });
  }, 180_000);

  it('a challenger worse than the champion on the same holdout is not registered or deployed', async () => {
    const before = await env.ledger().history('pipeline/cps-wages');
    if (!before.some((r) => r.kind === 'Deployment')) await run(env, { datasetVersionId: await ingest(env, 'data/cps-wages/cps-champion.csv', cpsCsv()) }, []); // a champion first
    const dsv = await ingest(env, 'data/cps-wages/cps-worse.csv', cpsCsv());
    const base = localServices({ s3: env.s3, stack: env.stack });
    const sync = 'arn:aws:states:::sagemaker:createTrainingJob.sync';
    const outcome = await runStateMachine(env.stack, env.trainingPipelineId!, { datasetVersionId: dsv }, {
      services: {
        ...base,
        // a worse model: trained to call every wage above 0 high, it predicts "above 10" for everyone
        [sync]: (input) => base[sync]!({ ...(input as object), HyperParameters: { ...(input as any).HyperParameters, label_threshold: '0' } }),
      },
    });
    const out = outcome.output as any;
    expect(out.evaluation.promote).toBe(false);
    expect(out.evaluation.championModelVersionId).toMatch(/^mv-/);
    expect(out.evaluation.reason).toMatch(/^accuracy 0\.\d{4} does not beat the champion's 0\.\d{4} by 0 \(gain -0\.\d{4}\)$/);
    expect(outcome.events.some((e) => e.type === 'StateEntered' && e.state?.name === 'Champion kept')).toBe(true);
    expect(out.registry).toBeUndefined();
    expect(out.deployment).toBeUndefined();
    const evaluation = (await env.ledger().get(out.evaluation.gateReportId)) as LedgerRecord<'GateReport'>;
    expect(evaluation).toMatchObject({ data: { gate: 'evaluation', passed: false }, parents: [dsv, out.model.modelVersionId, out.evaluation.championModelVersionId] });
    const history = await env.ledger().history('pipeline/cps-wages');
    expect(history.at(-1)!.kind).toBe('ModelVersion'); // recorded, judged, not deployed
    await ledgerOk(env);
  }, 180_000);

  it('runs one execution at a time: a second upload waits for the running one, then is judged against its model', async () => {
    const a = await ingest(env, 'data/cps-wages/cps-a.csv', cpsCsv());
    const b = await ingest(env, 'data/cps-wages/cps-b.csv', cpsCsv());
    const order: string[] = [];
    let busy = 0;
    const steps = logicalIdByPath(env.stack.template, 'CdkMlops/TrainingPipeline/Steps/Resource');
    const options = (name: string) => ({
      name,
      services: localServices({ s3: env.s3, stack: env.stack }),
      // 99 attempts (the state's MaxAttempts) 100 ms apart: ~10 s for the first execution to finish, ample on a loaded machine
      retryIntervals: { 'Wait for turn': 100 },
      taskOverrides: {
        'Wait for turn': (input: unknown) =>
          env.stack.invoke(steps, input).catch((err: Error) => {
            if (err.name === 'PipelineBusyError') busy++;
            throw err;
          }),
      },
      onEvent: (e: { type: string; state?: { name: string } }) => {
        if (e.type === 'StateEntered' && (e.state?.name === 'Train' || e.state?.name === 'Deployed')) order.push(`${name}:${e.state.name}`);
      },
    });
    const first = runStateMachine(env.stack, env.trainingPipelineId!, { datasetVersionId: a }, options('first'));
    await new Promise((r) => setTimeout(r, 5));
    const second = runStateMachine(env.stack, env.trainingPipelineId!, { datasetVersionId: b }, options('second'));
    const [one, two] = (await Promise.all([first, second])).map((r) => r.output as any);
    expect(busy).toBeGreaterThan(0); // the second waited its turn
    expect(order).toEqual(['first:Train', 'first:Deployed', 'second:Train', 'second:Deployed']);
    expect(two.evaluation.championModelVersionId).toBe(one.model.modelVersionId);
    await ledgerOk(env);
  }, 180_000);
});

describe('TrainingPipeline with manual approval and Inferentia compilation', () => {
  let env: LocalEnvironment;
  beforeAll(async () => {
    env = await startLocal({
      bundle: true,
      context: { 'cdk-mlops:trainingPipeline': { ...REFERENCE, approval: 'manual', approvalTimeoutHours: 48, compileForInferentia: NEO } },
    });
  }, 180_000);
  afterAll(async () => env?.stop());

  it('asks for approval with a task token; approved: the package is Approved, compiled for ml_inf2, recorded, deployed', async () => {
    const dsv = await ingest(env, 'data/cps-wages/cps.csv', cpsCsv());
    const notifications: Notification[] = [];
    const sageMaker = new LocalSageMaker({ s3: env.s3, groups: templateModelPackageGroups(env.stack) });
    const asked: string[] = [];
    const services = localServices({
      s3: env.s3,
      stack: env.stack,
      notifications,
      sageMaker,
      approver: (request) => {
        asked.push(request.taskToken);
        // the package waits while a person decides
        expect(sageMaker.packages[0]!.approvalStatus).toBe('PendingManualApproval');
        return { approved: true, by: 'ana@example.com', comment: 'holdout accuracy fine' };
      },
    });
    const out = (await runStateMachine(env.stack, env.trainingPipelineId!, { datasetVersionId: dsv }, { services })).output as any;
    expect(asked).toHaveLength(1);
    expect(notifications[0]!.subject).toBe('cdk-mlops: a model waits for approval');
    expect(String(notifications[0]!.message)).toContain(`npx cdk-mlops pipeline approve --by YOUR-NAME --token ${asked[0]}`);
    expect(sageMaker.packages[0]).toMatchObject({ approvalStatus: 'Approved', approvalDescription: 'approved by ana@example.com: holdout accuracy fine' });
    const approval = (await env.ledger().get(out.approval.gateReportId)) as LedgerRecord<'GateReport'>;
    expect(approval.data).toMatchObject({ gate: 'approval', passed: true, reasons: ['approved by ana@example.com: holdout accuracy fine'] });
    // Neo: what the real call would have received
    const job = [...sageMaker.compilationJobs.values()][0]!;
    expect(job.request).toMatchObject({
      CompilationJobName: out.prepare.compilationJobName,
      InputConfig: { S3Uri: out.training.ModelArtifacts.S3ModelArtifacts, Framework: 'PYTORCH', FrameworkVersion: '1.13', DataInputConfig: '{"features": [1, 1]}' },
      OutputConfig: { TargetDevice: 'ml_inf2', S3OutputLocation: `s3://${env.artifactsBucket}/training/cps-wages/compiled` },
    });
    expect(job.describes).toBe(2); // polled: in progress, then completed
    const compiled = (await env.ledger().get(out.compiled.compiledModelVersionId)) as LedgerRecord<'ModelVersion'>;
    expect(compiled).toMatchObject({ parents: [out.model.modelVersionId], data: { format: 'neo:ml_inf2', artifact: { uri: job.output } } });
    expect(out.deployment.deploymentId).toMatch(/^dp-/);
    await ledgerOk(env);
  }, 180_000);

  it('rejected: the package is Rejected, the rejection recorded and notified, nothing compiled or deployed', async () => {
    const dsv = await ingest(env, 'data/cps-wages/cps-r.csv', cpsCsv());
    const notifications: Notification[] = [];
    const sageMaker = new LocalSageMaker({ s3: env.s3, groups: templateModelPackageGroups(env.stack) });
    const services = localServices({ s3: env.s3, stack: env.stack, notifications, sageMaker, approver: () => ({ approved: false, by: 'bo', comment: 'wait for the Q4 data' }) });
    const err = (await runStateMachine(env.stack, env.trainingPipelineId!, { datasetVersionId: dsv }, { services }).catch((e: unknown) => e)) as Error & { cause?: Error };
    expect(err.cause).toMatchObject({ name: 'approval', message: expect.stringMatching(/^approval: model mv-\w+ rejected by bo: wait for the Q4 data$/) });
    expect(sageMaker.packages[0]).toMatchObject({ approvalStatus: 'Rejected', approvalDescription: 'rejected by bo: wait for the Q4 data' });
    expect(sageMaker.compilationJobs.size).toBe(0);
    expect(notifications.map((n) => n.subject)).toEqual(['cdk-mlops: a model waits for approval', 'cdk-mlops: training pipeline stopped']);
    const last = (await env.ledger().history('pipeline/cps-wages')).at(-1) as LedgerRecord<'Incident'>;
    expect(last).toMatchObject({ kind: 'Incident', data: { type: 'pipeline-failure', reason: expect.stringContaining('rejected by bo') } });
    await ledgerOk(env);
  }, 180_000);

  it('a failed compilation job is an Incident with its FailureReason', async () => {
    const dsv = await ingest(env, 'data/cps-wages/cps-c.csv', cpsCsv());
    const sageMaker = new LocalSageMaker({ s3: env.s3, groups: templateModelPackageGroups(env.stack), compilationFailure: 'ClientError: InputConfiguration: Unable to load the PyTorch model' });
    const services = localServices({ s3: env.s3, stack: env.stack, sageMaker });
    const err = (await runStateMachine(env.stack, env.trainingPipelineId!, { datasetVersionId: dsv }, { services }).catch((e: unknown) => e)) as Error & { cause?: Error };
    expect(err.cause).toMatchObject({ name: 'compilation', message: 'compilation: ClientError: InputConfiguration: Unable to load the PyTorch model' });
    await ledgerOk(env);
  }, 180_000);

  it('a Neo-compiled champion (what an Inferentia endpoint serves) is judged as the model it was compiled from', async () => {
    // Prepare: the endpoint serves the compiled model of the first test (as a SageMaker release records it)
    const compiled = (await env.ledger().history('pipeline/cps-wages')).find((r): r is LedgerRecord<'ModelVersion'> => r.kind === 'ModelVersion' && (r as LedgerRecord<'ModelVersion'>).data.format === 'neo:ml_inf2')!;
    expect(compiled.data.signature).toBeUndefined();
    await env.ledger().append({ kind: 'Deployment', id: 'dp-neo-champion', subject: 'endpoint/cps-wages', parents: [compiled.id], data: { endpoint: 'cps-wages', modelVersionId: compiled.id, strategy: 'blue/green canary 10%', reason: 'manual', status: 'succeeded' } });
    const dsv = await ingest(env, 'data/cps-wages/cps-n.csv', cpsCsv());
    const sageMaker = new LocalSageMaker({ s3: env.s3, groups: templateModelPackageGroups(env.stack) });
    const services = localServices({ s3: env.s3, stack: env.stack, sageMaker, approver: () => ({ approved: true, by: 'ana', comment: 'ok' }) });
    // Act
    const out = (await runStateMachine(env.stack, env.trainingPipelineId!, { datasetVersionId: dsv }, { services })).output as any;
    // Assess: the champion named is the serving (compiled) model; it was scored (through its source's ONNX model)
    expect(out.evaluation.championModelVersionId).toBe(compiled.id);
    const gate = (await env.ledger().get(out.evaluation.gateReportId)) as LedgerRecord<'GateReport'>;
    expect(gate.data.metrics['champion.accuracy']).toEqual(expect.any(Number));
    expect(gate.data.metrics['champion.accuracy']).toBeGreaterThan(0.5);
    await ledgerOk(env);
  }, 180_000);
});

describe('TrainingPipeline releasing to an Inferentia SageMaker endpoint (cdk-mlops:sageMakerEndpoint, releaseTo)', () => {
  let env: LocalEnvironment;
  beforeAll(async () => {
    env = await startLocal({
      bundle: true,
      context: {
        'cdk-mlops:trainingPipeline': { ...REFERENCE, releaseTo: 'sageMakerEndpoint', compileForInferentia: NEO },
        'cdk-mlops:sageMakerEndpoint': { name: 'cps-wages-inf2', repository: 'cps-inference', initialModelDataUrl: 's3://models-bucket/cps/initial.tar.gz', instanceType: 'ml.inf2.xlarge' },
      },
    });
  }, 180_000);
  afterAll(async () => env?.stop());

  /** The SageMaker endpoint's deployer, as the pipeline calls it (SageMaker hosting has no local stand-in): what it was asked, and the outcome given. */
  function deployer(outcome: Record<string, unknown>): { asked: Record<string, unknown>[]; overrides: Record<string, (input: unknown) => Promise<unknown>> } {
    const asked: Record<string, unknown>[] = [];
    return {
      asked,
      overrides: {
        'Start release': async (input) => {
          const i = input as Record<string, unknown>;
          asked.push(i);
          return { done: false, modelVersionId: i.modelVersionId, previousModelVersionId: null, reason: 'retrain', currentVersion: 'cps-wages-inf2-initial', targetVersion: 'cps-wages-inf2-next', deploymentId: 'cps-wages-inf2-next' };
        },
        'Check release': async (input) => {
          asked.push(input as Record<string, unknown>);
          return outcome;
        },
      },
    };
  }

  it('releases the Neo-compiled model through the endpoint deployer and records that model; a guardrail rollback stops the run with an Incident', async () => {
    // Act 1: the release succeeds
    const dsv = await ingest(env, 'data/cps-wages/cps.csv', cpsCsv());
    const sageMaker = new LocalSageMaker({ s3: env.s3, groups: templateModelPackageGroups(env.stack) });
    const ok = deployer({ done: true, status: 'Succeeded', succeeded: true });
    const out = (await runStateMachine(env.stack, env.trainingPipelineId!, { datasetVersionId: dsv }, { services: localServices({ s3: env.s3, stack: env.stack, sageMaker }), taskOverrides: ok.overrides })).output as any;
    // Assess 1: the compiled model (not the trained one) was released, then recorded
    const compiled = out.compiled.compiledModelVersionId as string;
    expect(compiled).not.toBe(out.model.modelVersionId);
    expect(ok.asked[0]).toEqual({ operation: 'release', modelVersionId: compiled });
    expect(ok.asked[1]).toMatchObject({ operation: 'check', release: { modelVersionId: compiled, targetVersion: 'cps-wages-inf2-next' } });
    const deployment = (await env.ledger().get(out.deployment.deploymentId)) as LedgerRecord<'Deployment'>;
    expect(deployment).toMatchObject({ subject: 'pipeline/cps-wages', parents: [compiled], data: { endpoint: 'cps-wages-inf2', modelVersionId: compiled, strategy: 'released:endpoint/cps-wages-inf2' } });

    // Act 2: SageMaker's guardrails roll the next update back
    const dsv2 = await ingest(env, 'data/cps-wages/cps-2.csv', cpsCsv());
    const notifications: Notification[] = [];
    const rolledBack = deployer({ done: true, status: 'RolledBack', succeeded: false, reason: 'SageMaker kept endpoint config cps-wages-inf2-initial (an alarm of the update\'s guardrails fired)' });
    const err = (await runStateMachine(env.stack, env.trainingPipelineId!, { datasetVersionId: dsv2 }, { services: localServices({ s3: env.s3, stack: env.stack, sageMaker, notifications }), taskOverrides: rolledBack.overrides }).catch((e: unknown) => e)) as Error & { cause?: Error };
    // Assess 2: no Deployment recorded for it; an Incident with the reason, notified
    expect(err.cause).toMatchObject({ name: 'release', message: expect.stringContaining("an alarm of the update's guardrails fired") });
    const last = (await env.ledger().history('pipeline/cps-wages')).at(-1) as LedgerRecord<'Incident'>;
    expect(last).toMatchObject({ kind: 'Incident', data: { type: 'pipeline-failure', reason: expect.stringContaining('guardrails fired') } });
    expect(notifications.map((n) => n.subject)).toEqual(['cdk-mlops: training pipeline stopped']);
    await ledgerOk(env);
  }, 180_000);
});
