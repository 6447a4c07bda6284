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
import { cpsCsv, cpsJsonLines, cpsParquet, cpsRows } from './local/sample-data';
import { localServices, templateModelPackageGroups, type Notification } from './local/services';
import { LocalSageMaker } from './local/sagemaker-registry';
import { renderLedgerReport, type EndpointRequest } from './local/report';
import { startLocalServing } from './local/serving';
import { runStateMachine } from './local/state-machine';
import { synthesize } from './local/synth';

/*
 * `npm start`: the lifecycle that exists so far, run locally on the synthesized
 * stack. Synth -> emulators up -> buckets/tables from the template -> real
 * dataset files uploaded -> S3 events routed through the template's rule to
 * the bundled ingest Lambda -> ledger printed and verified -> report written.
 * State is kept in local-run/ (fresh each run) so `npx cdk-mlops lineage ... --local`
 * can query it afterwards.
 */

const ROOT = path.resolve(__dirname, '..');
const OUTDIR = path.join(ROOT, 'cdk.out');
const RUN_DIR = path.join(ROOT, 'local-run');

async function main(): Promise<void> {
  const t0 = Date.now();
  const step = (msg: string): void => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}`);

  step(`synthesizing the app (cdk-nag AwsSolutions on; demo shard sizes: above ${DEMO_SHARDING['cdk-mlops:shardThresholdKiB']} KiB, ${DEMO_SHARDING['cdk-mlops:shardSizeKiB']} KiB each) ...`);
  const stackName = synthesize(OUTDIR, DEMO_SHARDING);

  rmSync(RUN_DIR, { recursive: true, force: true });
  mkdirSync(RUN_DIR, { recursive: true });
  const emulators = await startEmulators({ dataDir: path.join(RUN_DIR, 'emulators') });
  let stopServing = (): Promise<void> => Promise.resolve();
  step(`emulators up: S3 ${emulators.s3Endpoint}, DynamoDB ${emulators.dynamoEndpoint}`);
  try {
    const stack = await LocalStack.start({ outdir: OUTDIR, stackName, emulators, functionEnv: { POWERTOOLS_LOG_LEVEL: 'WARN', POWERTOOLS_METRICS_DISABLED: 'true' } });
    // Lambda versions and aliases, CodeDeploy and CloudWatch alarms: what the endpoint's releases use
    const serving = await startLocalServing(stack);
    stopServing = () => serving.close();
    const dataBucket = stack.output('DataBucketName');
    const artifactsBucket = stack.output('ArtifactsBucketName');
    const tableName = stack.output('LedgerTableName');
    const prefix = stack.output('DataPrefix');
    step(`stack ${stackName} provisioned from the template: data bucket ${dataBucket}, ledger table ${tableName}`);
    const state = { stackName, outdir: OUTDIR, dataBucket, artifactsBucket, tableName, wormPrefix: 'ledger/' };
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
    const csvVersion = outcomes[0]!.outcome.recordId;
    const gates: { gate: string; verdict: GateVerdict }[] = [];
    for (const [gate, path] of [['validation', 'ValidationGate'], ['bias', 'BiasGate']] as const) {
      const id = findLogicalIdByPath(stack.template, `${stackName}/${path}/Function/Resource`);
      if (!id) continue; // the bias gate is optional (cdk.json context cdk-mlops:biasGate)
      const verdict = (await stack.invoke(id, { datasetVersionId: csvVersion })) as GateVerdict;
      gates.push({ gate, verdict });
      step(`${gate} gate on ${csvVersion}: ${verdict.passed ? 'passed' : `FAILED — ${verdict.reasons.join('; ')}`}`);
    }

    // The training pipeline from the template, on each upload's dataset version: validation, a
    // SageMaker training job run locally (the example TypeScript trainer, mapped
    // to the image in cdk.json), the model recorded, the bias gate on it (the
    // bundled onnxruntime-node scores the rows), evaluation, deployment record.
    const ledger = new LedgerStore({ ddb: dynamoDocumentClient(emulators.env), s3, tableName, wormBucket: artifactsBucket });
    const pipelineId = findLogicalIdByPath(stack.template, `${stackName}/TrainingPipeline/Resource`);
    const pipelines: { name: string; input: string; outcome: string }[] = [];
    if (pipelineId) {
      // The uploads under data/cps-wages/ went through the template's retraining rule to the bundled
      // starter, which called StartExecution (the local stand-in queued them): run them, in order.
      const arn = stack.physical.get(pipelineId)!.attributes.Arn;
      const sageMaker = new LocalSageMaker({ s3, groups: templateModelPackageGroups(stack) });
      for (const queued of emulators.stepFunctions.started.filter((e) => e.stateMachineArn === arn)) {
        const notifications: Notification[] = [];
        const verbose = queued.name === csvVersion;
        step(`TrainingPipeline execution '${queued.name}' (started by the upload):`);
        const outcome = await runStateMachine(stack, pipelineId, queued.input, {
          name: queued.name,
          services: localServices({ s3, stack, notifications, sageMaker }),
          onEvent: (e) => {
            if (!verbose) return;
            if (e.type === 'StateEntered' && e.state && e.state.type !== 'Choice' && e.state.type !== 'Pass') step(`  ▶ ${e.state.name}`);
            if (e.type === 'StateRetried') step(`  ↻ ${e.state?.name} retried`);
            if (e.type === 'StateCaught') step(`  ✗ ${e.state?.name} failed, caught`);
          },
        }).then(
          (r) => {
            const o = r.output as {
              datasetVersion?: { status: string };
              evaluation?: { reason: string };
              deployment?: { deploymentId: string };
              model?: { modelVersionId: string };
              registry?: { ModelPackageArn: string };
              approval?: { description: string };
              releaseStatus?: { succeeded: boolean };
            };
            if (o.datasetVersion?.status !== 'accepted') return 'not trainable (rejected at ingest)';
            if (!o.deployment) return `champion kept: ${o.evaluation?.reason}`;
            return `registered model ${o.model?.modelVersionId} as ${o.registry?.ModelPackageArn} (${o.approval?.description}) and ${o.releaseStatus ? 'released it to the endpoint' : 'deployed it'} (${o.evaluation?.reason})`;
          },
          (err: Error & { cause?: Error }) => `stopped: ${err.cause?.message ?? err.message}`,
        );
        pipelines.push({ name: 'TrainingPipeline', input: queued.name, outcome });
        step(`TrainingPipeline on ${queued.name}: ${outcome}${notifications.length ? ` (${notifications.length} SNS notification${notifications.length > 1 ? 's' : ''} sent)` : ''}`);
      }
    }

    // The endpoint the pipeline released to, served over HTTP on 127.0.0.1 as its Function URL: real requests.
    const endpointFn = findLogicalIdByPath(stack.template, `${stackName}/Endpoint/Function/Resource`);
    const requests: EndpointRequest[] = [];
    if (endpointFn) {
      const url = await serving.serve(endpointFn);
      const rows = cpsRows().slice(0, 5).map((r) => ({ education: r.education, experience: r.experience, gender: r.gender }));
      for (const [label, body] of [
        ['5 CPS rows', JSON.stringify({ rows })],
        ['the same rows as columns', JSON.stringify({ columns: { education: rows.map((r) => r.education) } })],
        ['a bad request (education "twelve", then 45)', JSON.stringify({ rows: [{ education: 'twelve' }, { education: 45 }] })],
        ['not JSON', 'education=12'],
      ] as const) {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        const answer = (await res.json()) as { modelVersionId?: string; predictions?: number[]; errors?: { field: string; message: string }[] };
        const detail = answer.predictions ? `predictions ${answer.predictions.map((p) => p.toFixed(3)).join(', ')}` : (answer.errors ?? []).map((e) => `${e.field}: ${e.message}`).join('; ');
        requests.push({ label, status: res.status, modelVersionId: res.headers.get('x-model-version-id'), version: res.headers.get('x-local-executed-version'), detail });
        step(`endpoint ${url} POST ${label} -> ${res.status} (model ${res.headers.get('x-model-version-id') ?? '-'}, Lambda version ${res.headers.get('x-local-executed-version')}): ${detail}`);
      }
    }

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

    const reportPath = path.join(RUN_DIR, 'report.md');
    writeFileSync(reportPath, renderLedgerReport({ stackName, outcomes, gates, workflows, pipelines, requests, reports, histories }));
    writeFileSync(path.join(RUN_DIR, 'report.json'), JSON.stringify({ stackName, outcomes, gates, workflows, pipelines, requests, reports, histories }, null, 2));
    step(`report written: ${path.relative(process.cwd(), reportPath)}`);
    step('query it: npx cdk-mlops lineage history dataset/cps-wages --local');
    if (reports.some((r) => !r.ok)) process.exitCode = 1;
  } finally {
    await stopServing();
    await emulators.stop();
  }
}

/**
 * Shard sizes for the local run: tiny, so the 30 KB sample files split into
 * several shards (a deploy uses cdk.json: above 512 MiB, 128 MiB each).
 */
const DEMO_SHARDING = { 'cdk-mlops:shardThresholdKiB': 8, 'cdk-mlops:shardSizeKiB': 4 };

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
