import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { CreateTableCommand, DynamoDBClient, ResourceInUseException, waitUntilTableExists, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectLockConfigurationCommand, S3Client, type DefaultRetention } from '@aws-sdk/client-s3';
import { IntrinsicResolver, readTemplate, resourcesOfType, type CfnTemplate, type PhysicalResource } from './cloud-assembly';
import type { Emulators } from './emulators';
import { matchesPattern } from './event-pattern';

/*
 * A synthesized stack, brought up on the local emulators: its buckets and tables
 * created under local names, its intrinsics resolved against them, its Lambda
 * functions run in-process from the bundles in cdk.out with the template's
 * environment, and events routed through the template's EventBridge rules.
 */

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';

export interface LocalStackOptions {
  /** Cloud assembly directory. */
  readonly outdir: string;
  readonly stackName: string;
  readonly emulators: Emulators;
  /**
   * Extra environment for every function (e.g. quieter logging).
   * @default {}
   */
  readonly functionEnv?: Readonly<Record<string, string>>;
}

type Handler = (event: unknown, context: Record<string, unknown>) => Promise<unknown>;

export interface Invocation {
  readonly functionId: string;
  readonly result?: unknown;
  readonly error?: Error;
}

export class LocalStack {
  readonly template: CfnTemplate;
  readonly resolver: IntrinsicResolver;
  readonly physical: ReadonlyMap<string, PhysicalResource>;
  private readonly handlers = new Map<string, Handler>();
  private readonly serviceEnv: Record<string, string> = {};

  /** The emulators the stack's resources live in. */
  get emulators(): Emulators {
    return this.options.emulators;
  }

  private constructor(private readonly options: LocalStackOptions) {
    this.template = readTemplate(options.outdir, options.stackName);
    this.physical = physicalNames(this.template, options.stackName);
    this.resolver = new IntrinsicResolver(this.physical, { region: REGION, accountId: ACCOUNT, partition: 'aws', stackName: options.stackName });
  }

  /** Reads the stack from the assembly and creates its buckets and tables (existing ones are kept). */
  static async start(options: LocalStackOptions): Promise<LocalStack> {
    const stack = new LocalStack(options);
    await stack.provision();
    return stack;
  }

  /** The local name of a resource (what `Ref` gives). */
  ref(logicalId: string): string {
    const r = this.physical.get(logicalId);
    if (!r) throw new Error(`no resource '${logicalId}' in stack ${this.options.stackName}`);
    return r.ref;
  }

  /** The resolved value of a stack output. */
  output(name: string): string {
    const out = this.template.Outputs?.[name];
    if (!out) throw new Error(`stack ${this.options.stackName} has no output '${name}'`);
    return this.resolver.resolveString(out.Value, `output ${name}`);
  }

  /** A function's environment variables as the template sets them, resolved. */
  templateVariables(functionId: string): Record<string, string> {
    const fn = this.template.Resources[functionId];
    if (fn?.Type !== 'AWS::Lambda::Function') throw new Error(`'${functionId}' is not a Lambda function of the stack`);
    const vars = ((fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {});
    return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, this.resolver.resolveString(v, `${functionId} environment ${k}`)]));
  }

  /**
   * Where log lines go first (e.g. the local CloudWatch taking EMF lines): from
   * now on every line this process writes to stdout is offered to `sink`, and
   * one it takes is not printed. Process-wide, since the functions'
   * invocations overlap (a Map state's iterations); the last sink set wins.
   */
  setLogSink(sink: (line: string) => boolean): void {
    installStdoutFilter();
    logSink = sink;
  }

  /** Endpoints of further local services (Lambda, CodeDeploy) every function's SDK clients are pointed at. */
  addServiceEndpoints(env: Readonly<Record<string, string>>): void {
    Object.assign(this.serviceEnv, env);
  }

  /**
   * The environment a function runs with: the template's variables, resolved
   * (or `variables`: a published version's), plus the emulators'.
   */
  functionEnvironment(functionId: string, variables?: Readonly<Record<string, string>>, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
    return { ...(variables ?? this.templateVariables(functionId)), ...this.options.emulators.env, ...this.serviceEnv, AWS_LAMBDA_FUNCTION_NAME: functionId, ...this.options.functionEnv, ...extra };
  }

  /**
   * Invokes a function's bundled handler in-process, under its own environment
   * (or the given one: a published version's). Each `instance` loads the
   * bundle afresh, as each Lambda version runs in containers of its own.
   */
  async invoke(functionId: string, event: unknown, options: { variables?: Readonly<Record<string, string>>; extraEnv?: Readonly<Record<string, string>>; instance?: string } = {}): Promise<unknown> {
    const env = this.functionEnvironment(functionId, options.variables, options.extraEnv);
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      const handler = this.loadHandler(functionId, options.instance);
      return await handler(event, lambdaContext(functionId));
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }

  /**
   * Delivers an event the way EventBridge would: to the Lambda targets of every
   * enabled rule of the stack whose pattern matches.
   */
  async putEvent(event: Record<string, unknown>): Promise<Invocation[]> {
    const out: Invocation[] = [];
    for (const [ruleId, rule] of resourcesOfType(this.template, 'AWS::Events::Rule')) {
      const props = rule.Properties ?? {};
      if (props.State === 'DISABLED' || !props.EventPattern) continue;
      if (!matchesPattern(this.resolver.resolve(props.EventPattern), event)) continue;
      out.push(...(await this.deliver(ruleId, event)));
    }
    return out;
  }

  /** Fires a scheduled rule of the stack once (as its schedule would): a "Scheduled Event" to its targets. */
  async fireSchedule(ruleId: string, time = new Date()): Promise<Invocation[]> {
    const rule = this.template.Resources[ruleId];
    if (rule?.Type !== 'AWS::Events::Rule' || !rule.Properties?.ScheduleExpression) throw new Error(`'${ruleId}' is not a scheduled rule of the stack`);
    const ruleArn = arn('events', `rule/${ruleId}`);
    return this.deliver(ruleId, { version: '0', id: crypto.randomUUID(), 'detail-type': 'Scheduled Event', source: 'aws.events', account: ACCOUNT, time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'), region: REGION, resources: [ruleArn], detail: {} });
  }

  /** The rule's targets (Lambda functions of the stack), each with its input: the event, a constant, or the transformed event. */
  private async deliver(ruleId: string, event: Record<string, unknown>): Promise<Invocation[]> {
    const out: Invocation[] = [];
    const props = this.template.Resources[ruleId]!.Properties ?? {};
    for (const target of (props.Targets as { Arn: unknown; Input?: string; InputPath?: string; InputTransformer?: { InputPathsMap?: Record<string, string>; InputTemplate: unknown } }[] | undefined) ?? []) {
      if (target.InputPath !== undefined) throw new Error(`rule ${ruleId}: InputPath targets are not supported by the local runner`);
      const arnOf = this.resolver.resolveString(target.Arn, `${ruleId} target`);
      const functionId = [...this.physical].find(([id, r]) => r.attributes.Arn === arnOf && this.template.Resources[id]?.Type === 'AWS::Lambda::Function')?.[0];
      if (!functionId) throw new Error(`rule ${ruleId}: target ${arnOf} is not a Lambda function of the stack`);
      const input = target.InputTransformer
        ? transformInput(this.resolver.resolveString(target.InputTransformer.InputTemplate, `${ruleId} input template`), target.InputTransformer.InputPathsMap ?? {}, event)
        : target.Input !== undefined
          ? (JSON.parse(target.Input) as unknown)
          : event;
      try {
        out.push({ functionId, result: await this.invoke(functionId, input) });
      } catch (err) {
        out.push({ functionId, error: err as Error });
      }
    }
    return out;
  }

  private loadHandler(functionId: string, instance = ''): Handler {
    const cacheKey = `${functionId}#${instance}`;
    const cached = this.handlers.get(cacheKey);
    if (cached) return cached;
    const fn = this.template.Resources[functionId]!;
    const asset = fn.Metadata?.['aws:asset:path'];
    if (typeof asset !== 'string') throw new Error(`${functionId}: no bundled asset in the assembly (was it synthesized with bundling skipped?)`);
    const handlerSpec = fn.Properties?.Handler;
    const [file, exportName] = (typeof handlerSpec === 'string' ? handlerSpec : 'index.handler').split(/\.(?=[^.]+$)/);
    const modulePath = path.resolve(this.options.outdir, asset, `${file}.js`);
    if (!existsSync(modulePath)) throw new Error(`${functionId}: bundle ${modulePath} not found`);
    if (instance !== '') delete require.cache[modulePath]; // a fresh module: its own init, as a new container
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(modulePath) as Record<string, unknown>;
    const handler = mod[exportName!];
    if (typeof handler !== 'function') throw new Error(`${functionId}: ${modulePath} exports no function '${exportName}'`);
    this.handlers.set(cacheKey, handler as Handler);
    return handler as Handler;
  }

  private async provision(): Promise<void> {
    const env = this.options.emulators.env;
    const credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! };
    const s3 = new S3Client({ endpoint: this.options.emulators.s3Endpoint, forcePathStyle: true, region: REGION, credentials });
    const ddb = new DynamoDBClient({ endpoint: this.options.emulators.dynamoEndpoint, region: REGION, credentials });
    try {
      const { versioning, objectLock } = this.options.emulators.capabilities;
      for (const [id, bucket] of resourcesOfType(this.template, 'AWS::S3::Bucket')) {
        const props = bucket.Properties ?? {};
        const locked = objectLock && props.ObjectLockEnabled === true;
        try {
          await s3.send(new CreateBucketCommand({ Bucket: this.ref(id), ...(locked ? { ObjectLockEnabledForBucket: true } : {}) }));
        } catch (err) {
          if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes((err as Error).name)) throw err;
          continue; // kept as it was
        }
        // as the template has them, where the emulator implements them (Object Lock turns versioning on by itself)
        if (versioning && (props.VersioningConfiguration as { Status?: string } | undefined)?.Status === 'Enabled') {
          await s3.send(new PutBucketVersioningCommand({ Bucket: this.ref(id), VersioningConfiguration: { Status: 'Enabled' } }));
        }
        const rule = (props.ObjectLockConfiguration as { Rule?: { DefaultRetention?: DefaultRetention } } | undefined)?.Rule?.DefaultRetention;
        if (locked && rule) await s3.send(new PutObjectLockConfigurationCommand({ Bucket: this.ref(id), ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: rule } } }));
      }
      for (const [id, table] of resourcesOfType(this.template, 'AWS::DynamoDB::Table')) {
        try {
          await ddb.send(new CreateTableCommand(tableInput(this.ref(id), table.Properties ?? {})));
        } catch (err) {
          if (!(err instanceof ResourceInUseException)) throw err;
        }
        // as CloudFormation does: the table is there once ACTIVE (dynalite on disk answers
        // "not found" to a write between CreateTable and that)
        await waitUntilTableExists({ client: ddb, maxWaitTime: 30, minDelay: 0.05, maxDelay: 0.2 }, { TableName: this.ref(id) });
      }
    } finally {
      s3.destroy();
      ddb.destroy();
    }
  }
}

/** Local physical names: deterministic, valid for each service, unique per stack. */
function physicalNames(template: CfnTemplate, stackName: string): Map<string, PhysicalResource> {
  const map = new Map<string, PhysicalResource>();
  for (const [id, r] of Object.entries(template.Resources)) {
    switch (r.Type) {
      case 'AWS::S3::Bucket': {
        const name = `${stackName}-${id}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63).replace(/-+$/, '');
        map.set(id, { ref: name, attributes: { Arn: `arn:aws:s3:::${name}`, DomainName: `${name}.s3.amazonaws.com`, RegionalDomainName: `${name}.s3.${REGION}.amazonaws.com` } });
        break;
      }
      case 'AWS::DynamoDB::Table':
        map.set(id, { ref: id, attributes: { Arn: arn('dynamodb', `table/${id}`), StreamArn: arn('dynamodb', `table/${id}/stream/local`) } });
        break;
      case 'AWS::Lambda::Function':
        map.set(id, { ref: id, attributes: { Arn: arn('lambda', `function:${id}`) } });
        break;
      case 'AWS::SQS::Queue':
        map.set(id, { ref: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${id}`, attributes: { Arn: arn('sqs', id), QueueName: id, QueueUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${id}` } });
        break;
      case 'AWS::StepFunctions::StateMachine':
        map.set(id, { ref: arn('states', `stateMachine:${id}`), attributes: { Arn: arn('states', `stateMachine:${id}`), Name: id } });
        break;
      case 'AWS::SNS::Topic':
        map.set(id, { ref: arn('sns', id), attributes: { TopicArn: arn('sns', id), TopicName: id } });
        break;
      case 'AWS::KMS::Key':
        map.set(id, { ref: id, attributes: { Arn: arn('kms', `key/${id}`), KeyId: id } });
        break;
      case 'AWS::Lambda::Url':
        map.set(id, { ref: id, attributes: { FunctionUrl: `http://127.0.0.1/${id}/`, FunctionArn: arn('lambda', `function:${id}`) } });
        break;
      case 'AWS::CloudWatch::Alarm':
      case 'AWS::CloudWatch::CompositeAlarm':
        map.set(id, { ref: id, attributes: { Arn: arn('cloudwatch', `alarm:${id}`) } });
        break;
      // SageMaker hosting: CDK names them by attribute (the stand-in in sagemaker-hosting.ts keeps them)
      case 'AWS::SageMaker::Model':
        map.set(id, { ref: arn('sagemaker', `model/${id.toLowerCase()}`), attributes: { ModelName: id.toLowerCase().slice(0, 63) } });
        break;
      case 'AWS::SageMaker::EndpointConfig':
        map.set(id, { ref: arn('sagemaker', `endpoint-config/${id.toLowerCase()}`), attributes: { EndpointConfigName: id.toLowerCase().slice(0, 63) } });
        break;
      case 'AWS::SageMaker::Endpoint': {
        const endpointName = typeof r.Properties?.EndpointName === 'string' ? r.Properties.EndpointName : id.toLowerCase();
        map.set(id, { ref: arn('sagemaker', `endpoint/${endpointName}`), attributes: { EndpointName: endpointName } });
        break;
      }
      case 'AWS::IAM::Role':
        map.set(id, { ref: id, attributes: { Arn: `arn:aws:iam::${ACCOUNT}:role/${id}`, RoleId: id } });
        break;
      default: {
        const service = r.Type.split('::')[1]?.toLowerCase() ?? 'unknown';
        map.set(id, { ref: id, attributes: { Arn: arn(service, id), Name: id } });
      }
    }
  }
  // A version's or alias's Ref is its ARN: the function's, qualified (versions are numbered from 1 locally).
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Alias' && r.Type !== 'AWS::Lambda::Version') continue;
    const fn = (r.Properties?.FunctionName as { Ref?: string } | undefined)?.Ref ?? id;
    if (r.Type === 'AWS::Lambda::Version') {
      map.set(id, { ref: arn('lambda', `function:${fn}:1`), attributes: { Version: '1' } });
    } else {
      const aliasArn = arn('lambda', `function:${fn}:${String(r.Properties?.Name)}`);
      map.set(id, { ref: aliasArn, attributes: { AliasArn: aliasArn } });
    }
  }
  return map;
}

/**
 * EventBridge's input transformer: each `<name>` of the template replaced by
 * the event's value at the JSONPath `paths[name]` (`$.a.b`): as JSON where the
 * placeholder stands alone, as bare text inside a JSON string.
 */
export function transformInput(template: string, paths: Readonly<Record<string, string>>, event: unknown): unknown {
  const valueAt = (name: string): unknown => {
    const path = paths[name];
    if (path === undefined) throw new Error(`input template: '<${name}>' is not in InputPathsMap`);
    if (path === '$') return event;
    if (!/^\$(\.[A-Za-z0-9_-]+)+$/.test(path)) throw new Error(`input path '${path}' is not supported locally (only $.a.b)`);
    return path.slice(2).split('.').reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), event);
  };
  let out = '';
  let inString = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c === '\\' && inString) {
      out += c + (template[++i] ?? '');
      continue;
    }
    if (c === '"') inString = !inString;
    const m = c === '<' ? /^<([A-Za-z0-9_.-]+)>/.exec(template.slice(i)) : null;
    if (m && m[1]! in paths) {
      const v = valueAt(m[1]!);
      out += inString ? JSON.stringify(typeof v === 'string' ? v : JSON.stringify(v ?? null)).slice(1, -1) : JSON.stringify(v ?? null);
      i += m[0].length - 1;
      continue;
    }
    out += c;
  }
  return JSON.parse(out) as unknown;
}

let logSink: ((line: string) => boolean) | undefined;
let stdoutFiltered = false;

/** Offers every stdout line to the current log sink (once per process). */
function installStdoutFilter(): void {
  if (stdoutFiltered) return;
  stdoutFiltered = true;
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
    const sink = logSink;
    if (!sink) return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const others = text.split('\n').filter((line) => line !== '' && !sink(line.trim()));
    return others.length === 0 ? true : (write as (...args: unknown[]) => boolean)(others.join('\n') + '\n', ...rest);
  };
}

/** The ARN of a local resource (the local region and account). */
export const arn = (service: string, resource: string): string => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;

/** CreateTable input from an AWS::DynamoDB::Table's properties (keys, attributes and GSIs only matter locally). */
function tableInput(name: string, props: Record<string, unknown>): CreateTableCommandInput {
  const gsis = (props.GlobalSecondaryIndexes as CreateTableCommandInput['GlobalSecondaryIndexes']) ?? undefined;
  return {
    TableName: name,
    KeySchema: props.KeySchema as CreateTableCommandInput['KeySchema'],
    AttributeDefinitions: props.AttributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
    BillingMode: 'PAY_PER_REQUEST',
    ...(gsis ? { GlobalSecondaryIndexes: gsis.map((g) => ({ IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection })) } : {}),
  };
}

function lambdaContext(functionName: string): Record<string, unknown> {
  const deadline = Date.now() + 15 * 60 * 1000;
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}
