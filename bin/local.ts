import './local/node20';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { LedgerStore } from '../lambdas/shared/ledger-store';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { dynamoDocumentClient, s3Client } from '../lambdas/shared/clients';
import type { GateVerdict } from '../lambdas/shared/gate-report';
import type { IngestOutcome } from '../lambdas/ingest/ingest';
import { startEmulators } from './local/emulators';
import { LocalStack } from './local/local-stack';
import { findLogicalIdByPath, logicalIdByPath } from './local/cloud-assembly';
import { uploadWithEvent } from './local/s3-events';
import { cpsCsv, cpsJsonLines, cpsParquet, cpsRows, shiftedWorld, type CpsRow } from './local/sample-data';
import { templateModelPackageGroups } from './local/services';
import { describeAlarmChanges, describeDrift, describeTraffic, runDriftMonitor, runPipeline, scheduleOf, sendTraffic, type PipelineRun } from './local/lifecycle';
import { renderHtmlReport } from './local/html-report';
import { cdkJsonContext } from './app';
import { executionNameFor } from '../lambdas/core/pipeline';
import type { MonitorResult } from '../lambdas/drift-monitor/monitor';
import { DEFAULT_TRAFFIC_DRIFT_THRESHOLDS } from '../lambdas/core/traffic-drift';
import { servingLineage } from '../lambdas/shared/serving-lineage';
import { LocalSageMaker } from './local/sagemaker-registry';
import { renderLedgerReport, type EndpointRequest } from './local/report';
import { startLocalServing } from './local/serving';
import { runStateMachine, type EventLog } from './local/state-machine';
import { synthesize } from './local/synth';

/*
 * `npm start`: the whole lifecycle, run locally on the synthesized stack.
 * Synth -> emulators up -> buckets/tables from the template -> real dataset
 * files uploaded, their S3 events routed through the template's rule to the
 * bundled ingest Lambda -> gates -> the training pipeline from the template
 * (train, evaluate, bias, register, approve) -> v1 released to the ONNX
 * endpoint -> real HTTP traffic -> the world changes (new data, drifted
 * traffic) -> the drift monitor's metrics trip the template's drift alarm,
 * whose rule starts a retraining (drift Incident) -> v2 released by canary ->
 * a deliberately bad release -> its health alarm's rule rolls it back ->
 * ledger verified -> Markdown and HTML reports. State is kept in local-run/
 * (fresh each run) so `npx cdk-mlops lineage ... --local` can query it afterwards.
 */

const ROOT = path.resolve(__dirname, '..');
/** The reference app's settings (cdk.json context), read once. */
const CDK_CONTEXT = cdkJsonContext();
/** The reference endpoint (cdk.json `cdk-mlops:endpoint`). */
const ENDPOINT = (CDK_CONTEXT['cdk-mlops:endpoint'] as { name: string }).name;
/** The drift monitor's PSI threshold, drawn on the report's chart. */
const PSI_THRESHOLD = (CDK_CONTEXT['cdk-mlops:driftMonitor'] as { thresholds?: { psi?: number } } | undefined)?.thresholds?.psi ?? DEFAULT_TRAFFIC_DRIFT_THRESHOLDS.psi;
const OUTDIR = path.join(ROOT, 'cdk.out');
const RUN_DIR = path.join(ROOT, 'local-run');

async function main(): Promise<void> {
  const t0 = Date.now();
  const step = (msg: string): void => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}`);

  step(`synthesizing the app (cdk-nag AwsSolutions on; demo settings: shards above ${DEMO_CONTEXT['cdk-mlops:shardThresholdKiB']} KiB, ${DEMO_CONTEXT['cdk-mlops:shardSizeKiB']} KiB each; ${DEMO_CONTEXT['cdk-mlops:endpoint'].captureSampleRate * 100}% of requests captured) ...`);
  const stackName = synthesize(OUTDIR, DEMO_CONTEXT);

  rmSync(RUN_DIR, { recursive: true, force: true });
  mkdirSync(RUN_DIR, { recursive: true });
  const emulators = await startEmulators({ dataDir: path.join(RUN_DIR, 'emulators') });
  let stopServing = (): Promise<void> => Promise.resolve();
  step(`emulators up: S3 ${emulators.s3Endpoint}, DynamoDB ${emulators.dynamoEndpoint}`);
  try {
    const stack = await LocalStack.start({ outdir: OUTDIR, stackName, emulators, functionEnv: { POWERTOOLS_LOG_LEVEL: 'WARN' } });
    let canaryTraffic: { rows: readonly Record<string, unknown>[]; requests: number; rowsPerRequest?: number } | undefined;
    // Lambda versions and aliases, CodeDeploy and CloudWatch alarms; each canary interval carries `canaryTraffic`
    const serving = await startLocalServing(stack, {
      traffic: async () => {
        if (canaryTraffic) await sendTraffic(url, canaryTraffic.rows, { requests: canaryTraffic.requests, rowsPerRequest: canaryTraffic.rowsPerRequest ?? LIFECYCLE.rowsPerRequest, start: 3 });
      },
    });
    stopServing = () => serving.close();
    // the endpoint's Function URL, served over HTTP (503 until a model is released)
    const endpointFn = logicalIdByPath(stack.template, `${stackName}/Endpoint/Function/Resource`);
    const url = await serving.serve(endpointFn);
    const dataBucket = stack.output('DataBucketName');
    const artifactsBucket = stack.output('ArtifactsBucketName');
    const ledgerBucket = stack.output('LedgerBucketName');
    const tableName = stack.output('LedgerTableName');
    const prefix = stack.output('DataPrefix');
    step(`stack ${stackName} provisioned from the template: data bucket ${dataBucket}, ledger table ${tableName}`);
    const state = { stackName, outdir: OUTDIR, dataBucket, artifactsBucket, ledgerBucket, tableName, wormPrefix: 'ledger/' };
    writeFileSync(path.join(RUN_DIR, 'state.json'), JSON.stringify(state, null, 2));

    const s3 = s3Client(emulators.env);
    const ingestId = logicalIdByPath(stack.template, `${stackName}/Ingest/Function/Resource`);
    const uploads: { label: string; key: string; body: Uint8Array | string; contentType: string }[] = [
      { label: 'CPS 1985 wages, CSV', key: `${prefix}cps-wages/cps-1985.csv`, body: cpsCsv(), contentType: 'text/csv' },
      { label: 'same data, JSON Lines', key: `${prefix}cps-wages-jsonl/cps-1985.jsonl`, body: cpsJsonLines(), contentType: 'application/x-ndjson' },
      { label: 'same data, Parquet', key: `${prefix}cps-wages-parquet/cps-1985.parquet`, body: await cpsParquet(), contentType: 'application/vnd.apache.parquet' },
      { label: 'a Latin-1 file (not UTF-8)', key: `${prefix}cps-wages/latin1-notes.csv`, body: Buffer.from('name,city\nJos\xe9,M\xe1laga\n', 'latin1'), contentType: 'text/csv' },
      { label: 'an empty file', key: `${prefix}cps-wages/empty.csv`, body: Buffer.alloc(0), contentType: 'text/csv' },
    ];
    const outcomes: { label: string; outcome: IngestOutcome }[] = [];
    let firstEvent: Record<string, unknown> | undefined;
    for (const u of uploads) {
      const event = await uploadWithEvent(s3, { Bucket: dataBucket, Key: u.key, Body: u.body, ContentType: u.contentType });
      firstEvent ??= event;
      outcomes.push({ label: u.label, outcome: await deliver(stack, event, ingestId) });
    }
    outcomes.push({ label: 'duplicate event for the CSV', outcome: await deliver(stack, firstEvent!, ingestId) });
    for (const { label, outcome } of outcomes) {
      const verdict = outcome.duplicate ? 'duplicate (already recorded)' : outcome.status === 'accepted' ? 'accepted' : `rejected: ${outcome.reason}`;
      step(`ingest ${label.padEnd(30)} -> ${outcome.recordId} ${verdict}`);
    }

    // The gates, bundled from cdk.out, on the CSV version: a contract first, then validation and bias.
    await s3.send(new PutObjectCommand({ Bucket: artifactsBucket, Key: 'contracts/cps-wages.yaml', Body: CPS_CONTRACT }));
    const gateVersion = outcomes[0]!.outcome.recordId;
    const gates: { gate: string; verdict: GateVerdict }[] = [];
    for (const [gate, path] of [['validation', 'ValidationGate'], ['bias', 'BiasGate']] as const) {
      const id = findLogicalIdByPath(stack.template, `${stackName}/${path}/Function/Resource`);
      if (!id) continue; // the bias gate is optional (cdk.json context cdk-mlops:biasGate)
      const verdict = (await stack.invoke(id, { datasetVersionId: gateVersion })) as GateVerdict;
      gates.push({ gate, verdict });
      step(`${gate} gate on ${gateVersion}: ${verdict.passed ? 'passed' : `FAILED — ${verdict.reasons.join('; ')}`}`);
    }

    // 1. The training pipeline from the template on the CSV version, started as
    // `cdk-mlops pipeline start` does (named after the version): validation, a
    // SageMaker training job run locally (the example TypeScript trainer, mapped
    // to the image in cdk.json), the model recorded, evaluated, the bias gate on
    // it, registered, approved, and released to the endpoint (the first model at once).
    const ledger = new LedgerStore({ ddb: dynamoDocumentClient(emulators.env), s3, tableName, wormBucket: ledgerBucket });
    const pipelineId = logicalIdByPath(stack.template, `${stackName}/TrainingPipeline/Resource`);
    const pipelineArn = stack.physical.get(pipelineId)!.attributes.Arn!;
    const sageMaker = new LocalSageMaker({ s3, groups: templateModelPackageGroups(stack) });
    const pipelines: { name: string; input: string; outcome: string }[] = [];
    const verbose = (e: EventLog): void => {
      if (e.type === 'StateEntered' && e.state && e.state.type !== 'Choice' && e.state.type !== 'Pass') step(`  ▶ ${e.state.name}`);
      if (e.type === 'StateRetried') step(`  ↻ ${e.state?.name} retried`);
      if (e.type === 'StateCaught') step(`  ✗ ${e.state?.name} failed, caught`);
    };
    const pipeline = async (input: { datasetVersionId: string }, name: string, why: string): Promise<PipelineRun> => {
      const { datasetVersionId } = input;
      step(`TrainingPipeline execution '${name}' (${why}):`);
      const run = await runPipeline(stack, pipelineId, input, { name, s3, sageMaker, onEvent: verbose });
      pipelines.push({ name: 'TrainingPipeline', input: datasetVersionId, outcome: run.outcome });
      step(`TrainingPipeline on ${datasetVersionId}: ${run.outcome}${run.notifications ? ` (${run.notifications} SNS notification${run.notifications > 1 ? 's' : ''} sent)` : ''}`);
      return run;
    };
    const csvVersion = outcomes[0]!.outcome.recordId;
    const first = await pipeline({ datasetVersionId: csvVersion }, executionNameFor(csvVersion), 'started like `cdk-mlops pipeline start`');
    const v1 = first.output?.model?.modelVersionId;
    if (!v1 || !first.output?.releaseStatus?.succeeded) throw new Error(`the first training run released no model: ${first.outcome}`);

    // 2. The endpoint it was released to, served over HTTP on 127.0.0.1 as its Function URL: real requests.
    const requests: EndpointRequest[] = [];
    const ask = async (label: string, body: string): Promise<void> => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const answer = (await res.json()) as { modelVersionId?: string; predictions?: number[]; errors?: { field: string; message: string }[] };
      const detail = answer.predictions ? `predictions ${answer.predictions.map((p) => p.toFixed(3)).join(', ')}` : (answer.errors ?? []).map((e) => `${e.field}: ${e.message}`).join('; ');
      requests.push({ label, status: res.status, modelVersionId: res.headers.get('x-model-version-id'), version: res.headers.get('x-local-executed-version'), detail });
      step(`endpoint ${url} POST ${label} -> ${res.status} (model ${res.headers.get('x-model-version-id') ?? '-'}, Lambda version ${res.headers.get('x-local-executed-version')}): ${detail}`);
    };
    const sample = cpsRows().slice(0, 5).map((r) => ({ education: r.education, experience: r.experience, gender: r.gender }));
    await ask('5 CPS rows', JSON.stringify({ rows: sample }));
    await ask('the same rows as columns', JSON.stringify({ columns: { education: sample.map((r) => r.education) } }));
    await ask('a bad request (education "twelve", then 45)', JSON.stringify({ rows: [{ education: 'twelve' }, { education: 45 }] }));
    await ask('not JSON', 'education=12');

    // 3. Traffic like the training data; the drift monitor (its schedule rule's target) finds none.
    const monitorId = logicalIdByPath(stack.template, `${stackName}/DriftMonitor/Function/Resource`);
    const monitorRule = scheduleOf(stack, monitorId);
    const driftRuns: { phase: string; result: MonitorResult }[] = [];
    const alarmLog: string[] = [];
    const monitor = async (phase: string, since: number): Promise<MonitorResult> => {
      const result = await runDriftMonitor(stack, monitorRule);
      driftRuns.push({ phase, result });
      step(`drift monitor (${phase}): ${describeDrift(result)}`);
      await alarms(since);
      return result;
    };
    const alarms = async (since: number): Promise<void> => {
      const { transitions, invocations } = await serving.alarms.evaluate(since);
      for (const line of describeAlarmChanges(stack, transitions, invocations)) {
        alarmLog.push(line);
        step(line);
      }
    };
    const features = (rows: readonly CpsRow[]): Record<string, unknown>[] => rows.map((r) => ({ education: r.education, experience: r.experience, gender: r.gender }));
    const before = features(cpsRows());
    const after = features(shiftedWorld());
    let phase = Date.now();
    step(`traffic like the training data: ${describeTraffic(await sendTraffic(url, before, { requests: LIFECYCLE.normalRequests, rowsPerRequest: LIFECYCLE.rowsPerRequest }))}`);
    await monitor('traffic like the training data', phase);

    // 4. The world changes: new labelled data lands in the lake, and the traffic drifts with it.
    phase = Date.now();
    const newKey = `${prefix}cps-wages/cps-shifted.csv`;
    const newData = await deliver(stack, await uploadWithEvent(s3, { Bucket: dataBucket, Key: newKey, Body: cpsCsv(shiftedWorld()), ContentType: 'text/csv' }), ingestId);
    outcomes.push({ label: 'the shifted world, CSV', outcome: newData });
    step(`the world changes: new data s3://${dataBucket}/${newKey} ingested -> ${newData.recordId} ${newData.status} (4 more years of schooling, wages +30%)`);
    step(`drifted traffic: ${describeTraffic(await sendTraffic(url, after, { requests: LIFECYCLE.driftedRequests, rowsPerRequest: LIFECYCLE.rowsPerRequest }))}`);
    await monitor('drifted traffic', phase);

    // 5. The drift alarm reached the pipeline's starter through the template's rule: a
    // drift Incident, and one retraining on the newest data. Run what it started.
    const queued = emulators.stepFunctions.started.filter((e) => e.stateMachineArn === pipelineArn);
    if (queued.length === 0) throw new Error('the drift alarm started no retraining');
    canaryTraffic = { rows: after, requests: LIFECYCLE.canaryRequests };
    let v2: string | undefined;
    for (const q of queued) {
      const run = await pipeline(q.input as { datasetVersionId: string }, q.name, 'started by the drift alarm');
      v2 = run.output?.model?.modelVersionId ?? v2;
    }
    if (!v2) throw new Error('the retraining released no model');
    phase = Date.now();
    step(`drifted traffic after the release: ${describeTraffic(await sendTraffic(url, after, { requests: LIFECYCLE.driftedRequests, rowsPerRequest: LIFECYCLE.rowsPerRequest, start: 7 }))}`);
    await monitor(`after the retraining (${v2})`, phase);

    // 6. A deliberately bad release: the stale model v1 again, by hand. Its canary sees too few
    // rows to judge; right after the release its prediction shift trips the health alarm, whose
    // rule sends the deployer back to the previous model.
    const releaseId = logicalIdByPath(stack.template, `${stackName}/Endpoint/ReleaseStateMachine/Resource`);
    canaryTraffic = { rows: after, requests: LIFECYCLE.badCanaryRequests, rowsPerRequest: 1 };
    const bad = await runStateMachine(stack, releaseId, { modelVersionId: v1 }, { name: `release-${v1}-manual` }).then(
      (r) => `released (${JSON.stringify((r.output as { releaseStatus?: { status: string } }).releaseStatus?.status)})`,
      (err: Error & { cause?: Error }) => `stopped: ${err.cause?.message ?? err.message}`,
    );
    step(`a deliberately bad release: the stale model ${v1} again, by hand -> ${bad}`);
    phase = Date.now();
    step(`traffic right after it: ${describeTraffic(await sendTraffic(url, after, { requests: LIFECYCLE.driftedRequests, rowsPerRequest: LIFECYCLE.rowsPerRequest, start: 13 }))}`);
    await alarms(phase);
    await ask('5 rows of the shifted world, after the rollback', JSON.stringify({ rows: after.slice(0, 5) }));

    // The dataset-validation state machine on the JSON Lines version: the
    // template's definition run by aws-local-stepfunctions, its Distributed Map
    // as an inline Map over the same shards, every task on its bundled Lambda.
    const jsonlVersion = outcomes[1]!.outcome.recordId;
    const validation = await runStateMachine(stack, logicalIdByPath(stack.template, `${stackName}/DatasetValidation/Resource`), { datasetVersionId: jsonlVersion });
    const out = validation.output as { plan: { shards: unknown[] }; sharding: { merged: boolean; rows?: number; reason?: string }; validation: GateVerdict };
    const workflows = [{ name: 'DatasetValidation', input: jsonlVersion, shards: out.plan.shards.length, merged: out.sharding.merged, detail: out.sharding.merged ? `${out.sharding.rows} rows merged` : out.sharding.reason ?? '', verdict: out.validation }];
    gates.push({ gate: 'validation (state machine, sharded)', verdict: out.validation });
    step(`DatasetValidation state machine on ${jsonlVersion}: ${out.plan.shards.length} shards profiled in parallel, ${out.sharding.merged ? `merged (${out.sharding.rows} rows)` : `not merged: ${out.sharding.reason}`}; gate ${out.validation.passed ? 'passed' : `FAILED — ${out.validation.reasons.join('; ')}`}`);

    const reports = await ledger.verifyAll();
    const histories = await Promise.all(reports.map(async (r) => ({ chain: r.chain, records: await ledger.history(r.chain) })));
    for (const r of reports) step(`verify ${r.chain}: ${r.ok ? 'OK' : 'FAILED'} (${r.length} links, head ${r.head.slice(0, 12)}…)${r.problems.map((p) => `\n        ${p.message}`).join('')}`);

    const { lineage } = await servingLineage(ledger, ENDPOINT);
    if (lineage) step(`endpoint ${ENDPOINT} serves ${lineage.serving.data.modelVersionId} (${lineage.serving.data.reason}, Lambda version ${lineage.serving.data.functionVersion ?? '-'}), trained on ${lineage.ancestors.filter((a) => a.kind === 'DatasetVersion').map((a) => a.id).join(', ')}`);
    const incidents = histories.flatMap((h) => h.records).filter((r) => r.kind === 'Incident');
    for (const i of incidents) step(`incident ${i.id} (${(i.data as { type: string }).type}): ${(i.data as { reason: string }).reason}`);

    const summary = { stackName, outcomes, gates, workflows, pipelines, requests, driftRuns, alarmLog, lineage, reports, histories };
    const reportPath = path.join(RUN_DIR, 'report.md');
    writeFileSync(reportPath, renderLedgerReport({ stackName, outcomes, gates, workflows, pipelines, requests, reports, histories }));
    writeFileSync(path.join(RUN_DIR, 'report.json'), JSON.stringify(summary, null, 2));
    const htmlPath = path.join(RUN_DIR, 'report.html');
    writeFileSync(htmlPath, renderHtmlReport({ stackName, gates, pipelines, requests, driftRuns, alarmLog, psiThreshold: PSI_THRESHOLD, ...(lineage ? { lineage } : {}), reports, histories }));
    step(`reports written: ${path.relative(process.cwd(), htmlPath)} (lineage graph, drift chart, gates), ${path.relative(process.cwd(), reportPath)}`);
    step(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s. Query it: npx cdk-mlops endpoint serving ${ENDPOINT} --local`);
    if (reports.some((r) => !r.ok)) process.exitCode = 1;
  } finally {
    await stopServing();
    await emulators.stop();
  }
}

/**
 * What the local run changes in cdk.json's settings: tiny shards, so the 30 KB
 * sample files split into several (a deploy: above 512 MiB, 128 MiB each);
 * every request captured (cdk.json: 5%), so a few hundred requests give the
 * drift monitor enough rows, and the same rows each run; and the ONNX endpoint
 * takes the releases and the drift monitor even where cdk.json gives them to a
 * SageMaker endpoint (SageMaker hosting has no local stand-in).
 */
const DEMO_CONTEXT = {
  'cdk-mlops:shardThresholdKiB': 8,
  'cdk-mlops:shardSizeKiB': 4,
  'cdk-mlops:endpoint': { ...(CDK_CONTEXT['cdk-mlops:endpoint'] as object), captureSampleRate: 1 },
  ...onTheOnnxEndpoint('trainingPipeline', 'releaseTo'),
  ...onTheOnnxEndpoint('driftMonitor', 'watch'),
};

/** cdk.json's `cdk-mlops:<setting>` with `<choice>` on the ONNX endpoint, when it names the SageMaker one. */
function onTheOnnxEndpoint(setting: string, choice: string): Record<string, unknown> {
  const value = CDK_CONTEXT[`cdk-mlops:${setting}`] as Record<string, unknown> | undefined;
  if (value?.[choice] !== 'sageMakerEndpoint') return {};
  console.log(`note: cdk.json's ${setting}.${choice} is the SageMaker endpoint; the local run uses the ONNX endpoint (SageMaker hosting has no local stand-in)`);
  return { [`cdk-mlops:${setting}`]: { ...value, [choice]: 'endpoint' } };
}

/**
 * Traffic of the lifecycle, in requests of `rowsPerRequest` rows. A container
 * reports its prediction shift after 100 rows: the bad release's canary
 * (single rows, 10% of them) stays below that, the traffic after it does not.
 */
const LIFECYCLE = { rowsPerRequest: 20, normalRequests: 150, driftedRequests: 100, canaryRequests: 100, badCanaryRequests: 40 };

/** The reference contract for the CPS data (what `suggestContract` proposes, reviewed). */
const CPS_CONTRACT = `version: 1
rows: { min: 100 }
columns:
  wage: { type: float, nullable: false, min: 0 }
  education: { type: integer, nullable: false, min: 0, max: 30 }
  age: { type: integer, nullable: false, min: 14, max: 100 }
  gender: { type: string, allowedValues: [female, male] }
  race: { type: string, allowedValues: [hispanic, other, white] }
`;

async function deliver(stack: LocalStack, event: Record<string, unknown>, ingestId: string): Promise<IngestOutcome> {
  const invocations = await stack.putEvent(event);
  const mine = invocations.find((i) => i.functionId === ingestId);
  if (!mine) throw new Error('the S3 event matched no ingest rule');
  if (mine.error) throw mine.error;
  return mine.result as IngestOutcome;
}

main().catch((err: unknown) => {
  console.error(`npm start failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
