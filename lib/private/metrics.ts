import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/** A count a kit Lambda emits with Powertools (dimension `service`). Statistic: Sum; period: 5 minutes. */
export function serviceMetric(namespace: string, service: string, metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace, metricName, dimensionsMap: { service }, statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5), ...props });
}
