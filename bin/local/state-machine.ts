import './node20';
import { StateMachine, type RunOptions as LocalRunOptions, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { LocalStack } from './local-stack';

/*
 * Runs a state machine of the synthesized template with aws-local-stepfunctions:
 * the definition is the template's (intrinsics resolved to local names), and
 * every Lambda task runs the bundled handler from cdk.out through LocalStack.
 * What the library cannot run is rewritten to its local equivalent or refused:
 * a Distributed Map over items in the state becomes an inline Map over the same
 * items (Distributed Maps with an ItemReader, ItemBatcher or ResultWriter are
 * refused); a task on any other service is refused by name.
 */

type Json = Record<string, unknown>;
type Handlers = NonNullable<NonNullable<LocalRunOptions['overrides']>['taskResourceLocalHandlers']>;
/** One entry of an execution's event log (aws-local-stepfunctions' events, as far as the kit reads them). */
export interface EventLog {
  readonly type: string;
  readonly timestamp: number;
  readonly state?: { readonly name: string; readonly type: string; readonly input?: unknown; readonly output?: unknown };
  readonly [key: string]: unknown;
}

export interface LocalExecution {
  readonly output: unknown;
  /** The execution's events (state entered/exited, retries, catches, map iterations...). */
  readonly events: readonly EventLog[];
  /** Task invocations in order: state name and function. */
  readonly invocations: readonly { readonly state: string; readonly functionId: string }[];
}

export interface RunOptions {
  /** Pause between retries, in ms, for every state with a Retry. @default 0 */
  readonly retryIntervalMs?: number;
  /** How long every Wait state waits, in ms (a poll loop runs at once). @default 0 */
  readonly waitMs?: number;
  /** Pause between retries, in ms, for these states (overrides `retryIntervalMs`). */
  readonly retryIntervals?: Readonly<Record<string, number>>;
  /** Replaces the handler of a Task state (fault injection in tests). */
  readonly taskOverrides?: Readonly<Record<string, (input: unknown) => Promise<unknown>>>;
  /**
   * Local stand-ins for service integrations, by Task resource (e.g.
   * `arn:aws:states:::sagemaker:createTrainingJob.sync`): they get the task's
   * Parameters, resolved, and return what the integration would.
   */
  readonly services?: Readonly<Record<string, (input: unknown) => Promise<unknown>>>;
  /** The execution's name ($$.Execution.Name). @default - a random UUID, as StartExecution without a name */
  readonly name?: string;
  /** Called with each event as it happens (progress output). */
  readonly onEvent?: (event: EventLog) => void;
}

/** The state machine's definition as deployed, read from the template. */
export function stateMachineDefinition(stack: LocalStack, stateMachineId: string): Json {
  const resource = stack.template.Resources[stateMachineId];
  if (resource?.Type !== 'AWS::StepFunctions::StateMachine') throw new Error(`${stateMachineId}: not a state machine of the template`);
  const props = resource.Properties ?? {};
  if (props.DefinitionS3Location !== undefined) throw new Error(`${stateMachineId}: a definition in S3 is not supported by the local runner`);
  const text = stack.resolver.resolveString(props.DefinitionString, `${stateMachineId} DefinitionString`);
  return JSON.parse(text) as Json;
}

/** A definition aws-local-stepfunctions can run: Distributed Maps over state items become inline Maps. */
export function localDefinition(definition: Json): Json {
  const copy = structuredClone(definition);
  const visit = (states: Json): void => {
    for (const [name, raw] of Object.entries(states)) {
      const state = raw as Json;
      if (state.QueryLanguage === 'JSONata') throw new Error(`state '${name}': JSONata is not run locally; use JSONPath`);
      if (state.Assign !== undefined) throw new Error(`state '${name}': Assign is not run locally`);
      if (state.Type === 'Map') {
        const processor = (state.ItemProcessor ?? state.Iterator) as Json | undefined;
        const config = processor?.ProcessorConfig as Json | undefined;
        if (config?.Mode === 'DISTRIBUTED') {
          for (const field of ['ItemReader', 'ItemBatcher', 'ResultWriter']) {
            if (state[field] !== undefined) throw new Error(`state '${name}': a Distributed Map with ${field} cannot run locally`);
          }
          if ((state.ToleratedFailurePercentage ?? 0) !== 0 || (state.ToleratedFailureCount ?? 0) !== 0) throw new Error(`state '${name}': tolerated failures are not run locally`);
          delete state.Label;
          delete state.ToleratedFailurePercentage;
          delete state.ToleratedFailureCount;
          processor!.ProcessorConfig = { Mode: 'INLINE' };
        }
        if (processor) visit(processor.States as Json);
      }
      if (state.Type === 'Parallel') for (const branch of state.Branches as Json[]) visit(branch.States as Json);
    }
  };
  visit(copy.States as Json);
  return copy;
}

/** Task states and the stack's Lambda function each invokes; any other task is refused. */
function lambdaTasks(stack: LocalStack, definition: Json): Map<string, { functionId: string; integration: 'direct' | 'invoke'; resource: string }> {
  const byArn = new Map<string, string>();
  for (const [id, r] of stack.physical) if (stack.template.Resources[id]?.Type === 'AWS::Lambda::Function' && r.attributes.Arn) byArn.set(r.attributes.Arn, id);
  const functionOf = (arn: unknown, state: string): string => {
    const id = typeof arn === 'string' ? byArn.get(arn.replace(/:(\$LATEST|\d+)$/, '')) : undefined;
    if (!id) throw new Error(`state '${state}': ${JSON.stringify(arn)} is not a Lambda function of the stack`);
    return id;
  };
  const out = new Map<string, { functionId: string; integration: 'direct' | 'invoke'; resource: string }>();
  const visit = (states: Json): void => {
    for (const [name, raw] of Object.entries(states)) {
      const state = raw as Json;
      if (state.Type === 'Task') {
        const resource = String(state.Resource);
        if (resource.startsWith('arn:aws:lambda:')) out.set(name, { functionId: functionOf(resource, name), integration: 'direct', resource });
        else if (resource === 'arn:aws:states:::lambda:invoke') out.set(name, { functionId: functionOf((state.Parameters as Json | undefined)?.FunctionName, name), integration: 'invoke', resource });
        else out.set(name, { functionId: '', integration: 'direct', resource });
      }
      const processor = (state.ItemProcessor ?? state.Iterator) as Json | undefined;
      if (processor) visit(processor.States as Json);
      if (state.Type === 'Parallel') for (const branch of state.Branches as Json[]) visit(branch.States as Json);
    }
  };
  visit(definition.States as Json);
  return out;
}

/** Pauses of every state with a Retry (or of every Wait state), overridden (locally there is nothing to wait for). */
function pauseOverrides(definition: Json, ms: number, has: (state: Json) => boolean): Record<string, number> {
  const out: Record<string, number> = {};
  const visit = (states: Json): void => {
    for (const [name, raw] of Object.entries(states)) {
      const state = raw as Json;
      if (has(state)) out[name] = ms;
      const processor = (state.ItemProcessor ?? state.Iterator) as Json | undefined;
      if (processor) visit(processor.States as Json);
      if (state.Type === 'Parallel') for (const branch of state.Branches as Json[]) visit(branch.States as Json);
    }
  };
  visit(definition.States as Json);
  return out;
}

/** Executes the template's state machine `stateMachineId` with `input`, Lambda tasks on their bundled handlers. */
export async function runStateMachine(stack: LocalStack, stateMachineId: string, input: unknown, options: RunOptions = {}): Promise<LocalExecution> {
  const definition = localDefinition(stateMachineDefinition(stack, stateMachineId));
  const invocations: { state: string; functionId: string }[] = [];
  const handlers: Handlers = {};
  for (const [state, task] of lambdaTasks(stack, definition)) {
    const override = options.taskOverrides?.[state] ?? (task.functionId ? undefined : options.services?.[task.resource]);
    if (!task.functionId && !override) throw new Error(`state '${state}': ${task.resource} has no local stand-in (only Lambda tasks, and the services given, run locally)`);
    const run = async (taskInput: unknown): Promise<unknown> => {
      invocations.push({ state, functionId: task.functionId });
      if (override) return override(taskInput);
      if (task.integration === 'direct') return stack.invoke(task.functionId, taskInput);
      const payload = await stack.invoke(task.functionId, (taskInput as Json).Payload);
      return { Payload: payload, StatusCode: 200, ExecutedVersion: '$LATEST' };
    };
    handlers[state] = run as Handlers[string];
  }
  const machine = new StateMachine(definition as unknown as StateMachineDefinition, { validationOptions: { checkArn: false } });
  const name = options.name ?? crypto.randomUUID();
  const smArn = stack.physical.get(stateMachineId)?.attributes.Arn ?? stateMachineId;
  // an execution queued through StartExecution started then (the pipeline's turn-taking compares start dates)
  const startDate = stack.emulators.stepFunctions.startedAt(smArn, name) ?? new Date();
  let tokens = 0;
  const executionId = `${smArn.replace(':stateMachine:', ':execution:')}:${name}`;
  const execution = machine.run(input as never, {
    context: {
      Execution: { Id: executionId, Input: input, Name: name, StartTime: startDate.toISOString(), RoleArn: 'arn:aws:iam::123456789012:role/local' },
      StateMachine: { Id: smArn, Name: stateMachineId },
      // $$.Task.Token: a new token each time a task asks for one (waitForTaskToken)
      Task: {
        get Token(): string {
          return Buffer.from(`${executionId}#${++tokens}`).toString('base64url');
        },
      },
    } as never,
    overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides: { ...pauseOverrides(definition, options.retryIntervalMs ?? 0, (s) => Array.isArray(s.Retry)), ...options.retryIntervals },
      waitTimeOverrides: pauseOverrides(definition, options.waitMs ?? 0, (s) => s.Type === 'Wait'),
    },
  });
  const ended = stack.emulators.stepFunctions.track(smArn, name, startDate);
  const events: EventLog[] = [];
  const collecting = (async () => {
    for await (const raw of execution.eventLogs) {
      const e = raw as unknown as EventLog;
      events.push(e);
      options.onEvent?.(e);
    }
  })();
  try {
    const output: unknown = await execution.result;
    return { output, events, invocations };
  } finally {
    ended();
    await collecting.catch(() => undefined);
  }
}
