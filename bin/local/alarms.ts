import { resourcesOfType } from './cloud-assembly';
import type { AlarmState, LocalCloudWatch } from './cloudwatch';
import type { Invocation, LocalStack } from './local-stack';

/*
 * The stack's alarms as state machines, locally: metric alarms evaluated by
 * the LocalCloudWatch over the datapoints since a moment, composite alarms
 * from their AlarmRule over their children's states, and every state change
 * delivered as CloudWatch delivers it to EventBridge ("CloudWatch Alarm State
 * Change", resources: [the alarm's ARN]) through the template's own rules, so
 * a drift alarm reaches the retraining starter and a health alarm the
 * deployer exactly as the template wires them.
 */

export interface AlarmTransition {
  readonly alarmId: string;
  readonly composite: boolean;
  readonly from: AlarmState;
  readonly to: AlarmState;
  readonly reason: string;
}

/** Evaluates a composite alarm rule (ALARM/OK/INSUFFICIENT_DATA("name or ARN"), AND, OR, NOT, parentheses, TRUE, FALSE). */
export function evaluateAlarmRule(rule: string, stateOf: (alarm: string) => AlarmState): boolean {
  const tokens: string[] = [];
  const lexer = /\s*(ALARM|OK|INSUFFICIENT_DATA|AND|OR|NOT|TRUE|FALSE|\(|\)|"(?:[^"\\]|\\.)*")\s*/y;
  while (lexer.lastIndex < rule.length) {
    const m = lexer.exec(rule);
    if (!m) throw new Error(`alarm rule '${rule}' is not evaluated locally (at '${rule.slice(lexer.lastIndex)}')`);
    tokens.push(m[1]!);
  }
  let i = 0;
  const expect = (t: string): void => {
    if (tokens[i++] !== t) throw new Error(`alarm rule '${rule}': expected '${t}'`);
  };
  const primary = (): boolean => {
    const t = tokens[i++];
    if (t === 'NOT') return !primary();
    if (t === 'TRUE') return true;
    if (t === 'FALSE') return false;
    if (t === '(') {
      const v = or();
      expect(')');
      return v;
    }
    if (t === 'ALARM' || t === 'OK' || t === 'INSUFFICIENT_DATA') {
      expect('(');
      const name = JSON.parse(tokens[i++] ?? '""') as string;
      expect(')');
      return stateOf(name) === t;
    }
    throw new Error(`alarm rule '${rule}': unexpected '${t}'`);
  };
  const and = (): boolean => {
    let v = primary();
    while (tokens[i] === 'AND') {
      i++;
      const r = primary();
      v = v && r;
    }
    return v;
  };
  const or = (): boolean => {
    let v = and();
    while (tokens[i] === 'OR') {
      i++;
      const r = and();
      v = v || r;
    }
    return v;
  };
  const out = or();
  if (i !== tokens.length) throw new Error(`alarm rule '${rule}': unexpected '${tokens[i]}'`);
  return out;
}

export class LocalAlarms {
  private readonly states = new Map<string, { state: AlarmState; reason: string }>();

  constructor(
    private readonly stack: LocalStack,
    private readonly cloudwatch: LocalCloudWatch,
  ) {}

  state(alarmId: string): AlarmState {
    return this.states.get(alarmId)?.state ?? 'INSUFFICIENT_DATA';
  }

  /**
   * Evaluates the metric alarms `alarmIds` (default: all of the stack's) over
   * the datapoints since `since`, then every composite alarm, and delivers
   * each state change to EventBridge. Returns the changes and what the rules
   * invoked.
   */
  async evaluate(since: number, alarmIds?: readonly string[]): Promise<{ transitions: AlarmTransition[]; invocations: Invocation[] }> {
    const transitions: AlarmTransition[] = [];
    const metricAlarms = alarmIds ?? resourcesOfType(this.stack.template, 'AWS::CloudWatch::Alarm').map(([id]) => id);
    for (const id of metricAlarms) {
      const e = this.cloudwatch.evaluate(id, since);
      this.set(id, false, e.state, e.reason, transitions);
    }
    for (const [id, resource] of resourcesOfType(this.stack.template, 'AWS::CloudWatch::CompositeAlarm')) {
      const rule = this.stack.resolver.resolveString(resource.Properties?.AlarmRule, `${id} AlarmRule`);
      const children = [...rule.matchAll(/"([^"]+)"/g)].map((m) => m[1]!.split(':alarm:').pop()!);
      const firing = evaluateAlarmRule(rule, (name) => this.state(name.split(':alarm:').pop()!));
      const alarming = children.filter((c) => this.state(c) === 'ALARM').map((c) => `${this.stack.ref(c)} is in ALARM: ${this.states.get(c)?.reason ?? ''}`);
      this.set(id, true, firing ? 'ALARM' : 'OK', firing ? alarming.join('; ') || 'its rule holds' : 'its rule does not hold', transitions);
    }
    const invocations: Invocation[] = [];
    for (const t of transitions) invocations.push(...(await this.stack.putEvent(this.stateChangeEvent(t))));
    return { transitions, invocations };
  }

  private set(alarmId: string, composite: boolean, state: AlarmState, reason: string, transitions: AlarmTransition[]): void {
    const from = this.state(alarmId);
    this.states.set(alarmId, { state, reason });
    if (from !== state) transitions.push({ alarmId, composite, from, to: state, reason });
  }

  /** The event CloudWatch sends EventBridge on a state change. */
  private stateChangeEvent(t: AlarmTransition): Record<string, unknown> {
    const arn = this.stack.physical.get(t.alarmId)!.attributes.Arn!;
    const time = new Date().toISOString();
    return {
      version: '0',
      id: crypto.randomUUID(),
      'detail-type': 'CloudWatch Alarm State Change',
      source: 'aws.cloudwatch',
      account: arn.split(':')[4],
      time: time.replace(/\.\d{3}Z$/, 'Z'),
      region: arn.split(':')[3],
      resources: [arn],
      detail: { alarmName: this.stack.ref(t.alarmId), state: { value: t.to, reason: t.reason, timestamp: time }, previousState: { value: t.from } },
    };
  }
}
