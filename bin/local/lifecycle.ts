import type { MonitorResult } from '../../lambdas/drift-monitor/monitor';
import type { AlarmTransition } from './alarms';
import { resourcesOfType } from './cloud-assembly';
import type { Invocation, LocalStack } from './local-stack';
import type { LocalSageMaker } from './sagemaker-registry';
import { localServices, type Notification } from './services';
import { runStateMachine, type EventLog } from './state-machine';
import type { S3Client } from '@aws-sdk/client-s3';

/*
 * Pieces of the local lifecycle (`npm start`) that are more than a call:
 * traffic to the endpoint over HTTP, a drift-monitor run through its schedule
 * rule, a pipeline execution from the template, and what an alarm change did.
 */

export interface TrafficSummary {
  readonly requests: number;
  readonly rows: number;
  /** Answers by HTTP status. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Rows scored, by the model version that answered. */
  readonly byModel: Readonly<Record<string, number>>;
}

/** POSTs `requests` requests of `rowsPerRequest` rows each (taken in turn from `rows`, from `start`) to the endpoint's URL. */
export async function sendTraffic(url: string, rows: readonly Readonly<Record<string, unknown>>[], options: { requests: number; rowsPerRequest: number; start?: number }): Promise<TrafficSummary> {
  const statuses: Record<string, number> = {};
  const byModel: Record<string, number> = {};
  let next = options.start ?? 0;
  for (let i = 0; i < options.requests; i++) {
    const batch = Array.from({ length: options.rowsPerRequest }, () => rows[next++ % rows.length]!);
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows: batch }) });
    await res.arrayBuffer();
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    const model = res.headers.get('x-model-version-id');
    if (res.status === 200 && model) byModel[model] = (byModel[model] ?? 0) + batch.length;
  }
  return { requests: options.requests, rows: options.requests * options.rowsPerRequest, statuses, byModel };
}

export function describeTraffic(t: TrafficSummary): string {
  const statuses = Object.entries(t.statuses).map(([s, n]) => `${n}× ${s}`).join(', ');
  const models = Object.entries(t.byModel).map(([m, n]) => `${n} rows by ${m}`).join(', ');
  return `${t.requests} requests, ${t.rows} rows: ${statuses}${models ? ` (${models})` : ''}`;
}

/** Runs the drift monitor once, as its schedule rule does (the template's rule and target). */
export async function runDriftMonitor(stack: LocalStack, ruleId: string): Promise<MonitorResult> {
  const [invocation] = await stack.fireSchedule(ruleId);
  if (!invocation) throw new Error(`schedule ${ruleId} has no target`);
  if (invocation.error) throw invocation.error;
  return invocation.result as MonitorResult;
}

export function describeDrift(r: MonitorResult): string {
  if (r.status === 'no-model') return r.reason;
  const features = r.report.features.map((f) => `${f.feature} PSI ${f.psi?.toFixed(3) ?? '-'}, JS ${f.jsDistance?.toFixed(3) ?? '-'}`).join('; ');
  const shift = r.report.prediction.shift === null ? '' : `; prediction shift ${r.report.prediction.shift.toFixed(3)}`;
  return `${r.report.rows} captured rows of ${r.modelVersionId} (${r.captureObjects} capture files): ${r.status === 'judged' ? `${features}${shift} → ${r.report.drifted ? `DRIFT (${r.report.reasons.join('; ')})` : 'no drift'}` : r.report.reasons.join('; ')}`;
}

/** One line per alarm change, and what the rules it reached did. */
export function describeAlarmChanges(stack: LocalStack, transitions: readonly AlarmTransition[], invocations: readonly Invocation[]): string[] {
  const path = (id: string): string => String((stack.template.Resources[id]?.Metadata as { 'aws:cdk:path'?: string } | undefined)?.['aws:cdk:path'] ?? id).replace(/^[^/]+\//, '').replace(/\/Resource$/, '');
  const lines = transitions.filter((t) => t.from !== 'INSUFFICIENT_DATA' || t.to === 'ALARM').map((t) => `alarm ${path(t.alarmId)}: ${t.from} → ${t.to}${t.to === 'ALARM' && !t.composite ? ` (${t.reason})` : ''}`);
  for (const i of invocations) lines.push(`  EventBridge → ${path(i.functionId)}: ${i.error ? `failed: ${i.error.message}` : JSON.stringify(i.result)}`);
  return lines;
}

/** The logical id of the stack's scheduled rule targeting `functionId`. */
export function scheduleOf(stack: LocalStack, functionId: string): string {
  const arn = stack.physical.get(functionId)?.attributes.Arn;
  const found = resourcesOfType(stack.template, 'AWS::Events::Rule').find(([, r]) => r.Properties?.ScheduleExpression && (r.Properties.Targets as { Arn: unknown }[] | undefined)?.some((t) => stack.resolver.resolveString(t.Arn, 'target') === arn));
  if (!found) throw new Error(`no schedule targets ${functionId}`);
  return found[0];
}

export interface PipelineRun {
  readonly outcome: string;
  readonly output?: PipelineOutput;
  readonly notifications: number;
}

export interface PipelineOutput {
  readonly datasetVersion?: { status: string };
  readonly evaluation?: { reason: string };
  readonly deployment?: { deploymentId: string };
  readonly model?: { modelVersionId: string };
  readonly registry?: { ModelPackageArn: string };
  readonly approval?: { description: string };
  readonly releaseStatus?: { succeeded: boolean };
}

/** Runs one execution of the training pipeline from the template, with the local SageMaker and SNS. */
export async function runPipeline(stack: LocalStack, pipelineId: string, input: unknown, options: { name: string; s3: S3Client; sageMaker: LocalSageMaker; onEvent?: (e: EventLog) => void }): Promise<PipelineRun> {
  const notifications: Notification[] = [];
  try {
    const r = await runStateMachine(stack, pipelineId, input, { name: options.name, services: localServices({ s3: options.s3, stack, notifications, sageMaker: options.sageMaker }), onEvent: options.onEvent });
    const o = r.output as PipelineOutput;
    let outcome: string;
    if (o.datasetVersion?.status !== 'accepted') outcome = 'not trainable (rejected at ingest)';
    else if (!o.deployment) outcome = `champion kept: ${o.evaluation?.reason}`;
    else outcome = `registered model ${o.model?.modelVersionId} as ${o.registry?.ModelPackageArn} (${o.approval?.description}) and ${o.releaseStatus ? 'released it to the endpoint' : 'deployed it'} (${o.evaluation?.reason})`;
    return { outcome, output: o, notifications: notifications.length };
  } catch (err) {
    const e = err as Error & { cause?: Error };
    return { outcome: `stopped: ${e.cause?.message ?? e.message}`, notifications: notifications.length };
  }
}
