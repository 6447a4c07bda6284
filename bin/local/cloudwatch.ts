import type { LocalStack } from './local-stack';

/*
 * A local stand-in for the CloudWatch the kit's alarms read: datapoints from
 * the Embedded Metric Format lines the bundled functions print (as CloudWatch
 * Logs extracts them) and the Lambda service metrics of each invocation
 * (Invocations, Errors, Duration, by function and by alias), and the
 * template's own AWS::CloudWatch::Alarm definitions evaluated over them.
 *
 * Time is compressed: an evaluation reads the datapoints since a given
 * moment as one period (a canary step locally lasts as long as its traffic,
 * not five minutes). Statistics: Sum, Average, Minimum, Maximum, SampleCount
 * and pNN (nearest rank); metric math: + - * /, parentheses, FILL(id, n) and MAX/MIN([...])
 * over the query ids. SetAlarmState forces a state, as the AWS API does to test alarms.
 */

export type Dimensions = Readonly<Record<string, string>>;

export interface Datapoint {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Dimensions;
  readonly value: number;
  readonly time: number;
}

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface AlarmEvaluation {
  readonly alarmId: string;
  readonly state: AlarmState;
  /** The value compared with the threshold (undefined: no data). */
  readonly value?: number;
  readonly threshold: number;
  readonly reason: string;
}

interface MetricStat {
  readonly Metric: { readonly MetricName: string; readonly Namespace: string; readonly Dimensions?: readonly { Name: string; Value: unknown }[] };
  readonly Stat: string;
}

type AlarmProps = Record<string, unknown> & {
  readonly MetricName?: string;
  readonly Namespace?: string;
  readonly Dimensions?: readonly { Name: string; Value: unknown }[];
  readonly Statistic?: string;
  readonly ExtendedStatistic?: string;
  readonly Metrics?: readonly { Id: string; Expression?: string; MetricStat?: MetricStat; ReturnData?: boolean }[];
  readonly Threshold: number;
  readonly ComparisonOperator: string;
  readonly TreatMissingData?: string;
};

const sameDimensions = (a: Dimensions, b: Dimensions): boolean => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

/** A statistic of values (CloudWatch's names). */
export function statistic(values: readonly number[], stat: string): number | undefined {
  if (values.length === 0) return undefined;
  switch (stat) {
    case 'Sum':
      return values.reduce((s, v) => s + v, 0);
    case 'Average':
      return values.reduce((s, v) => s + v, 0) / values.length;
    case 'Minimum':
      return Math.min(...values);
    case 'Maximum':
      return Math.max(...values);
    case 'SampleCount':
      return values.length;
  }
  const p = /^p(\d+(\.\d+)?)$/.exec(stat);
  if (!p) throw new Error(`statistic '${stat}' is not evaluated locally`);
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.max(0, Math.ceil((Number(p[1]) / 100) * sorted.length) - 1)];
}

/** Metric math over named values: numbers, ids, + - * /, parentheses, FILL(id, n) and MAX/MIN([...]). Missing inputs or a division by zero give undefined. */
export function evaluateExpression(expression: string, values: Readonly<Record<string, number | undefined>>): number | undefined {
  const tokens = expression.match(/\s*([A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|[-+*/(),[\]])/g)?.map((t) => t.trim());
  if (!tokens || tokens.join('') !== expression.replace(/\s+/g, '')) throw new Error(`metric math '${expression}' is not evaluated locally (ids, numbers, + - * /, parentheses, FILL, MAX and MIN only)`);
  let i = 0;
  const expect = (token: string): void => {
    if (tokens[i++] !== token) throw new Error(`metric math '${expression}': expected '${token}'`);
  };
  const primary = (): number | undefined => {
    const t = tokens[i++];
    if (t === 'FILL') {
      expect('(');
      const v = sum();
      expect(',');
      const fill = sum();
      expect(')');
      return v ?? fill;
    }
    if (t === 'MAX' || t === 'MIN') {
      // MAX([a, b, ...]): the largest (smallest) of the values there are; none: no value
      expect('(');
      expect('[');
      const items = [sum()];
      while (tokens[i] === ',') {
        i++;
        items.push(sum());
      }
      expect(']');
      expect(')');
      const present = items.filter((v): v is number => v !== undefined);
      return present.length === 0 ? undefined : t === 'MAX' ? Math.max(...present) : Math.min(...present);
    }
    if (t === '(') {
      const v = sum();
      expect(')');
      return v;
    }
    if (t === '-') {
      const v = primary();
      return v === undefined ? undefined : -v;
    }
    if (t !== undefined && /^\d/.test(t)) return Number(t);
    if (t !== undefined && t in values) return values[t];
    throw new Error(`metric math '${expression}': unknown id '${t}'`);
  };
  const product = (): number | undefined => {
    let v = primary();
    while (tokens[i] === '*' || tokens[i] === '/') {
      const op = tokens[i++];
      const r = primary();
      v = v === undefined || r === undefined ? undefined : op === '*' ? v * r : r === 0 ? undefined : v / r;
    }
    return v;
  };
  const sum = (): number | undefined => {
    let v = product();
    while (tokens[i] === '+' || tokens[i] === '-') {
      const op = tokens[i++];
      const r = product();
      v = v === undefined || r === undefined ? undefined : op === '+' ? v + r : v - r;
    }
    return v;
  };
  const out = sum();
  if (i !== tokens.length) throw new Error(`metric math '${expression}': unexpected '${tokens[i]}'`);
  return out;
}

function breaches(value: number, operator: string, threshold: number): boolean {
  switch (operator) {
    case 'GreaterThanThreshold':
      return value > threshold;
    case 'GreaterThanOrEqualToThreshold':
      return value >= threshold;
    case 'LessThanThreshold':
      return value < threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= threshold;
    default:
      throw new Error(`comparison '${operator}' is not evaluated locally`);
  }
}

export class LocalCloudWatch {
  readonly datapoints: Datapoint[] = [];
  private readonly forced = new Map<string, { state: AlarmState; reason: string }>();

  constructor(private readonly stack: LocalStack) {}

  put(namespace: string, name: string, dimensions: Dimensions, value: number, time = Date.now()): void {
    if (Number.isFinite(value)) this.datapoints.push({ namespace, name, dimensions, value, time });
  }

  /** Reads one Embedded Metric Format document (a log line); false when the line is not one. */
  putEmf(line: string): boolean {
    if (!line.startsWith('{') || !line.includes('"_aws"')) return false;
    let doc: Record<string, unknown> & { _aws?: { Timestamp?: number; CloudWatchMetrics?: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } };
    try {
      doc = JSON.parse(line) as typeof doc;
    } catch {
      return false;
    }
    const directives = doc._aws?.CloudWatchMetrics;
    if (!directives) return false;
    const time = doc._aws?.Timestamp ?? Date.now();
    for (const d of directives) {
      for (const set of d.Dimensions) {
        const dimensions = Object.fromEntries(set.map((k) => [k, String(doc[k])]));
        for (const m of d.Metrics) {
          const raw = doc[m.Name];
          for (const v of Array.isArray(raw) ? raw : [raw]) if (typeof v === 'number') this.put(d.Namespace, m.Name, dimensions, v, time);
        }
      }
    }
    return true;
  }

  /** Forces an alarm's state (SetAlarmState) until the next `clearForced`. */
  setAlarmState(alarmId: string, state: AlarmState, reason: string): void {
    if (this.stack.template.Resources[alarmId]?.Type !== 'AWS::CloudWatch::Alarm') throw new Error(`'${alarmId}' is not an alarm of the stack`);
    this.forced.set(alarmId, { state, reason });
  }

  clearForced(): void {
    this.forced.clear();
  }

  /** The template's alarm `alarmId`, evaluated over the datapoints since `since` (ms) as one period. */
  evaluate(alarmId: string, since: number): AlarmEvaluation {
    const resource = this.stack.template.Resources[alarmId];
    if (resource?.Type !== 'AWS::CloudWatch::Alarm') throw new Error(`'${alarmId}' is not an alarm of the stack`);
    const props = this.stack.resolver.resolve(resource.Properties) as AlarmProps;
    const forced = this.forced.get(alarmId);
    if (forced) return { alarmId, state: forced.state, threshold: props.Threshold, reason: `set by SetAlarmState: ${forced.reason}` };
    const read = (m: MetricStat['Metric'], stat: string): number | undefined => {
      const dims = Object.fromEntries((m.Dimensions ?? []).map((d) => [d.Name, String(d.Value)]));
      return statistic(this.datapoints.filter((p) => p.time >= since && p.namespace === m.Namespace && p.name === m.MetricName && sameDimensions(p.dimensions, dims)).map((p) => p.value), stat);
    };
    let value: number | undefined;
    let what: string;
    if (props.Metrics) {
      const values: Record<string, number | undefined> = {};
      for (const q of props.Metrics) if (q.MetricStat) values[q.Id] = read(q.MetricStat.Metric, q.MetricStat.Stat);
      const out = props.Metrics.find((q) => q.Expression && q.ReturnData !== false) ?? props.Metrics.find((q) => q.ReturnData !== false);
      value = out?.Expression ? evaluateExpression(out.Expression, values) : values[out?.Id ?? ''];
      what = out?.Expression ?? out?.Id ?? 'metrics';
    } else {
      value = read({ MetricName: props.MetricName!, Namespace: props.Namespace!, Dimensions: props.Dimensions }, props.ExtendedStatistic ?? props.Statistic!);
      what = `${props.ExtendedStatistic ?? props.Statistic} of ${props.MetricName}`;
    }
    if (value === undefined) {
      const missing = props.TreatMissingData ?? 'missing';
      const state: AlarmState = missing === 'breaching' ? 'ALARM' : missing === 'notBreaching' ? 'OK' : 'INSUFFICIENT_DATA';
      return { alarmId, state, threshold: props.Threshold, reason: `no data for ${what} (treated as ${missing})` };
    }
    const alarm = breaches(value, props.ComparisonOperator, props.Threshold);
    return { alarmId, state: alarm ? 'ALARM' : 'OK', value, threshold: props.Threshold, reason: `${what} = ${+value.toFixed(6)} ${alarm ? 'breaches' : 'is within'} ${props.ComparisonOperator} ${props.Threshold}` };
  }
}
