import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { retryTransient } from './retries';
import { acknowledgeInlinePolicies, acknowledgeWildcards, STATE_MACHINE_WILDCARDS } from '../lib/private/nag';
import type { ProfileShards } from '../lib/profile-shards';
import type { ValidationGate } from '../lib/validation-gate';

export interface ValidateDatasetProps {
  readonly validationGate: ValidationGate;
  readonly profileShards: ProfileShards;
  /**
   * Shards profiled at once (child executions of the Distributed Map).
   * @default 100
   */
  readonly maxConcurrency?: number;
  /**
   * Where an error of planning or of the gate itself goes (after retries), with
   * the error at `$.error`. Sharding errors never go there: they fall back to one pass.
   * @default - the error ends the execution
   */
  readonly onError?: sfn.IChainable;
}

/** Errors a retry cannot fix: a request naming no dataset version. */
const PERMANENT_ERRORS = ['InvalidEventError'];
/** Longer than any Lambda can run (15 minutes): a task that hangs is cut off. */
const TASK_TIMEOUT = sfn.Timeout.duration(Duration.minutes(16));

/**
 * Validates a dataset version: `{ datasetVersionId, baselineProfileKey? }` in,
 * the validation gate's verdict at `$.validation` out (`passed`, `reason`, ...).
 *
 * Versions above the sharding threshold are profiled first in parallel: Plan
 * (byte ranges or row groups) → Distributed Map over the shards (one EXPRESS
 * child execution each) → Merge, which stores the version's profile where the
 * gate finds it. When sharding cannot give the exact profile (Merge refuses, a
 * shard fails, a small file) the gate profiles the version in one pass, so the
 * verdict never depends on the path taken. JSONPath only; run locally, the
 * Distributed Map becomes an inline Map over the same items.
 */
export class ValidateDataset extends sfn.StateMachineFragment {
  /**
   * Acknowledges, with their reasons, the cdk-nag findings (AwsSolutions-IAM5) a
   * state machine running this fragment gets from CDK's own grants: invoking
   * the Lambdas' versions, managing the Distributed Map's child executions, and
   * X-Ray and log delivery. Any other wildcard is still reported. `alsoOnAnyResource` names
   * the other actions the state machine's tasks grant on `Resource: *`, and why, so that the one
   * acknowledgement of `Resource::*` says every action it covers.
   */
  static acknowledgeNagFindings(stateMachine: sfn.StateMachine, alsoOnAnyResource?: string): void {
    acknowledgeWildcards(stateMachine, [
      ...STATE_MACHINE_WILDCARDS.map((w) => (alsoOnAnyResource && w.resource.source === '^\\*$' ? { ...w, reason: `${w.reason} ${alsoOnAnyResource}` } : w)),
      {
        resource: /:states:.+:execution:.*:\*$/,
        reason: "A Distributed Map's role must describe and stop the child executions of its own map runs (execution:<this state machine>[/<label>]:*); their names are generated at run time. Scoped to this state machine.",
      },
    ]);
    acknowledgeInlinePolicies(stateMachine);
  }

  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[];
  /** The Distributed Map over the shards. */
  readonly shardMap: sfn.DistributedMap;

  constructor(scope: Construct, id: string, props: ValidateDatasetProps) {
    super(scope, id);
    const maxConcurrency = props.maxConcurrency ?? 100;
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1 || maxConcurrency > 10_000) throw new Error(`ValidateDataset: 'maxConcurrency' must be a whole number from 1 to 10000 (got ${maxConcurrency}).`);
    const profiler = props.profileShards.function;
    const retry = (task: tasks.LambdaInvoke): tasks.LambdaInvoke => retryTransient(task, PERMANENT_ERRORS);

    const plan = retry(
      tasks.LambdaInvoke.jsonPath(this, 'Plan shards', {
        lambdaFunction: profiler,
        payloadResponseOnly: true,
        payload: sfn.TaskInput.fromObject({ operation: 'plan', datasetVersionId: sfn.JsonPath.stringAt('$.datasetVersionId') }),
        resultPath: '$.plan',
        retryOnServiceExceptions: false,
        taskTimeout: TASK_TIMEOUT,
      }),
    );

    const profileShard = retry(
      tasks.LambdaInvoke.jsonPath(this, 'Profile shard', {
        lambdaFunction: profiler,
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        taskTimeout: TASK_TIMEOUT,
      }),
    );
    this.shardMap = sfn.DistributedMap.jsonPath(this, 'Profile shards', {
      itemsPath: '$.plan.shards',
      itemSelector: {
        operation: 'profile',
        'datasetVersionId.$': '$.datasetVersionId',
        'header.$': '$.plan.header',
        'shard.$': '$$.Map.Item.Value',
      },
      maxConcurrency,
      mapExecutionType: sfn.StateMachineType.EXPRESS,
      resultPath: '$.sharding',
      label: 'ProfileShards',
    });
    this.shardMap.itemProcessor(profileShard);

    const merge = retry(
      tasks.LambdaInvoke.jsonPath(this, 'Merge shard profiles', {
        lambdaFunction: profiler,
        payloadResponseOnly: true,
        payload: sfn.TaskInput.fromObject({
          operation: 'merge',
          datasetVersionId: sfn.JsonPath.stringAt('$.datasetVersionId'),
          shards: sfn.JsonPath.listAt('$.plan.shards'),
          results: sfn.JsonPath.listAt('$.sharding'),
        }),
        // the (small) merge outcome replaces the shard results
        resultPath: '$.sharding',
        retryOnServiceExceptions: false,
        taskTimeout: TASK_TIMEOUT,
      }),
    );

    const validate = retry(
      tasks.LambdaInvoke.jsonPath(this, 'Validate', {
        lambdaFunction: props.validationGate.function,
        payloadResponseOnly: true,
        // no Parameters: the gate gets the state and reads datasetVersionId and
        // baselineProfileKey (optional, so it cannot be a JSONPath parameter)
        resultPath: '$.validation',
        retryOnServiceExceptions: false,
        taskTimeout: TASK_TIMEOUT,
      }),
    );

    // A failed shard or merge falls back to one pass in the gate; the error is kept.
    this.shardMap.addCatch(validate, { errors: [sfn.Errors.ALL], resultPath: '$.sharding' });
    merge.addCatch(validate, { errors: [sfn.Errors.ALL], resultPath: '$.sharding' });

    const sharded = new sfn.Choice(this, 'Shard the profile?')
      .when(sfn.Condition.booleanEquals('$.plan.sharded', true), this.shardMap.next(merge).next(validate))
      .otherwise(validate);
    plan.next(sharded);
    if (props.onError) {
      plan.addCatch(props.onError, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
      validate.addCatch(props.onError, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    }
    this.startState = plan;
    this.endStates = [validate];
  }
}
