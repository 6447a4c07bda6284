import { describe, expect, it } from 'vitest';
import { evaluateExpression, statistic } from '../../bin/local/cloudwatch';
import { trafficSteps } from '../../bin/local/codedeploy';
import { evaluateAlarmRule } from '../../bin/local/alarms';
import { transformInput } from '../../bin/local/local-stack';

describe('local CloudWatch: statistics and metric math as CloudWatch defines them', () => {
  it.each([
    ['Sum', [1, 2, 3, 4], 10],
    ['Average', [1, 2, 3, 4], 2.5],
    ['Minimum', [3, 1, 2], 1],
    ['Maximum', [3, 1, 2], 3],
    ['SampleCount', [3, 1, 2], 3],
    // nearest rank: p50 of 1..10 is the 5th value, p99 the 10th, p90 the 9th
    ['p50', [10, 9, 8, 7, 6, 5, 4, 3, 2, 1], 5],
    ['p90', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 9],
    ['p99', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 10],
  ])('%s of %j is %d', (stat, values, expected) => {
    expect(statistic(values, stat)).toBe(expected);
  });

  it('has no value without datapoints, and refuses a statistic it does not know', () => {
    expect(statistic([], 'Sum')).toBeUndefined();
    expect(() => statistic([1], 'TM90')).toThrow("statistic 'TM90' is not evaluated locally");
  });

  it.each([
    ['(errors + FILL(serverErrors, 0)) / invocations', { errors: 1, serverErrors: 2, invocations: 10 }, 0.3],
    ['(errors + FILL(serverErrors, 0)) / invocations', { errors: 1, serverErrors: undefined, invocations: 10 }, 0.1],
    ['(errors + serverErrors) / invocations', { errors: 1, serverErrors: undefined, invocations: 10 }, undefined],
    ['errors / invocations', { errors: 1, invocations: 0 }, undefined],
    ['100 * a - -b', { a: 0.5, b: 2 }, 52],
    ['a * (b + 2) / 4', { a: 2, b: 2 }, 2],
  ])('%s with %j is %s', (expression, values, expected) => {
    expect(evaluateExpression(expression, values)).toBe(expected);
  });

  it('refuses math it does not run, naming it', () => {
    expect(() => evaluateExpression('SUM(METRICS())', {})).toThrow(/unknown id 'SUM'|not evaluated locally/);
    expect(() => evaluateExpression('a +', { a: 1 })).toThrow("metric math 'a +': unknown id 'undefined'");
    expect(() => evaluateExpression('a $ b', { a: 1, b: 2 })).toThrow(/is not evaluated locally/);
  });
});

describe('local CodeDeploy: traffic steps of the Lambda deployment configurations', () => {
  it.each([
    ['CodeDeployDefault.LambdaCanary10Percent5Minutes', [0.1, 1]],
    ['CodeDeployDefault.LambdaCanary10Percent30Minutes', [0.1, 1]],
    ['CodeDeployDefault.LambdaLinear10PercentEvery1Minute', [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]],
    ['CodeDeployDefault.LambdaLinear10PercentEvery10Minutes', [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]],
    ['CodeDeployDefault.LambdaAllAtOnce', [1]],
  ])('%s shifts %j', (name, steps) => {
    expect(trafficSteps(name)).toEqual(steps);
  });

  it('refuses a configuration it does not know', () => {
    expect(() => trafficSteps('Custom')).toThrow("deployment configuration 'Custom' is not run locally");
  });
});

describe('composite alarm rules, MAX/MIN metric math and EventBridge input transformers (local stand-ins)', () => {
  it('evaluates AlarmRule expressions as CloudWatch documents them', () => {
    const states: Record<string, string> = { a: 'ALARM', b: 'OK', c: 'INSUFFICIENT_DATA' };
    const of = (name: string) => states[name.split(':alarm:').pop()!] as 'ALARM' | 'OK' | 'INSUFFICIENT_DATA';
    expect(evaluateAlarmRule('(ALARM("arn:aws:cloudwatch:us-east-1:1:alarm:a") OR ALARM("arn:aws:cloudwatch:us-east-1:1:alarm:b"))', of)).toBe(true);
    expect(evaluateAlarmRule('ALARM("a") AND ALARM("b")', of)).toBe(false);
    expect(evaluateAlarmRule('ALARM("a") AND NOT OK("c")', of)).toBe(true);
    expect(evaluateAlarmRule('INSUFFICIENT_DATA("c") AND (OK("b") OR FALSE)', of)).toBe(true);
    expect(evaluateAlarmRule('TRUE AND NOT ALARM("b")', of)).toBe(true);
    expect(() => evaluateAlarmRule('ALARM(a)', of)).toThrow('is not evaluated locally');
    expect(() => evaluateAlarmRule('ALARM("a") OR', of)).toThrow("unexpected 'undefined'");
  });

  it('MAX and MIN over a list, leaving out missing values', () => {
    expect(evaluateExpression('MAX([psi / 0.2, js / 0.1])', { psi: 0.1, js: 0.05 })).toBeCloseTo(0.5, 12);
    expect(evaluateExpression('MAX([psi / 0.2, js / 0.1])', { psi: 0.3, js: 0.05 })).toBeCloseTo(1.5, 12);
    expect(evaluateExpression('MAX([psi / 0.2, js / 0.1])', { psi: undefined, js: 0.25 })).toBeCloseTo(2.5, 12);
    expect(evaluateExpression('MAX([psi, js])', { psi: undefined, js: undefined })).toBeUndefined();
    expect(evaluateExpression('MIN([a, b, 3])', { a: 5, b: 4 })).toBe(3);
  });

  it('fills an input template from the event: JSON where a placeholder stands alone, text inside a string', () => {
    const event = { time: '2026-12-01T10:00:00Z', detail: { alarmName: 'Drift "A"', state: { value: 'ALARM', reason: 'PSI 0.3 > 0.2' }, n: 3 } };
    const template = '{"trigger":"drift","alarmName":<alarm>,"time":<time>,"reason":<reason>,"text":"alarm <alarm> at <time>","n":<n>,"missing":<gone>}';
    expect(transformInput(template, { alarm: '$.detail.alarmName', time: '$.time', reason: '$.detail.state.reason', n: '$.detail.n', gone: '$.detail.none' }, event)).toEqual({
      trigger: 'drift',
      alarmName: 'Drift "A"',
      time: '2026-12-01T10:00:00Z',
      reason: 'PSI 0.3 > 0.2',
      text: 'alarm Drift "A" at 2026-12-01T10:00:00Z',
      n: 3,
      missing: null,
    });
    expect(() => transformInput('{"a":<x>}', { y: '$.a' }, event)).toThrow();
    expect(() => transformInput('{"a":<x>}', { x: '$..a' }, event)).toThrow("input path '$..a' is not supported locally");
  });
});
