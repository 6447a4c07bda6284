import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * An AWS JSON 1.1 API on 127.0.0.1 (POST, the operation in `X-Amz-Target`,
 * errors as `__type` and `x-amzn-errortype`), for the SDK clients of bundled
 * Lambdas pointed at it with AWS_ENDPOINT_URL_<SERVICE>. The local CodeDeploy
 * and SageMaker hosting stand-ins serve through it.
 */

/** Serves `call(target, input)`; an error with a string `type` answers that type, anything else `fallbackErrorType`. */
export async function startJsonApi(call: (target: string, input: Record<string, unknown>) => Promise<unknown>, fallbackErrorType: string): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      const reply = (status: number, payload: unknown, errorType?: string): void => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
        res.end(JSON.stringify(payload));
      };
      (async () => call(String(req.headers['x-amz-target'] ?? ''), JSON.parse(text || '{}') as Record<string, unknown>))().then(
        (out) => reply(200, out),
        (err: unknown) => {
          const e = err as Error & { type?: unknown };
          const type = typeof e.type === 'string' ? e.type : fallbackErrorType;
          reply(400, { __type: type, message: e.message }, type);
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
