import * as path from 'node:path';
import { RemovalPolicy, Token, Validations, type Duration, type Size } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { DEFAULT_LOG_RETENTION, LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME } from './defaults';
import { acknowledgeControl, acknowledgeInlinePolicies } from './nag';
import { esbuildBinary, onnxRuntimeBundling, q } from './onnx-runtime';
import { PACKAGE_ROOT } from './package-root';

/** Context key choosing every kit Lambda's architecture ('arm64' or 'x86_64'); the local runner sets the host's. */
export const LAMBDA_ARCHITECTURE_CONTEXT = 'cdk-mlops:lambdaArchitecture';

/** The architecture from context `cdk-mlops:lambdaArchitecture`, default arm64 (Graviton). */
export function lambdaArchitecture(scope: Construct): lambda.Architecture {
  const raw: unknown = scope.node.tryGetContext(LAMBDA_ARCHITECTURE_CONTEXT);
  if (raw === undefined || raw === null) return LAMBDA_ARCHITECTURE;
  if (raw === 'arm64') return lambda.Architecture.ARM_64;
  if (raw === 'x86_64') return lambda.Architecture.X86_64;
  throw new Error(`context '${LAMBDA_ARCHITECTURE_CONTEXT}' must be 'arm64' or 'x86_64' (got ${JSON.stringify(raw)}).`);
}

/** Root of the Lambda sources (`lambdas/`). */
export const LAMBDAS_DIR = path.join(PACKAGE_ROOT, 'lambdas');

export interface SecureFunctionProps {
  /** Folder under `lambdas/` holding `index.ts`. */
  readonly entry: string;
  readonly description: string;
  readonly memorySize: Size;
  readonly timeout: Duration;
  readonly environment: Record<string, string>;
  readonly logRetention?: logs.RetentionDays;
  /** Encrypts the function's log group (the data lake's key: logs hold what the function reads). */
  readonly logsEncryptionKey: kms.IKey;
  /** Receives the events of asynchronous invocations that failed every retry. Either this or `synchronousCaller`. */
  readonly deadLetterQueue?: sqs.IQueue;
  /**
   * Who invokes the function, synchronously and alone (e.g. "the DatasetValidation
   * state machine's Lambda tasks"): the caller gets every error, so there is no
   * dead-letter queue, which would only ever receive asynchronous invocations'.
   */
  readonly synchronousCaller?: string;
  /** Reserved concurrency: the most copies that run at once. Either this or `unreservedConcurrency`. */
  readonly reservedConcurrentExecutions?: number;
  /** Why there is no reservation and what bounds the function instead (see `unreservedConcurrency()` in nag.ts). */
  readonly unreservedConcurrency?: string;
  /** /tmp size. @default 512 MiB (Lambda's) */
  readonly ephemeralStorageSize?: Size;
  /** Ship onnxruntime-node (this architecture's binaries only) beside the bundle. */
  readonly onnxRuntime?: boolean;
  /**
   * Ship a source map and run with --enable-source-maps (stack traces in the
   * sources' terms). Off for latency-critical functions: loading the map costs
   * about 20 ms of cold start. Names survive either way (keepNames).
   * @default true
   */
  readonly sourceMaps?: boolean;
  /**
   * npm packages bundled each into a file of its own beside the bundle
   * (`node_modules/<name>/index.js`, minified), not into it: code that the
   * function loads lazily (a dynamic `import()`) and rarely needs costs its
   * cold start nothing to compile, and code a worker thread loads by path
   * (hyparquet, for the guarded Parquet decoder) is there to load.
   * @default - none
   */
  readonly separateModules?: string[];
}

/**
 * A Node.js Lambda the way the kit ships every function: bundled with the local
 * esbuild (never Docker), arm64 (or context `cdk-mlops:lambdaArchitecture`), newest runtime, X-Ray active, JSON logs to its
 * own retained log group, and a role that can write only to that group (no
 * AWSLambdaBasicExecutionRole).
 */
export class SecureFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: SecureFunctionProps) {
    super(scope, id);
    if ((props.deadLetterQueue === undefined) === (props.synchronousCaller === undefined)) throw new Error(`SecureFunction ${this.node.path}: give exactly one of deadLetterQueue (invoked asynchronously) and synchronousCaller.`);
    const reserved = props.reservedConcurrentExecutions;
    if (reserved !== undefined && !Token.isUnresolved(reserved) && (!Number.isInteger(reserved) || reserved < 1)) {
      throw new Error(`${scope.node.path}: 'reservedConcurrentExecutions' must be a whole number >= 1 (got ${reserved}).`);
    }
    if (reserved === undefined && props.unreservedConcurrency === undefined) throw new Error(`SecureFunction ${this.node.path}: give reservedConcurrentExecutions or the reason there is none (unreservedConcurrency).`);
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? DEFAULT_LOG_RETENTION,
      encryptionKey: props.logsEncryptionKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description} (execution role)`,
    });
    this.logGroup.grantWrite(this.role);
    const architecture = lambdaArchitecture(this);
    this.function = new nodejs.NodejsFunction(this, 'Resource', {
      entry: path.join(LAMBDAS_DIR, props.entry, 'index.ts'),
      handler: 'handler',
      runtime: LAMBDA_RUNTIME,
      architecture,
      description: props.description,
      memorySize: props.memorySize.toMebibytes(),
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      environment: { ...(props.sourceMaps === false ? {} : { NODE_OPTIONS: '--enable-source-maps' }), ...props.environment },
      deadLetterQueue: props.deadLetterQueue,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      ephemeralStorageSize: props.ephemeralStorageSize,
      bundling: {
        forceDockerBundling: false,
        minify: true,
        // Error names survive minification: Step Functions catches errors by name.
        keepNames: true,
        sourceMap: props.sourceMaps !== false,
        target: 'node22',
        format: nodejs.OutputFormat.CJS,
        // The ES module builds (the AWS SDK's among them) tree-shake: about 30% less code to load at cold start.
        mainFields: ['module', 'main'],
        // A CommonJS bundle loads lazy modules with require: a real import() would start Node's ES module loader (~25 ms of cold start).
        esbuildArgs: { '--supported:dynamic-import': 'false' },
        // The runtime ships SDK v3, but a pinned, tested copy is bundled so the
        // code that runs is the code the tests ran.
        externalModules: [],
        ...bundlingHooks(props.onnxRuntime ? onnxRuntimeBundling(architecture) : {}, props.separateModules ?? []),
      },
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions, so active tracing needs Resource::*.',
    });
    acknowledgeInlinePolicies(this.role);
    const resource = this.function.node.defaultChild as IConstruct;
    acknowledgeControl(resource, 'LambdaInsideVPC', 'It runs outside a VPC: it calls only AWS service APIs over TLS (S3, DynamoDB, KMS, CloudWatch, X-Ray and the services its role names), each authorized by IAM and by resource policies, and reaches no private network resource; inside a VPC it would need NAT or an interface endpoint per service.');
    if (props.synchronousCaller !== undefined) {
      const reason = `Invoked synchronously, by ${props.synchronousCaller} only: the caller receives every error and retries or records it; a dead-letter queue receives only asynchronous invocations' failures.`;
      acknowledgeControl(resource, 'LambdaDLQ', reason);
      Validations.of(resource).acknowledge({ id: 'Serverless-LambdaDLQ', reason });
    }
    if (reserved === undefined) acknowledgeControl(resource, 'LambdaConcurrency', props.unreservedConcurrency!);
  }
}

/** Merges onnxruntime's externals and copy commands with the separate modules' own bundles. */
function bundlingHooks(base: Partial<Pick<nodejs.BundlingOptions, 'externalModules' | 'commandHooks'>>, separate: readonly string[]): Partial<Pick<nodejs.BundlingOptions, 'externalModules' | 'commandHooks'>> {
  if (separate.length === 0) return base;
  const esbuild = esbuildBinary();
  const before = base.commandHooks;
  return {
    externalModules: [...(base.externalModules ?? []), ...separate],
    commandHooks: {
      beforeBundling: (i: string, o: string) => before?.beforeBundling(i, o) ?? [],
      beforeInstall: (i: string, o: string) => before?.beforeInstall(i, o) ?? [],
      afterBundling: (i: string, o: string) => [
        ...(before?.afterBundling(i, o) ?? []),
        ...separate.flatMap((name) => {
          const dir = path.join(o, 'node_modules', name);
          return [
            `mkdir -p ${q(dir)}`,
            `${q(esbuild)} ${q(require.resolve(name))} --bundle --platform=node --target=node22 --format=cjs --minify --main-fields=module,main --log-level=warning --outfile=${q(path.join(dir, 'index.js'))}`,
            `echo '{"name":"${name}","main":"index.js"}' > ${q(path.join(dir, 'package.json'))}`,
          ];
        }),
      ],
    },
  };
}

