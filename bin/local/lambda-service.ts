import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalCloudWatch } from './cloudwatch';
import { arn, type LocalStack } from './local-stack';

/*
 * Lambda, locally, for the functions of the synthesized stack: published
 * versions (each a snapshot of the environment, run by a fresh instance of the
 * bundle, as each version runs in containers of its own), aliases with
 * weighted routing (a canary), invocations recorded as the Lambda service's
 * metrics (Invocations, Errors, Duration by function, alias and executed
 * version) with the functions' EMF lines read into the local CloudWatch.
 * It answers the Lambda API calls the deployer makes (GetAlias, UpdateAlias,
 * GetFunctionConfiguration, UpdateFunctionConfiguration, PublishVersion) and
 * serves an alias over HTTP the way a Function URL does (payload 2.0).
 * Invocations run one at a time: a Lambda container serves one request at once.
 */

interface AliasState {
  version: string;
  /** Extra versions and their share of traffic (RoutingConfig.AdditionalVersionWeights). */
  weights: Record<string, number>;
}

interface FunctionState {
  readonly functionId: string;
  latest: Record<string, string>;
  revision: number;
  readonly versions: Map<string, Record<string, string>>;
  readonly aliases: Map<string, AliasState>;
}

/** A function's logical id (its local name) from its name or ARN, with or without a qualifier. */
export function functionIdOf(nameOrArn: string): string {
  return nameOrArn.replace(/^arn:aws:lambda:[^:]+:\d+:function:/, '').replace(/:.*$/, '');
}

export class LambdaApiError extends Error {
  constructor(
    readonly type: string,
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export interface LocalInvocation {
  readonly version: string;
  readonly result?: unknown;
  readonly error?: Error;
  readonly durationMs: number;
}

export class LocalLambda {
  private readonly functions = new Map<string, FunctionState>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly stack: LocalStack,
    private readonly cloudwatch: LocalCloudWatch,
    /** Environment for every invocation made here (e.g. metrics on). */
    private readonly extraEnv: Readonly<Record<string, string>> = { POWERTOOLS_METRICS_DISABLED: 'false' },
    private readonly random: () => number = Math.random,
  ) {}

  /** A function's state, from the template: $LATEST, version 1 and the aliases the stack creates. */
  private state(name: string): FunctionState {
    const functionId = functionIdOf(name);
    const known = this.functions.get(functionId);
    if (known) return known;
    if (this.stack.template.Resources[functionId]?.Type !== 'AWS::Lambda::Function') throw new LambdaApiError('ResourceNotFoundException', 404, `Function not found: ${name}`);
    const latest = this.stack.templateVariables(functionId);
    const state: FunctionState = { functionId, latest, revision: 1, versions: new Map(), aliases: new Map() };
    for (const r of Object.values(this.stack.template.Resources)) {
      const fn = (r.Properties?.FunctionName as { Ref?: string } | undefined)?.Ref;
      if (fn !== functionId) continue;
      if (r.Type === 'AWS::Lambda::Version') state.versions.set('1', { ...latest });
      if (r.Type === 'AWS::Lambda::Alias') state.aliases.set(String(r.Properties?.Name), { version: this.stack.resolver.resolveString(r.Properties?.FunctionVersion, `alias ${String(r.Properties?.Name)}`), weights: {} });
    }
    this.functions.set(functionId, state);
    return state;
  }

  private alias(name: string, alias: string): { state: FunctionState; alias: AliasState } {
    const state = this.state(name);
    const a = state.aliases.get(alias);
    if (!a) throw new LambdaApiError('ResourceNotFoundException', 404, `Alias not found: ${name}:${alias}`);
    return { state, alias: a };
  }

  getAlias(name: string, alias: string): { FunctionVersion: string; Name: string; AliasArn: string; RoutingConfig?: { AdditionalVersionWeights: Record<string, number> } } {
    const { state, alias: a } = this.alias(name, alias);
    return { FunctionVersion: a.version, Name: alias, AliasArn: arn('lambda', `function:${state.functionId}:${alias}`), ...(Object.keys(a.weights).length ? { RoutingConfig: { AdditionalVersionWeights: { ...a.weights } } } : {}) };
  }

  updateAlias(name: string, alias: string, version: string | undefined, weights: Record<string, number> | undefined): ReturnType<LocalLambda['getAlias']> {
    const { state, alias: a } = this.alias(name, alias);
    for (const v of [version, ...Object.keys(weights ?? {})]) if (v !== undefined && !state.versions.has(v)) throw new LambdaApiError('ResourceNotFoundException', 404, `Function version ${v} of ${state.functionId} not found`);
    if (version !== undefined) a.version = version;
    if (weights !== undefined) a.weights = { ...weights };
    return this.getAlias(name, alias);
  }

  getConfiguration(name: string, qualifier?: string): { FunctionName: string; Version: string; Environment: { Variables: Record<string, string> }; RevisionId: string; State: string; LastUpdateStatus: string } {
    const state = this.state(name);
    const version = qualifier && qualifier !== '$LATEST' ? (state.aliases.get(qualifier)?.version ?? qualifier) : '$LATEST';
    const vars = version === '$LATEST' ? state.latest : state.versions.get(version);
    if (!vars) throw new LambdaApiError('ResourceNotFoundException', 404, `Function version ${version} of ${state.functionId} not found`);
    return { FunctionName: state.functionId, Version: version, Environment: { Variables: { ...vars } }, RevisionId: `rev-${state.revision}`, State: 'Active', LastUpdateStatus: 'Successful' };
  }

  updateConfiguration(name: string, variables: Record<string, string> | undefined, revisionId: string | undefined): ReturnType<LocalLambda['getConfiguration']> {
    const state = this.state(name);
    if (revisionId !== undefined && revisionId !== `rev-${state.revision}`) throw new LambdaApiError('PreconditionFailedException', 412, `The RevisionId provided does not match the latest RevisionId for the Lambda function`);
    if (variables) state.latest = { ...variables };
    state.revision++;
    return this.getConfiguration(name);
  }

  publishVersion(name: string, description?: string): { Version: string; Description?: string; FunctionArn: string } {
    const state = this.state(name);
    const version = String(Math.max(0, ...[...state.versions.keys()].map(Number)) + 1);
    state.versions.set(version, { ...state.latest });
    return { Version: version, ...(description ? { Description: description } : {}), FunctionArn: arn('lambda', `function:${state.functionId}:${version}`) };
  }

  /** Invokes the alias: a version chosen by its routing weights, recorded in the metrics. */
  invokeAlias(functionId: string, alias: string, event: unknown): Promise<LocalInvocation> {
    const { alias: a } = this.alias(functionId, alias);
    let version = a.version;
    let draw = this.random();
    for (const [v, w] of Object.entries(a.weights)) {
      if (draw < w) {
        version = v;
        break;
      }
      draw -= w;
    }
    return this.run(functionId, version, event, alias);
  }

  private run(functionId: string, version: string, event: unknown, alias?: string): Promise<LocalInvocation> {
    const next = this.queue.then(async (): Promise<LocalInvocation> => {
      const variables = this.state(functionId).versions.get(version);
      if (!variables) throw new LambdaApiError('ResourceNotFoundException', 404, `Function version ${version} of ${functionId} not found`);
      // its EMF lines reach the local CloudWatch through the stack's log sink (startLocalServing sets it)
      const started = performance.now();
      let result: unknown;
      let error: Error | undefined;
      try {
        result = await this.stack.invoke(functionId, event, { variables, extraEnv: this.extraEnv, instance: `v${version}` });
      } catch (err) {
        error = err as Error;
      }
      const durationMs = performance.now() - started;
      const dims: Record<string, string>[] = [{ FunctionName: functionId }, ...(alias ? [{ FunctionName: functionId, Resource: `${functionId}:${alias}` }, { FunctionName: functionId, Resource: `${functionId}:${alias}`, ExecutedVersion: version }] : [])];
      for (const d of dims) {
        this.cloudwatch.put('AWS/Lambda', 'Invocations', d, 1);
        this.cloudwatch.put('AWS/Lambda', 'Errors', d, error ? 1 : 0);
        this.cloudwatch.put('AWS/Lambda', 'Duration', d, durationMs);
      }
      return { version, durationMs, ...(error ? { error } : { result }) };
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}

async function body(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += (chunk as Buffer).toString('utf8');
  return text;
}

function reply(res: ServerResponse, status: number, payload: unknown, errorType?: string): void {
  res.writeHead(status, { 'content-type': 'application/json', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
  res.end(JSON.stringify(payload));
}

/** The Lambda API (REST) over LocalLambda, for SDK clients with AWS_ENDPOINT_URL_LAMBDA. */
export async function startLambdaApi(lambda: LocalLambda): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? '/', 'http://local');
        const m = /^\/2015-03-31\/functions\/([^/]+)\/(aliases\/([^/]+)|configuration|versions)$/.exec(url.pathname);
        if (!m) throw new LambdaApiError('UnknownOperationException', 400, `${req.method} ${url.pathname} is not run locally`);
        const name = decodeURIComponent(m[1]!);
        const input = req.method === 'GET' ? {} : (JSON.parse((await body(req)) || '{}') as Record<string, unknown>);
        if (m[3] !== undefined && req.method === 'GET') return reply(res, 200, lambda.getAlias(name, decodeURIComponent(m[3])));
        if (m[3] !== undefined && req.method === 'PUT') return reply(res, 200, lambda.updateAlias(name, decodeURIComponent(m[3]), input.FunctionVersion as string | undefined, (input.RoutingConfig as { AdditionalVersionWeights?: Record<string, number> } | undefined)?.AdditionalVersionWeights));
        if (m[2] === 'configuration' && req.method === 'GET') return reply(res, 200, lambda.getConfiguration(name, url.searchParams.get('Qualifier') ?? undefined));
        if (m[2] === 'configuration' && req.method === 'PUT') return reply(res, 200, lambda.updateConfiguration(name, (input.Environment as { Variables?: Record<string, string> } | undefined)?.Variables, input.RevisionId as string | undefined));
        if (m[2] === 'versions' && req.method === 'POST') return reply(res, 201, lambda.publishVersion(name, input.Description as string | undefined));
        throw new LambdaApiError('UnknownOperationException', 400, `${req.method} ${url.pathname} is not run locally`);
      } catch (err) {
        const e = err instanceof LambdaApiError ? err : new LambdaApiError('ServiceException', 500, (err as Error).message);
        reply(res, e.statusCode, { Type: 'User', message: e.message }, e.type);
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/**
 * Serves a function's alias over HTTP on 127.0.0.1 as its Function URL does:
 * each request becomes a payload 2.0 event; the response's status, headers and
 * body are the handler's. A handler that throws answers 502, as Lambda does.
 */
export async function serveFunctionUrl(lambda: LocalLambda, functionId: string, alias: string): Promise<{ url: string; close(): Promise<void> }> {
  let n = 0;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const text = await body(req);
      const url = new URL(req.url ?? '/', 'http://local');
      const requestId = `local-${++n}-${Date.now().toString(36)}`;
      const event = {
        version: '2.0',
        rawPath: url.pathname,
        rawQueryString: url.search.slice(1),
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')])),
        requestContext: { requestId, http: { method: req.method ?? 'GET', path: url.pathname, sourceIp: req.socket.remoteAddress ?? '127.0.0.1' } },
        body: text,
        isBase64Encoded: false,
      };
      const out = await lambda.invokeAlias(functionId, alias, event);
      if (out.error) return reply(res, 502, { message: 'Internal Server Error' });
      const r = out.result as { statusCode?: number; headers?: Record<string, string>; body?: string };
      res.writeHead(r.statusCode ?? 200, { ...(r.headers ?? {}), 'x-amzn-requestid': requestId, 'x-local-executed-version': out.version });
      res.end(r.body ?? '');
    })().catch((err: unknown) => reply(res, 500, { message: (err as Error).message }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
