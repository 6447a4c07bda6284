import { Duration, Size } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Node } from 'constructs';
import type { BiasGateConfig } from '../lambdas/core/bias-gate';
import type { MlopsStackProps } from './mlops-stack';

/**
 * Settings of the reference app, read from cdk.json context (`cdk-mlops:<name>`)
 * or `cdk synth -c cdk-mlops:<name>=<value>`. Every setting has a default.
 */
export interface MlopsSettings {
  /** Stack name. Context `cdk-mlops:stackName`, default `CdkMlops`. */
  readonly stackName: string;
  /** Prefix of uploaded datasets. Context `cdk-mlops:dataPrefix`, default `data/`. */
  readonly dataPrefix: string;
  /** Object Lock mode and retention. Context `cdk-mlops:objectLockMode` (GOVERNANCE|COMPLIANCE, default GOVERNANCE), `cdk-mlops:objectLockRetentionDays` (default 30). */
  readonly objectLockRetention: s3.ObjectLockRetention;
  /** The ledger bucket's Object Lock: the same mode, context `cdk-mlops:ledgerRetentionDays` (default 3650). */
  readonly ledgerRetention: s3.ObjectLockRetention;
  /** The role exempt from the ledger's delete and retention denials. Context `cdk-mlops:breakGlassRoleArn`, default: none. */
  readonly breakGlassRoleArn?: string;
  /** Context `cdk-mlops:noncurrentVersionExpirationDays`, default 365. */
  readonly noncurrentVersionExpiration: Duration;
  /** Context `cdk-mlops:accessLogRetentionDays`, default 365. */
  readonly accessLogsRetention: Duration;
  /** Bias gate configuration. Context `cdk-mlops:biasGate` (an object, checked by BiasGate), default: no bias gate. */
  readonly biasGate?: BiasGateConfig;
  /** Versions above this are profiled in parallel shards. Context `cdk-mlops:shardThresholdKiB`, default 524288 (512 MiB). */
  readonly shardThreshold: Size;
  /** Bytes per shard. Context `cdk-mlops:shardSizeKiB`, default 131072 (128 MiB). */
  readonly shardSize: Size;
  /** The training pipeline. Context `cdk-mlops:trainingPipeline` (an object), default: none. */
  readonly trainingPipeline?: TrainingPipelineSettings;
  /** The ONNX endpoint. Context `cdk-mlops:endpoint` (an object), default: none. */
  readonly endpoint?: EndpointSettings;
  /** A SageMaker endpoint (GPU, Inferentia or CPU). Context `cdk-mlops:sageMakerEndpoint` (an object), default: none. */
  readonly sageMakerEndpoint?: SageMakerEndpointSettings;
  /** Drift monitoring of an endpoint. Context `cdk-mlops:driftMonitor` (an object), default: none. Needs `endpoint` or `sageMakerEndpoint`. */
  readonly driftMonitor?: DriftMonitorSettings;
  /** The operations dashboard. Context `cdk-mlops:dashboard` (true/false), default true. */
  readonly dashboard: boolean;
}

/** The reference app's drift monitor, from context. */
export interface DriftMonitorSettings {
  /** The model's input features (one alarm each). */
  readonly features: readonly string[];
  /** @default 60 */
  readonly intervalMinutes?: number;
  /** @default - the interval */
  readonly windowMinutes?: number;
  /** @default 100 */
  readonly minRows?: number;
  /** @default psi 0.2, jsDistance 0.1, predictionShift 0.1 */
  readonly thresholds?: { readonly psi?: number; readonly jsDistance?: number; readonly predictionShift?: number };
  /** Retrain the pipeline when the drift alarm fires. @default true (when there is a pipeline) */
  readonly retrain?: boolean;
  /** Which endpoint is watched. @default 'endpoint' when there is one, else 'sageMakerEndpoint' */
  readonly watch?: 'endpoint' | 'sageMakerEndpoint';
}

/** The reference app's SageMaker endpoint, from context: released through its deployer, recorded in the ledger. */
export interface SageMakerEndpointSettings {
  readonly name: string;
  /** ECR repository (in the stack's account and region) of the inference image. */
  readonly repository: string;
  /** @default 'latest' */
  readonly tag?: string;
  /** The model archive served when the endpoint is created (s3://...); releases replace it. */
  readonly initialModelDataUrl: string;
  /** GPU (ml.g5...), Inferentia (ml.inf2..., with the pipeline's `compileForInferentia`) or CPU. @default 'ml.c6i.xlarge' */
  readonly instanceType?: string;
  /** @default 1 */
  readonly instanceCount?: number;
  /** Target tracking on invocations per instance. @default - a fixed instance count */
  readonly autoscaling?: { readonly minCapacity?: number; readonly maxCapacity: number; readonly targetInvocationsPerInstance: number };
  /** Share of requests captured (0-100), for the drift monitor. @default 5 */
  readonly dataCapturePercent?: number;
  /** Alarm thresholds that roll an update back. */
  readonly maxErrorRate?: number;
  readonly maxP99LatencyMs?: number;
}

/** The reference app's ONNX endpoint, from context. */
export interface EndpointSettings {
  readonly name: string;
  /** Share of requests captured for the drift monitor. @default 0.05 */
  readonly captureSampleRate?: number;
  /** CodeDeploy's Lambda configuration, e.g. 'CodeDeployDefault.LambdaCanary10Percent5Minutes' or 'CodeDeployDefault.LambdaLinear10PercentEvery1Minute'. @default canary 10% for 5 minutes */
  readonly deploymentConfig?: string;
  /** Provisioned concurrency, autoscaled on utilization. @default - none (no idle cost) */
  readonly provisionedConcurrency?: { readonly minCapacity?: number; readonly maxCapacity: number; readonly utilizationTarget?: number };
  /** Caps the requests served at once (reserved concurrency; the account must keep 100 unreserved). @default - none */
  readonly reservedConcurrentExecutions?: number;
  /** Alarm thresholds that roll a release back. */
  readonly maxErrorRate?: number;
  readonly maxP99LatencyMs?: number;
  readonly maxPredictionShift?: number;
}

/** The reference app's training pipeline, from context. */
export interface TrainingPipelineSettings {
  readonly name: string;
  /** ECR repository (in the stack's account and region) of the training image. */
  readonly repository: string;
  /** @default 'latest' */
  readonly tag?: string;
  readonly instanceType?: string;
  readonly hyperparameters?: Readonly<Record<string, string>>;
  readonly metricDefinitions?: readonly { readonly name: string; readonly regex: string }[];
  readonly label: BiasGateConfig['label'];
  readonly minImprovement?: number;
  /** Datasets whose uploads start a run ([] = all). @default - none */
  readonly retrainOnUpload?: readonly string[];
  /** A push of the training image (repository and tag) retrains on the newest data. @default false */
  readonly retrainOnImagePush?: boolean;
  /** @default 20 */
  readonly holdoutPercent?: number;
  /** @default 'automatic' */
  readonly approval?: 'automatic' | 'manual';
  /** Manual approvals wait this many hours. @default 168 (7 days) */
  readonly approvalTimeoutHours?: number;
  /** Where approved models are released. @default 'endpoint' when there is one, else 'sageMakerEndpoint' (else none: only recorded) */
  readonly releaseTo?: 'endpoint' | 'sageMakerEndpoint';
  /** Neo compilation for Inferentia: { framework, frameworkVersion?, dataInputConfig, targetDevice? }. @default - none */
  readonly compileForInferentia?: { readonly framework: string; readonly frameworkVersion?: string; readonly dataInputConfig: string; readonly targetDevice?: 'ml_inf2' | 'ml_inf1' };
}

export const SETTING_DEFAULTS = {
  stackName: 'CdkMlops',
  dataPrefix: 'data/',
  objectLockMode: 'GOVERNANCE',
  objectLockRetentionDays: 30,
  ledgerRetentionDays: 3650,
  noncurrentVersionExpirationDays: 365,
  accessLogRetentionDays: 365,
  shardThresholdKiB: 524288,
  shardSizeKiB: 131072,
} as const;

/**
 * The `MlopsStack` props the settings describe: what the reference app deploys.
 * An app of your own builds the same stack from the same context with
 * `new MlopsStack(app, settings.stackName, mlopsStackProps(readSettings(app.node)))`.
 */
export function mlopsStackProps(settings: MlopsSettings): MlopsStackProps {
  return {
    description: 'cdk-mlops: governed MLOps stack (data lake, lineage ledger, ingest, gates, training, endpoint, drift monitor, dashboard)',
    dataLake: {
      dataPrefix: settings.dataPrefix,
      objectLockRetention: settings.objectLockRetention,
      ledgerRetention: settings.ledgerRetention,
      noncurrentVersionExpiration: settings.noncurrentVersionExpiration,
      accessLogsRetention: settings.accessLogsRetention,
    },
    ...(settings.breakGlassRoleArn ? { breakGlassRoleArn: settings.breakGlassRoleArn } : {}),
    ...(settings.biasGate ? { biasGate: settings.biasGate } : {}),
    datasetValidation: { shardThreshold: settings.shardThreshold, shardSize: settings.shardSize },
    ...(settings.trainingPipeline ? { trainingPipeline: settings.trainingPipeline } : {}),
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.sageMakerEndpoint ? { sageMakerEndpoint: settings.sageMakerEndpoint } : {}),
    ...(settings.driftMonitor ? { driftMonitor: settings.driftMonitor } : {}),
    dashboard: settings.dashboard,
  };
}

/** The fields each object setting knows (typed: a field added to its interface must be added here). */
const OBJECT_FIELDS = {
  endpoint: { name: true, captureSampleRate: true, deploymentConfig: true, provisionedConcurrency: true, reservedConcurrentExecutions: true, maxErrorRate: true, maxP99LatencyMs: true, maxPredictionShift: true } satisfies Record<keyof EndpointSettings, true>,
  sageMakerEndpoint: { name: true, repository: true, tag: true, initialModelDataUrl: true, instanceType: true, instanceCount: true, autoscaling: true, dataCapturePercent: true, maxErrorRate: true, maxP99LatencyMs: true } satisfies Record<keyof SageMakerEndpointSettings, true>,
  driftMonitor: { features: true, intervalMinutes: true, windowMinutes: true, minRows: true, thresholds: true, retrain: true, watch: true } satisfies Record<keyof DriftMonitorSettings, true>,
  trainingPipeline: {
    name: true, repository: true, tag: true, instanceType: true, hyperparameters: true, metricDefinitions: true, label: true, minImprovement: true, retrainOnUpload: true,
    retrainOnImagePush: true, holdoutPercent: true, approval: true, approvalTimeoutHours: true, releaseTo: true, compileForInferentia: true,
  } satisfies Record<keyof TrainingPipelineSettings, true>,
  biasGate: { label: true, prediction: true, facets: true, groupColumn: true, thresholds: true, onUndefined: true, model: true } satisfies Record<keyof BiasGateConfig, true>,
} as const;

/**
 * Every `cdk-mlops:` context key the kit reads: the settings here, and the two the
 * local runner and the Lambda bundling read (`localTrainingImages`, `lambdaArchitecture`).
 */
export const SETTING_KEYS: readonly string[] = [
  ...Object.keys(SETTING_DEFAULTS),
  ...Object.keys(OBJECT_FIELDS),
  'breakGlassRoleArn',
  'dashboard',
  'localTrainingImages',
  'lambdaArchitecture',
];

/** Edit distance (insertions, deletions, substitutions), for "did you mean". */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** ` (did you mean 'x'?)` for the closest known name within a third of its length, else ''. */
function suggestion(name: string, known: readonly string[], prefix = ''): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.ceil(best.length / 3)) ? ` (did you mean '${prefix}${best}'?)` : '';
}

/** Fails on a `cdk-mlops:` context key the kit does not read (a typo would otherwise deploy the default). */
function checkKeys(node: Node): void {
  for (const key of Object.keys(node.getAllContext() as Record<string, unknown>)) {
    if (!key.startsWith('cdk-mlops:')) continue;
    const name = key.slice('cdk-mlops:'.length);
    if (!SETTING_KEYS.includes(name)) throw new Error(`context '${key}' is not a cdk-mlops setting${suggestion(name, SETTING_KEYS, 'cdk-mlops:')}; the settings are listed in the README.`);
  }
}

/** Fails on a field of object setting `cdk-mlops:<key>` that it does not have. */
function checkFields(value: object, key: keyof typeof OBJECT_FIELDS): void {
  const known = Object.keys(OBJECT_FIELDS[key]);
  for (const field of Object.keys(value)) {
    if (!known.includes(field)) throw new Error(`context 'cdk-mlops:${key}' has no field '${field}'${suggestion(field, known)}; its fields: ${known.join(', ')}.`);
  }
}

/** Reads and checks the settings; a bad value fails with the context key and the fix. */
export function readSettings(node: Node): MlopsSettings {
  checkKeys(node);
  const get = (name: keyof typeof SETTING_DEFAULTS): unknown => node.tryGetContext(`cdk-mlops:${name}`) ?? SETTING_DEFAULTS[name];
  const whole = (name: keyof typeof SETTING_DEFAULTS, unit: string, min: number): number => {
    const raw = get(name);
    const n = typeof raw === 'string' ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min) {
      throw new Error(`context 'cdk-mlops:${name}' must be a whole number of ${unit} >= ${min} (got ${JSON.stringify(raw)}).`);
    }
    return n;
  };
  const days = (name: keyof typeof SETTING_DEFAULTS): number => whole(name, 'days', 1);
  const mode = String(get('objectLockMode')).toUpperCase();
  if (mode !== 'GOVERNANCE' && mode !== 'COMPLIANCE') {
    throw new Error(`context 'cdk-mlops:objectLockMode' must be GOVERNANCE or COMPLIANCE (got ${JSON.stringify(get('objectLockMode'))}).`);
  }
  const lock = (d: Duration) => (mode === 'COMPLIANCE' ? s3.ObjectLockRetention.compliance(d) : s3.ObjectLockRetention.governance(d));
  const retention = Duration.days(days('objectLockRetentionDays'));
  const breakGlass: unknown = node.tryGetContext('cdk-mlops:breakGlassRoleArn');
  if (breakGlass !== undefined && (typeof breakGlass !== 'string' || !/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(breakGlass))) {
    throw new Error(`context 'cdk-mlops:breakGlassRoleArn' must be an IAM role ARN, e.g. arn:aws:iam::123456789012:role/ledger-break-glass (got ${JSON.stringify(breakGlass)}).`);
  }
  const stackName = String(get('stackName'));
  if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stackName)) {
    throw new Error(`context 'cdk-mlops:stackName' must be a valid CloudFormation stack name (got ${JSON.stringify(stackName)}).`);
  }
  return {
    stackName,
    dataPrefix: String(get('dataPrefix')),
    objectLockRetention: lock(retention),
    ledgerRetention: lock(Duration.days(days('ledgerRetentionDays'))),
    ...(typeof breakGlass === 'string' ? { breakGlassRoleArn: breakGlass } : {}),
    noncurrentVersionExpiration: Duration.days(days('noncurrentVersionExpirationDays')),
    accessLogsRetention: Duration.days(days('accessLogRetentionDays')),
    shardThreshold: Size.kibibytes(whole('shardThresholdKiB', 'KiB', 0)),
    shardSize: Size.kibibytes(whole('shardSizeKiB', 'KiB', 1)),
    ...biasGate(node.tryGetContext('cdk-mlops:biasGate')),
    ...trainingPipeline(node.tryGetContext('cdk-mlops:trainingPipeline')),
    ...endpoint(node.tryGetContext('cdk-mlops:endpoint')),
    ...sageMakerEndpoint(node.tryGetContext('cdk-mlops:sageMakerEndpoint')),
    ...driftMonitor(node.tryGetContext('cdk-mlops:driftMonitor')),
    dashboard: dashboard(node.tryGetContext('cdk-mlops:dashboard')),
  };
}

function dashboard(raw: unknown): boolean {
  if (raw === undefined || raw === null || raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw new Error(`context 'cdk-mlops:dashboard' must be true or false (got ${JSON.stringify(raw)}).`);
}

/** An object setting `cdk-mlops:<key>`: undefined when unset; a JSON string (from `-c`) is parsed; anything but an object fails with its shape. */
function contextObject<T>(raw: unknown, key: keyof typeof OBJECT_FIELDS, shape: string): Partial<T> | undefined {
  if (raw === undefined || raw === null) return undefined;
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new Error(`context 'cdk-mlops:${key}' is not valid JSON (${(err as Error).message}): it must be an object: ${shape}.`, { cause: err });
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`context 'cdk-mlops:${key}' must be an object: ${shape}.`);
  checkFields(value, key);
  return value;
}

/** Fields of `cdk-mlops:<key>` that must be non-empty strings. */
function requireStrings<T>(v: Partial<T>, key: string, fields: readonly (keyof T & string)[]): void {
  for (const field of fields) {
    if (typeof v[field] !== 'string' || v[field] === '') throw new Error(`context 'cdk-mlops:${key}.${field}' must be a non-empty string.`);
  }
}

/** 'endpoint' or 'sageMakerEndpoint' (which of the app's endpoints), when given. */
function endpointChoice(value: unknown, key: string): void {
  if (value !== undefined && value !== 'endpoint' && value !== 'sageMakerEndpoint') throw new Error(`context 'cdk-mlops:${key}' must be 'endpoint' (the ONNX one) or 'sageMakerEndpoint' (got ${JSON.stringify(value)}).`);
}

function driftMonitor(raw: unknown): { driftMonitor?: DriftMonitorSettings } {
  const v = contextObject<DriftMonitorSettings>(raw, 'driftMonitor', '{ features, intervalMinutes?, windowMinutes?, minRows?, thresholds?, retrain?, watch? }');
  if (!v) return {};
  if (!Array.isArray(v.features) || v.features.length === 0 || !v.features.every((f) => typeof f === 'string' && f !== '')) throw new Error("context 'cdk-mlops:driftMonitor.features' must be a non-empty list of the model's input columns.");
  for (const field of ['intervalMinutes', 'windowMinutes', 'minRows'] as const) {
    const n = v[field];
    if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n < 1)) throw new Error(`context 'cdk-mlops:driftMonitor.${field}' must be a whole number >= 1 (got ${JSON.stringify(n)}).`);
  }
  endpointChoice(v.watch, 'driftMonitor.watch');
  return { driftMonitor: v as DriftMonitorSettings };
}

function sageMakerEndpoint(raw: unknown): { sageMakerEndpoint?: SageMakerEndpointSettings } {
  const v = contextObject<SageMakerEndpointSettings>(raw, 'sageMakerEndpoint', '{ name, repository, initialModelDataUrl, instanceType?, ... }');
  if (!v) return {};
  requireStrings(v, 'sageMakerEndpoint', ['name', 'repository']);
  if (typeof v.initialModelDataUrl !== 'string' || !/^s3:\/\/[^/]+\/.+/.test(v.initialModelDataUrl)) throw new Error(`context 'cdk-mlops:sageMakerEndpoint.initialModelDataUrl' must be the s3:// URL of a model archive the endpoint serves when created (got ${JSON.stringify(v.initialModelDataUrl)}).`);
  return { sageMakerEndpoint: v as SageMakerEndpointSettings };
}

function biasGate(raw: unknown): { biasGate?: BiasGateConfig } {
  const v = contextObject<BiasGateConfig>(raw, 'biasGate', '{ label, facets, thresholds }');
  return v ? { biasGate: v as BiasGateConfig } : {};
}

function trainingPipeline(raw: unknown): { trainingPipeline?: TrainingPipelineSettings } {
  const v = contextObject<TrainingPipelineSettings>(raw, 'trainingPipeline', '{ name, repository, label, ... }');
  if (!v) return {};
  requireStrings(v, 'trainingPipeline', ['name', 'repository']);
  if (typeof v.label !== 'object' || v.label === null) throw new Error("context 'cdk-mlops:trainingPipeline.label' must be { column, threshold } or { column, values }.");
  endpointChoice(v.releaseTo, 'trainingPipeline.releaseTo');
  if (v.retrainOnImagePush !== undefined && typeof v.retrainOnImagePush !== 'boolean') throw new Error(`context 'cdk-mlops:trainingPipeline.retrainOnImagePush' must be true or false (got ${JSON.stringify(v.retrainOnImagePush)}).`);
  return { trainingPipeline: v as TrainingPipelineSettings };
}

function endpoint(raw: unknown): { endpoint?: EndpointSettings } {
  const v = contextObject<EndpointSettings>(raw, 'endpoint', '{ name, captureSampleRate?, deploymentConfig?, ... }');
  if (!v) return {};
  requireStrings(v, 'endpoint', ['name']);
  if (v.deploymentConfig !== undefined && !/^CodeDeployDefault\.Lambda(AllAtOnce|Canary\d+Percent\d+Minutes|Linear\d+PercentEvery\d+Minutes?)$/.test(v.deploymentConfig)) {
    throw new Error(`context 'cdk-mlops:endpoint.deploymentConfig' must name a CodeDeploy Lambda configuration such as CodeDeployDefault.LambdaCanary10Percent5Minutes (got ${JSON.stringify(v.deploymentConfig)}).`);
  }
  const reserved = v.reservedConcurrentExecutions;
  if (reserved !== undefined && (typeof reserved !== 'number' || !Number.isInteger(reserved) || reserved < 1)) throw new Error(`context 'cdk-mlops:endpoint.reservedConcurrentExecutions' must be a whole number >= 1 (got ${JSON.stringify(reserved)}).`);
  return { endpoint: v as EndpointSettings };
}
