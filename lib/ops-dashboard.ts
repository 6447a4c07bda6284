import { Duration, Names } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { BiasGate } from './bias-gate';
import type { DriftMonitor } from './drift-monitor';
import type { OnnxEndpoint } from './onnx-endpoint';
import type { SageMakerEndpoint } from './sagemaker-endpoint';
import type { TrainingPipeline } from './training-pipeline';
import type { ValidationGate } from './validation-gate';

export interface OpsDashboardProps {
  /** @default - a name made unique from the construct path */
  readonly dashboardName?: string;
  /** @default - none */
  readonly pipelines?: readonly TrainingPipeline[];
  /** @default - none */
  readonly validationGate?: ValidationGate;
  /** @default - none */
  readonly biasGate?: BiasGate;
  /** @default - none */
  readonly endpoints?: readonly OnnxEndpoint[];
  /** @default - none */
  readonly sageMakerEndpoints?: readonly SageMakerEndpoint[];
  /** @default - none */
  readonly driftMonitors?: readonly DriftMonitor[];
  /** Further alarms shown in the alarm-state row. @default - none */
  readonly alarms?: readonly cloudwatch.IAlarm[];
  /** Period of the graphs. @default Duration.minutes(5) */
  readonly period?: Duration;
  /** Time range shown when the dashboard opens. @default '-P1D' (one day) */
  readonly start?: string;
}

/**
 * One CloudWatch dashboard for the whole stack, in the order an operator reads
 * it: alarm states first, then the pipelines (executions, failures), the gates
 * (pass/fail and failed checks), each endpoint (invocations, latency p50/p99,
 * errors, concurrency, prediction shift; a SageMaker endpoint's invocations,
 * 4xx/5xx, model latency and instance load) and each drift monitor (PSI and
 * Jensen–Shannon distance per feature, prediction drift). Built with
 * aws-cloudwatch directly: the widgets are mostly the kit's own EMF metrics;
 * see docs/CONSTRUCTS.md for why not cdk-monitoring-constructs.
 */
export class OpsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OpsDashboardProps = {}) {
    super(scope, id);
    const period = props.period ?? Duration.minutes(5);
    if (period.toSeconds() < 60 || period.toSeconds() % 60 !== 0) throw new Error(`OpsDashboard: 'period' must be whole minutes (got ${period.toHumanString()}).`);
    const name = props.dashboardName ?? Names.uniqueResourceName(this, { maxLength: 255, separator: '-' });
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: name, start: props.start ?? '-P1D', periodOverride: cloudwatch.PeriodOverride.AUTO });
    const sum = { period, statistic: cloudwatch.Stats.SUM };

    // 1. alarm states: everything that acts by itself
    const alarms: cloudwatch.IAlarm[] = [];
    for (const p of props.pipelines ?? []) if (p.starterDeadLetterAlarm) alarms.push(p.starterDeadLetterAlarm);
    for (const e of props.endpoints ?? []) alarms.push(e.healthAlarm, e.alarms.errorRate, e.alarms.latency, e.alarms.predictionShift, e.alarms.integrity, ...(e.rollbackDeadLetterAlarm ? [e.rollbackDeadLetterAlarm] : []));
    for (const e of props.sageMakerEndpoints ?? []) alarms.push(e.alarms.errorRate, e.alarms.latency);
    for (const m of props.driftMonitors ?? []) alarms.push(m.driftAlarm, m.predictionAlarm, ...Object.values(m.featureAlarms), m.deadLetterAlarm);
    alarms.push(...(props.alarms ?? []));
    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: `# cdk-mlops operations\nAlarms act by themselves: a drift alarm retrains, a health alarm right after a release rolls back. Lineage: \`npx cdk-mlops endpoint serving <name>\`.`, width: 24, height: 2 }));
    if (alarms.length > 0) this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarm states', alarms, width: 24, height: Math.min(8, 2 + Math.ceil(alarms.length / 4)) }));

    // 2. pipelines
    for (const p of props.pipelines ?? []) {
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: `Pipeline ${p.pipelineName}: executions`,
          left: [p.stateMachine.metricStarted({ ...sum, label: 'started' }), p.metricSucceeded({ ...sum, label: 'succeeded' }), p.metricFailed({ ...sum, label: 'failed' })],
          width: 12,
        }),
        new cloudwatch.GraphWidget({
          title: `Pipeline ${p.pipelineName}: failures and timeouts`,
          left: [p.metricFailed({ ...sum, label: 'failed' }), p.stateMachine.metricTimedOut({ ...sum, label: 'timed out' }), p.stateMachine.metricAborted({ ...sum, label: 'aborted' })],
          right: [p.stateMachine.metricTime({ period, statistic: cloudwatch.Stats.p(90), label: 'duration p90' })],
          width: 12,
        }),
      );
      if (p.starter) {
        const t = p.metricTriggers({ period });
        this.dashboard.addWidgets(new cloudwatch.GraphWidget({ title: `Pipeline ${p.pipelineName}: automatic retraining (uploads, drift, image pushes)`, left: [t.started, t.duplicate, t.declined], width: 24 }));
      }
    }

    // 3. gates
    const gateWidgets: cloudwatch.IWidget[] = [];
    if (props.validationGate) {
      const g = props.validationGate;
      gateWidgets.push(new cloudwatch.GraphWidget({ title: 'Validation gate', left: [g.metricPassed({ ...sum, label: 'passed' }), g.metricFailed({ ...sum, label: 'failed' })], right: [g.metricChecksFailed({ ...sum, label: 'failed checks' })], width: 12 }));
    }
    if (props.biasGate) {
      const g = props.biasGate;
      gateWidgets.push(new cloudwatch.GraphWidget({ title: 'Bias gate', left: [g.metricPassed({ ...sum, label: 'passed' }), g.metricFailed({ ...sum, label: 'failed' })], right: [g.metricChecksFailed({ ...sum, label: 'checks over threshold' })], width: 12 }));
    }
    if (gateWidgets.length > 0) this.dashboard.addWidgets(...gateWidgets);

    // 4. endpoints
    for (const e of props.endpoints ?? []) {
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({ title: `Endpoint ${e.endpointName}: invocations`, left: [e.metricInvocations({ ...sum, label: 'invocations' })], right: [e.metricBadRequests({ ...sum, label: '4xx' })], width: 6 }),
        new cloudwatch.GraphWidget({
          title: `Endpoint ${e.endpointName}: latency (ms)`,
          left: [e.alias.metricDuration({ period, statistic: cloudwatch.Stats.p(50), label: 'p50' }), e.alias.metricDuration({ period, statistic: cloudwatch.Stats.p(99), label: 'p99' })],
          width: 6,
        }),
        new cloudwatch.GraphWidget({
          title: `Endpoint ${e.endpointName}: errors`,
          left: [e.alias.metricErrors({ ...sum, label: 'Lambda errors' }), e.metric('ServerErrors', { ...sum, label: '5xx' }), e.metric('ModelIntegrityFailures', { ...sum, label: 'integrity' })],
          width: 6,
        }),
        new cloudwatch.GraphWidget({
          title: `Endpoint ${e.endpointName}: concurrency and predictions`,
          left: [
            new cloudwatch.Metric({ namespace: 'AWS/Lambda', metricName: 'ConcurrentExecutions', dimensionsMap: { FunctionName: e.function.functionName, Resource: `${e.function.functionName}:${e.alias.aliasName}` }, period, statistic: cloudwatch.Stats.MAXIMUM, label: 'concurrency' }),
          ],
          right: [e.metricPredictionShift({ period, label: 'prediction shift (max container)' }), e.metricPredictionMean({ period, label: 'mean prediction' })],
          width: 6,
        }),
      );
    }

    for (const e of props.sageMakerEndpoints ?? []) {
      // ModelLatency is in microseconds
      const latency = (stat: string, id: string) => new cloudwatch.MathExpression({ expression: `${id} / 1000`, usingMetrics: { [id]: e.metricModelLatency({ period, statistic: stat }) }, label: id, period });
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({ title: `SageMaker endpoint ${e.endpointName}: invocations`, left: [e.metricInvocations({ ...sum, label: 'invocations' })], right: [e.metricInvocationErrors('4XX', { ...sum, label: '4xx' }), e.metricInvocationErrors('5XX', { ...sum, label: '5xx' })], width: e.serverless ? 12 : 8 }),
        new cloudwatch.GraphWidget({ title: `SageMaker endpoint ${e.endpointName}: model latency (ms)`, left: [latency(cloudwatch.Stats.p(50), 'p50'), latency(cloudwatch.Stats.p(99), 'p99')], width: e.serverless ? 12 : 8 }),
        ...(e.serverless
          ? []
          : [
              new cloudwatch.GraphWidget({
                title: `SageMaker endpoint ${e.endpointName}: load`,
                left: [e.metric('InvocationsPerInstance', { ...sum, label: 'invocations per instance' })],
                right: [e.metricInstanceUtilization('CPUUtilization', { period, label: 'CPU %' }), e.metricInstanceUtilization('GPUUtilization', { period, label: 'GPU %' })],
                width: 8,
              }),
            ]),
      );
    }

    // 5. drift
    for (const m of props.driftMonitors ?? []) {
      const features = Object.keys(m.featureAlarms);
      const line = (value: number, label: string): cloudwatch.HorizontalAnnotation => ({ value, label, color: cloudwatch.Color.RED });
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({ title: `Drift ${m.endpointName}: PSI per feature`, left: features.map((f) => m.metricFeaturePsi(f)), leftAnnotations: [line(m.thresholds.psi, 'PSI threshold')], width: 8 }),
        new cloudwatch.GraphWidget({ title: `Drift ${m.endpointName}: Jensen–Shannon distance per feature`, left: features.map((f) => m.metricFeatureJsDistance(f)), leftAnnotations: [line(m.thresholds.jsDistance, 'JS threshold')], leftYAxis: { min: 0, max: 1 }, width: 8 }),
        new cloudwatch.GraphWidget({ title: `Drift ${m.endpointName}: predictions`, left: [m.metricPredictionDrift()], leftAnnotations: [line(m.thresholds.predictionShift, 'shift threshold')], right: [m.metricCapturedRows({ label: 'captured rows compared' })], width: 8 }),
      );
    }
  }
}
