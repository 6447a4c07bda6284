import { Duration, Size, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { describe, expect, it } from 'vitest';
import { DataLake, OpsDashboard, SageMakerEndpoint, type SageMakerEndpointProps } from '../../lib';
import { dashboardBody, testStack } from '../helpers/stacks';

/* The dashboard on its own: what it holds without constructs, your alarms, its props. (With the whole stack: drift-monitor.test.ts.) */

const body = (t: Template): { widgets: { properties: { title?: string; markdown?: string; alarms?: unknown[] } }[] } => {
  const d = Object.values(t.findResources('AWS::CloudWatch::Dashboard'))[0] as { Properties: { DashboardBody: unknown; DashboardName: string } };
  const raw = d.Properties.DashboardBody;
  return JSON.parse(typeof raw === 'string' ? raw : JSON.stringify(raw)) as ReturnType<typeof body>;
};

describe('OpsDashboard', () => {
  it('with nothing given: the header only, and a name made from its path', () => {
    const stack = testStack();
    new OpsDashboard(stack, 'Ops');
    const t = Template.fromStack(stack);
    expect(body(t).widgets.map((w) => w.properties.markdown?.split('\n')[0])).toEqual(['# cdk-mlops operations']);
    t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: Match.stringLikeRegexp('^Test-Ops-[0-9A-F]{8}$') });
  });

  it('shows alarms of yours in the alarm-state row', () => {
    const stack = testStack();
    const mine = new cloudwatch.Alarm(stack, 'Mine', { metric: new cloudwatch.Metric({ namespace: 'team', metricName: 'Backlog' }), threshold: 10, evaluationPeriods: 1 });
    new OpsDashboard(stack, 'Ops', { alarms: [mine], dashboardName: 'team-ops' });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'team-ops' });
    expect(JSON.stringify(t.findResources('AWS::CloudWatch::Dashboard'))).toContain('"title\\":\\"Alarm states\\"');
    expect(JSON.stringify(t.findResources('AWS::CloudWatch::Dashboard'))).toContain(JSON.stringify(stack.resolve(mine.alarmArn)));
  });

  it('refuses a period that is not whole minutes', () => {
    expect(() => new OpsDashboard(testStack(), 'Ops', { period: Duration.seconds(90) })).toThrow("OpsDashboard: 'period' must be whole minutes (got 1 minute 30 seconds).");
  });
});

describe('OpsDashboard with SageMaker endpoints', () => {
  const sageMaker = (stack: Stack, id: string, props: Partial<SageMakerEndpointProps> = {}) => new SageMakerEndpoint(stack, id, { dataLake: new DataLake(stack, `${id}Lake`), imageUri: 'img', initialModelDataUrl: 's3://b/m.tar.gz', ...props });

  it('shows their rollback alarms, invocations with 4xx/5xx, model latency in ms and, on instances, the load', () => {
    // GIVEN
    const stack = testStack();
    const gpu = sageMaker(stack, 'Gpu', { instanceType: 'ml.g5.xlarge' });
    sageMaker(stack, 'Lite', { serverless: { memorySize: Size.gibibytes(2), maxConcurrency: 5 } });
    // WHEN
    new OpsDashboard(stack, 'Ops', { sageMakerEndpoints: [gpu, stack.node.findChild('Lite') as SageMakerEndpoint], period: Duration.minutes(1) });
    const t = Template.fromStack(stack);
    // THEN
    const widgets = (JSON.parse(dashboardBody(t)) as ReturnType<typeof body>).widgets;
    expect(widgets.map((w) => w.properties.title).filter((x) => x?.startsWith('SageMaker'))).toEqual([
      'SageMaker endpoint gpu: invocations',
      'SageMaker endpoint gpu: model latency (ms)',
      'SageMaker endpoint gpu: load',
      'SageMaker endpoint lite: invocations',
      'SageMaker endpoint lite: model latency (ms)',
    ]);
    const json = JSON.stringify(widgets);
    for (const m of ['"Invocation4XXErrors"', '"Invocation5XXErrors"', '"InvocationsPerInstance"', '"/aws/sagemaker/Endpoints","CPUUtilization"', '"GPUUtilization"', '"expression":"p50 / 1000"', '"expression":"p99 / 1000"', '"stat":"p99"']) expect(json).toContain(m);
    const alarms = widgets.find((w) => w.properties.title === 'Alarm states')!.properties.alarms!;
    expect(alarms).toHaveLength(4);
    const id = (a: { alarmArn: string }) => (stack.resolve(a.alarmArn) as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
    expect(alarms).toEqual(expect.arrayContaining([`\${${id(gpu.alarms.errorRate)}.Arn}`, `\${${id(gpu.alarms.latency)}.Arn}`]));
  });
});
