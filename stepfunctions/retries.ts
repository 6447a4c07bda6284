import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';

/**
 * The kit's retry policy for a Lambda task: errors a retry cannot fix
 * (`permanent`, e.g. a malformed request) are not retried; anything else up
 * to 3 times, from 2 s, doubling, with full jitter. Returns the task.
 */
export function retryTransient<T extends sfn.TaskStateBase>(task: T, permanent: readonly string[]): T {
  task.addRetry({ errors: [...permanent], maxAttempts: 0 });
  task.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 3, jitterStrategy: sfn.JitterType.FULL });
  return task;
}
