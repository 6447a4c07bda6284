import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A local stand-in for the Step Functions API calls the kit's Lambdas make:
 * StartExecution (the retraining starter) answers as the service does (an
 * execution ARN, or ExecutionAlreadyExists for a name already used on that
 * state machine) and queues the execution, which the local runner then runs
 * from the template; ListExecutions (the pipeline waiting its turn) lists the
 * executions the local runner has under way (a queued one counts once the
 * runner runs it, with the start date StartExecution gave it); SendTaskSuccess (an approval)
 * is kept for the tests. Anything else is refused by name.
 */

export interface StartedExecution {
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: unknown;
  readonly executionArn: string;
}

export interface StepFunctionsApi {
  readonly endpoint: string;
  /** Executions started, in order (each name once per state machine). */
  readonly started: StartedExecution[];
  /** Task answers received (SendTaskSuccess), in order. */
  readonly taskAnswers: { readonly taskToken: string; readonly output: unknown }[];
  /** Marks an execution as running (the local runner calls it); the returned function marks it ended. */
  track(stateMachineArn: string, name: string, startDate: Date): () => void;
  /** When an execution of that name was started through StartExecution. */
  startedAt(stateMachineArn: string, name: string): Date | undefined;
  close(): Promise<void>;
}

export async function startStepFunctionsApi(): Promise<StepFunctionsApi> {
  const started: StartedExecution[] = [];
  const taskAnswers: { taskToken: string; output: unknown }[] = [];
  const running = new Map<string, { stateMachineArn: string; name: string; startDate: Date }>();
  const startDates = new Map<string, Date>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const reply = (status: number, payload: unknown, errorType?: string): void => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
        res.end(JSON.stringify(payload));
      };
      if (target === 'AWSStepFunctions.ListExecutions') {
        const q = JSON.parse(body || '{}') as { stateMachineArn?: string; statusFilter?: string };
        if (!q.stateMachineArn) return reply(400, { __type: 'ValidationException', message: 'stateMachineArn is required' }, 'ValidationException');
        const executions = q.statusFilter && q.statusFilter !== 'RUNNING' ? [] : [...running.values()].filter((e) => e.stateMachineArn === q.stateMachineArn);
        return reply(200, {
          executions: executions.map((e) => ({ executionArn: `${e.stateMachineArn.replace(':stateMachine:', ':execution:')}:${e.name}`, stateMachineArn: e.stateMachineArn, name: e.name, status: 'RUNNING', startDate: e.startDate.getTime() / 1000 })),
        });
      }
      if (target === 'AWSStepFunctions.SendTaskSuccess') {
        const q = JSON.parse(body || '{}') as { taskToken?: string; output?: string };
        if (!q.taskToken || q.output === undefined) return reply(400, { __type: 'ValidationException', message: 'taskToken and output are required' }, 'ValidationException');
        taskAnswers.push({ taskToken: q.taskToken, output: JSON.parse(q.output) });
        return reply(200, {});
      }
      if (target !== 'AWSStepFunctions.StartExecution') return reply(400, { __type: 'UnknownOperationException', message: `${target} is not run locally` }, 'UnknownOperationException');
      const input = JSON.parse(body || '{}') as { stateMachineArn?: string; name?: string; input?: string };
      if (!input.stateMachineArn) return reply(400, { __type: 'ValidationException', message: 'stateMachineArn is required' }, 'ValidationException');
      const name = input.name ?? crypto.randomUUID();
      if (started.some((e) => e.stateMachineArn === input.stateMachineArn && e.name === name)) {
        return reply(400, { __type: 'ExecutionAlreadyExists', message: `Execution Already Exists: '${name}'` }, 'ExecutionAlreadyExists');
      }
      const executionArn = `${input.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
      started.push({ stateMachineArn: input.stateMachineArn, name, input: JSON.parse(input.input ?? '{}'), executionArn });
      startDates.set(`${input.stateMachineArn}:${name}`, new Date());
      reply(200, { executionArn, startDate: Date.now() / 1000 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    started,
    taskAnswers,
    track(stateMachineArn, name, startDate) {
      const key = `${stateMachineArn}:${name}`;
      running.set(key, { stateMachineArn, name, startDate });
      return () => running.delete(key);
    },
    startedAt: (stateMachineArn, name) => startDates.get(`${stateMachineArn}:${name}`),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
