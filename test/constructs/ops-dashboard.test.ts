import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { describe, expect, it } from 'vitest';
import { OpsDashboard } from '../../lib';
import { testStack } from '../helpers/stacks';

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
