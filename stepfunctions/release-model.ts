import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { retryTransient } from './retries';

export interface ReleaseModelProps {
  /** The endpoint's deployer function (operations release, check). */
  readonly deployer: lambda.IFunction;
  /** Where the model version id is in the state. @default '$.modelVersionId' */
  readonly modelVersionIdPath?: string;
  /** How often the release is checked. @default Duration.seconds(30) */
  readonly pollInterval?: Duration;
  /** Where any task error goes (its error at `$.error`). @default - the error fails the execution */
  readonly onError?: sfn.IChainable;
  /** Why the model is released, recorded on its Deployment: 'manual' (an operator) or 'retrain' (a pipeline). An endpoint's first model is always 'initial'. @default 'retrain' */
  readonly reason?: 'manual' | 'retrain';
  /** A prefix for the state names, for several releases in one state machine. @default '' */
  readonly stateNamePrefix?: string;
}

/** Errors a retry cannot fix. */
const PERMANENT = ['InvalidEventError', 'ReleaseRefusedError', 'NothingToRollBackError'];

/**
 * Releases a model version to an endpoint: Start release (the deployer pins
 * the model on a new version and starts the canary) → Wait → Check release
 * (recorded in the ledger once done) → done? Ends with `$.release` (what was
 * started) and `$.releaseStatus` (`{ done, succeeded, reason, ... }`): a
 * release CodeDeploy rolled back ends with `succeeded: false` and its
 * Incident recorded; branch on it. JSONPath only.
 */
export class ReleaseModel extends sfn.StateMachineFragment {
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, props: ReleaseModelProps) {
    super(scope, id);
    const name = (s: string): string => `${props.stateNamePrefix ?? ''}${s}`;
    const invoke = (state: string, payload: Record<string, unknown>, resultPath: string): tasks.LambdaInvoke => {
      const task = tasks.LambdaInvoke.jsonPath(this, name(state), { lambdaFunction: props.deployer, payloadResponseOnly: true, payload: sfn.TaskInput.fromObject(payload), resultPath, retryOnServiceExceptions: false, taskTimeout: sfn.Timeout.duration(Duration.minutes(5)) });
      retryTransient(task, PERMANENT);
      if (props.onError) task.addCatch(props.onError, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
      return task;
    };
    const start = invoke('Start release', { operation: 'release', modelVersionId: sfn.JsonPath.stringAt(props.modelVersionIdPath ?? '$.modelVersionId'), ...(props.reason === 'manual' ? { reason: 'manual' } : {}) }, '$.release');
    const check = invoke('Check release', { operation: 'check', release: sfn.JsonPath.objectAt('$.release') }, '$.releaseStatus');
    const wait = new sfn.Wait(this, name('Wait for release'), { time: sfn.WaitTime.duration(props.pollInterval ?? Duration.seconds(30)) });
    const finished = new sfn.Pass(this, name('Release finished'));
    start.next(wait).next(check).next(new sfn.Choice(this, name('Release done?')).when(sfn.Condition.booleanEquals('$.releaseStatus.done', true), finished).otherwise(wait));
    this.startState = start;
    this.endStates = [finished];
  }
}
