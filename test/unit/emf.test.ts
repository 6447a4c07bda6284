import { describe, expect, it } from 'vitest';
import { LocalCloudWatch } from '../../bin/local/cloudwatch';
import { EmfWriter } from '../../lambdas/shared/emf';

describe('EmfWriter', () => {
  it('writes one Embedded Metric Format line per flush, as CloudWatch documents it', () => {
    // Prepare
    const lines: string[] = [];
    const emf = new EmfWriter('cdk-mlops', 'endpoint-wages', (l) => lines.push(l));
    // Act
    emf.add('Latency', 'Milliseconds', 1.5);
    emf.add('BatchSize', 'Count', 3);
    emf.add('PredictionMean', 'None', Number.NaN); // left out: EMF has no NaN
    emf.flush(1_700_000_000_000);
    emf.flush(); // nothing stored: nothing written
    // Assess
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    expect(JSON.parse(lines[0]!)).toEqual({
      _aws: { Timestamp: 1_700_000_000_000, CloudWatchMetrics: [{ Namespace: 'cdk-mlops', Dimensions: [['service']], Metrics: [{ Name: 'Latency', Unit: 'Milliseconds' }, { Name: 'BatchSize', Unit: 'Count' }] }] },
      service: 'endpoint-wages',
      Latency: 1.5,
      BatchSize: 3,
    });
  });

  it('is read back by the local CloudWatch as datapoints with the service dimension', () => {
    const lines: string[] = [];
    const emf = new EmfWriter('ns', 'svc', (l) => lines.push(l));
    emf.add('ServerErrors', 'Count', 1);
    emf.flush(5);
    const cw = new LocalCloudWatch(undefined as never);
    expect(cw.putEmf(lines[0]!.trim())).toBe(true);
    expect(cw.datapoints).toEqual([{ namespace: 'ns', name: 'ServerErrors', dimensions: { service: 'svc' }, value: 1, time: 5 }]);
    expect(cw.putEmf('{"level":"INFO","message":"not a metric"}')).toBe(false);
  });
});
