import type { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

export interface AlarmActionProps {
  readonly alarm: cloudwatch.IAlarm;
  readonly description: string;
  /** The Lambda that acts. */
  readonly handler: lambda.IFunction;
  /** What it receives besides `alarmName`, `time` and `reason` (the alarm's state reason). */
  readonly input: Readonly<Record<string, unknown>>;
  readonly deadLetterQueue: sqs.IQueue;
  readonly retryAttempts: number;
  readonly maxEventAge: Duration;
}

/**
 * An EventBridge rule that calls `handler` when `alarm` goes into ALARM, with
 * `{ ...input, alarmName, time, reason }` (an input transformer over the
 * "CloudWatch Alarm State Change" event): how the kit's alarms act.
 */
export function alarmActionRule(scope: Construct, id: string, props: AlarmActionProps): events.Rule {
  return new events.Rule(scope, id, {
    description: props.description,
    eventPattern: { source: ['aws.cloudwatch'], detailType: ['CloudWatch Alarm State Change'], resources: [props.alarm.alarmArn], detail: { state: { value: ['ALARM'] } } },
    targets: [
      new targets.LambdaFunction(props.handler, {
        deadLetterQueue: props.deadLetterQueue,
        retryAttempts: props.retryAttempts,
        maxEventAge: props.maxEventAge,
        event: events.RuleTargetInput.fromObject({
          ...props.input,
          alarmName: events.EventField.fromPath('$.detail.alarmName'),
          time: events.EventField.time,
          reason: events.EventField.fromPath('$.detail.state.reason'),
        }),
      }),
    ],
  });
}
