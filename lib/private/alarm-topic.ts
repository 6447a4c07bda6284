import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { acknowledgeDeadLetterQueue } from './nag';

/** A TLS-only topic encrypted with `key`, which CloudWatch alarms may publish to. */
export function createAlarmTopic(scope: Construct, key: kms.IKey, displayName: string): sns.Topic {
  const topic = new sns.Topic(scope, 'AlarmTopic', { masterKey: key, enforceSSL: true, displayName });
  // an alarm publishing to an encrypted topic needs the key (CloudWatch's service principal)
  key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:GenerateDataKey', 'kms:Decrypt');
  return topic;
}

/**
 * The alarm on a dead-letter queue: in ALARM while any message waits in it
 * (Maximum over 5 minutes), notifying `topic`. Acknowledges the queue's own
 * missing redrive (it is the end of one).
 */
export function deadLetterAlarm(scope: Construct, id: string, queue: sqs.Queue, topic: sns.ITopic, description: string, of: string): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    alarmDescription: description,
    metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: cloudwatch.Stats.MAXIMUM }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  alarm.addAlarmAction(new actions.SnsAction(topic));
  acknowledgeDeadLetterQueue(queue, of);
  return alarm;
}
