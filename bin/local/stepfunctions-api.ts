import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A local stand-in for the Step Functions API calls the kit's Lambdas make
 * (StartExecution, by the retraining starter): it answers as the service does
 * (an execution ARN, or ExecutionAlreadyExists for a name already used on that
 * state machine) and queues the execution; the local runner then runs it from
 * the template with aws-local-stepfunctions. Anything else is refused by name.
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
  close(): Promise<void>;
}

export async function startStepFunctionsApi(): Promise<StepFunctionsApi> {
  const started: StartedExecution[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const reply = (status: number, payload: unknown, errorType?: string): void => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
        res.end(JSON.stringify(payload));
      };
      if (target !== 'AWSStepFunctions.StartExecution') return reply(400, { __type: 'UnknownOperationException', message: `${target} is not run locally` }, 'UnknownOperationException');
      const input = JSON.parse(body || '{}') as { stateMachineArn?: string; name?: string; input?: string };
      if (!input.stateMachineArn) return reply(400, { __type: 'ValidationException', message: 'stateMachineArn is required' }, 'ValidationException');
      const name = input.name ?? crypto.randomUUID();
      if (started.some((e) => e.stateMachineArn === input.stateMachineArn && e.name === name)) {
        return reply(400, { __type: 'ExecutionAlreadyExists', message: `Execution Already Exists: '${name}'` }, 'ExecutionAlreadyExists');
      }
      const executionArn = `${input.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
      started.push({ stateMachineArn: input.stateMachineArn, name, input: JSON.parse(input.input ?? '{}'), executionArn });
      reply(200, { executionArn, startDate: Date.now() / 1000 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    started,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
