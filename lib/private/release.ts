import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { ReleaseModel } from '../../stepfunctions/release-model';
import { DEFAULT_LOG_RETENTION } from './defaults';
import { acknowledgeInlinePolicies, acknowledgeWildcards, STATE_MACHINE_WILDCARDS } from './nag';

/**
 * An endpoint's release state machine (`<scope>/ReleaseStateMachine`):
 * `{ "modelVersionId": "mv-..." }` in, ReleaseModel on the endpoint's
 * deployer, then Released or Rolled back (the reason as the cause).
 */
export function createReleaseStateMachine(scope: Construct, props: { deployer: lambda.IFunction; endpointName: string; pollInterval?: Duration; logRetention?: logs.RetentionDays; logsEncryptionKey: kms.IKey }): sfn.StateMachine {
  // the execution log holds every input and output (includeExecutionData): encrypted with the data lake's key
  const logGroup = new logs.LogGroup(scope, 'ReleaseLogs', { retention: props.logRetention ?? DEFAULT_LOG_RETENTION, encryptionKey: props.logsEncryptionKey, removalPolicy: RemovalPolicy.RETAIN });
  const failed = new sfn.Fail(scope, 'Rolled back', { errorPath: '$.releaseStatus.status', causePath: '$.releaseStatus.reason' });
  // an operator's release (the pipelines release through their own ReleaseModel)
  const release = new ReleaseModel(scope, 'Release', { deployer: props.deployer, pollInterval: props.pollInterval, reason: 'manual' });
  const machine = new sfn.StateMachine(scope, 'ReleaseStateMachine', {
    definitionBody: sfn.DefinitionBody.fromChainable(release.next(new sfn.Choice(scope, 'Released?').when(sfn.Condition.booleanEquals('$.releaseStatus.succeeded', true), new sfn.Succeed(scope, 'Released')).otherwise(failed))),
    timeout: Duration.hours(2),
    tracingEnabled: true,
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    comment: `cdk-mlops endpoint ${props.endpointName}: release a model version`,
  });
  acknowledgeWildcards(machine, STATE_MACHINE_WILDCARDS);
  acknowledgeInlinePolicies(machine);
  return machine;
}
