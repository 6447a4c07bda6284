import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import * as path from 'node:path';
import { parseS3Uri } from '../../lambdas/shared/model-artifacts';

/*
 * Local stand-ins for the SageMaker calls the training pipeline makes through
 * Step Functions' aws-sdk integrations: the Model Registry (CreateModelPackage,
 * UpdateModelPackage) and Neo (CreateCompilationJob, DescribeCompilationJob).
 * They check what the service checks that can be checked here (names and
 * patterns, limits, enum values, that the S3 objects named exist, idempotency
 * by ClientToken, unique job names), keep every request as received, and
 * answer as the service does. Errors carry the service's error names
 * (`SageMaker.ValidationException`...), as Step Functions reports them.
 *
 * Neo is not run: a "compiled" model is the input archive copied to where Neo
 * would write it (<output>/<input name>-<device>.tar.gz), its object metadata
 * saying it was not compiled. The job is InProgress on its first describe and
 * Completed (or Failed, when asked) on the next, so the polling loop runs.
 */

const NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const METADATA = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const APPROVAL = ['Approved', 'Rejected', 'PendingManualApproval'];
/** CreateCompilationJob's InputConfig.Framework values. */
const FRAMEWORKS = ['TENSORFLOW', 'KERAS', 'MXNET', 'ONNX', 'PYTORCH', 'XGBOOST', 'TFLITE', 'DARKNET', 'SKLEARN'];

export class SageMakerError extends Error {
  constructor(code: string, message: string) {
    super(message);
    this.name = `SageMaker.${code}`;
  }
}

const invalid = (message: string): SageMakerError => new SageMakerError('ValidationException', message);

export interface ModelPackage {
  readonly arn: string;
  readonly group: string;
  readonly version: number;
  readonly request: Record<string, unknown>;
  approvalStatus: string;
  approvalDescription?: string;
}

export interface CompilationJob {
  readonly name: string;
  readonly request: Record<string, unknown>;
  readonly output: string;
  describes: number;
}

export interface LocalSageMakerOptions {
  readonly s3: S3Client;
  /** The model package groups that exist (the template's). */
  readonly groups: readonly string[];
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '123456789012' */
  readonly accountId?: string;
  /** A compilation job fails with this reason (fault injection). @default - it completes */
  readonly compilationFailure?: string;
}

async function exists(s3: S3Client, uri: unknown, field: string): Promise<void> {
  if (typeof uri !== 'string' || !uri.startsWith('s3://')) throw invalid(`${field}: expected an s3:// URI (got ${JSON.stringify(uri)})`);
  const { bucket, key } = parseS3Uri(uri);
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  } catch {
    throw invalid(`${field}: ${uri} does not exist or cannot be read`);
  }
}

function text(value: unknown, field: string, max: number, pattern?: RegExp): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw invalid(`${field}: expected 1-${max} characters (got ${JSON.stringify(value)?.slice(0, 80)})`);
  if (pattern && !pattern.test(value)) throw invalid(`${field}: '${value}' does not match ${pattern}`);
  return value;
}

function approvalStatus(value: unknown): string {
  if (typeof value !== 'string' || !APPROVAL.includes(value)) throw invalid(`ModelApprovalStatus: ${JSON.stringify(value)} is not one of ${APPROVAL.join(', ')}`);
  return value;
}

/** The local Model Registry and Neo. */
export class LocalSageMaker {
  readonly packages: ModelPackage[] = [];
  readonly compilationJobs = new Map<string, CompilationJob>();
  private readonly tokens = new Map<string, ModelPackage>();

  constructor(private readonly options: LocalSageMakerOptions) {}

  private arn(resource: string): string {
    return `arn:aws:sagemaker:${this.options.region ?? 'us-east-1'}:${this.options.accountId ?? '123456789012'}:${resource}`;
  }

  async createModelPackage(input: Record<string, unknown>): Promise<{ ModelPackageArn: string }> {
    const group = text(input.ModelPackageGroupName, 'ModelPackageGroupName', 63, NAME);
    if (!this.options.groups.includes(group)) throw invalid(`ModelPackageGroupName: model package group '${group}' does not exist`);
    const token = input.ClientToken === undefined ? undefined : text(input.ClientToken, 'ClientToken', 36, /^[a-zA-Z0-9-]+$/);
    const same = token ? this.tokens.get(`${group}/${token}`) : undefined;
    if (same) return { ModelPackageArn: same.arn }; // idempotent: a retried call is the same package
    const status = approvalStatus(input.ModelApprovalStatus ?? 'PendingManualApproval');
    if (input.ModelPackageDescription !== undefined) text(input.ModelPackageDescription, 'ModelPackageDescription', 1024);
    const spec = input.InferenceSpecification as { Containers?: { Image?: unknown; ModelDataUrl?: unknown }[] } | undefined;
    if (!spec?.Containers?.length || spec.Containers.length > 15) throw invalid('InferenceSpecification.Containers: expected 1-15 containers');
    for (const [i, c] of spec.Containers.entries()) {
      text(c.Image, `InferenceSpecification.Containers.${i}.Image`, 255);
      if (c.ModelDataUrl !== undefined) await exists(this.options.s3, c.ModelDataUrl, `InferenceSpecification.Containers.${i}.ModelDataUrl`);
    }
    const reports: [string, unknown][] = [];
    const visit = (value: unknown, at: string): void => {
      if (!value || typeof value !== 'object') return;
      for (const [k, v] of Object.entries(value)) {
        if (k === 'S3Uri') reports.push([`${at}.S3Uri`, v]);
        else visit(v, `${at}.${k}`);
      }
    };
    visit(input.ModelMetrics, 'ModelMetrics');
    for (const [field, uri] of reports) await exists(this.options.s3, uri, field);
    const metadata = (input.CustomerMetadataProperties ?? {}) as Record<string, unknown>;
    if (Object.keys(metadata).length > 50) throw invalid('CustomerMetadataProperties: at most 50 entries');
    for (const [k, v] of Object.entries(metadata)) {
      text(k, `CustomerMetadataProperties key`, 128, METADATA);
      text(v, `CustomerMetadataProperties.${k}`, 256, METADATA);
    }
    const version = this.packages.filter((p) => p.group === group).length + 1;
    const created: ModelPackage = { arn: this.arn(`model-package/${group}/${version}`), group, version, request: structuredClone(input), approvalStatus: status };
    this.packages.push(created);
    if (token) this.tokens.set(`${group}/${token}`, created);
    return { ModelPackageArn: created.arn };
  }

  updateModelPackage(input: Record<string, unknown>): Promise<{ ModelPackageArn: string }> {
    // a throw in the executor is the returned promise's rejection
    return new Promise((resolve) => {
      const found = this.packages.find((p) => p.arn === input.ModelPackageArn);
      if (!found) throw invalid(`ModelPackageArn: no model package ${JSON.stringify(input.ModelPackageArn)}`);
      if (input.ModelApprovalStatus !== undefined) found.approvalStatus = approvalStatus(input.ModelApprovalStatus);
      if (input.ApprovalDescription !== undefined) found.approvalDescription = text(input.ApprovalDescription, 'ApprovalDescription', 1024);
      resolve({ ModelPackageArn: found.arn });
    });
  }

  async createCompilationJob(input: Record<string, unknown>): Promise<{ CompilationJobArn: string }> {
    const name = text(input.CompilationJobName, 'CompilationJobName', 63, NAME);
    if (this.compilationJobs.has(name)) throw new SageMakerError('ResourceInUse', `Compilation job ${name} already exists`);
    text(input.RoleArn, 'RoleArn', 2048, /^arn:aws[a-z-]*:iam::\d{12}:role\//);
    const inputConfig = (input.InputConfig ?? {}) as Record<string, unknown>;
    const outputConfig = (input.OutputConfig ?? {}) as Record<string, unknown>;
    await exists(this.options.s3, inputConfig.S3Uri, 'InputConfig.S3Uri');
    if (!FRAMEWORKS.includes(String(inputConfig.Framework))) throw invalid(`InputConfig.Framework: '${String(inputConfig.Framework)}' is not one of ${FRAMEWORKS.join(', ')}`);
    const location = typeof outputConfig.S3OutputLocation === 'string' ? outputConfig.S3OutputLocation : '';
    if (!location.startsWith('s3://')) throw invalid(`OutputConfig.S3OutputLocation: expected an s3:// URI (got '${location}')`);
    const device = text(outputConfig.TargetDevice, 'OutputConfig.TargetDevice', 64);
    const base = path.posix.basename(String(inputConfig.S3Uri)).replace(/\.tar\.gz$/, '');
    const output = `${location.replace(/\/+$/, '')}/${base}-${device}.tar.gz`;
    this.compilationJobs.set(name, { name, request: structuredClone(input), output, describes: 0 });
    return { CompilationJobArn: this.arn(`compilation-job/${name}`) };
  }

  async describeCompilationJob(input: Record<string, unknown>): Promise<Record<string, unknown>> {
    const job = this.compilationJobs.get(String(input.CompilationJobName));
    if (!job) throw new SageMakerError('ResourceNotFound', `Compilation job ${String(input.CompilationJobName)} does not exist`);
    job.describes++;
    const outputConfig = job.request.OutputConfig as Record<string, unknown>;
    const common = { CompilationJobName: job.name, CompilationJobArn: this.arn(`compilation-job/${job.name}`), InputConfig: job.request.InputConfig, OutputConfig: outputConfig, RoleArn: job.request.RoleArn };
    if (job.describes === 1) return { ...common, CompilationJobStatus: 'INPROGRESS' };
    if (this.options.compilationFailure) return { ...common, CompilationJobStatus: 'FAILED', FailureReason: this.options.compilationFailure };
    if (job.describes === 2) {
      const source = parseS3Uri(String((job.request.InputConfig as Record<string, unknown>).S3Uri));
      const body = await (await this.options.s3.send(new GetObjectCommand({ Bucket: source.bucket, Key: source.key }))).Body!.transformToByteArray();
      const target = parseS3Uri(job.output);
      await this.options.s3.send(new PutObjectCommand({ Bucket: target.bucket, Key: target.key, Body: body, ContentType: 'application/gzip', Metadata: { 'cdk-mlops-local': 'not compiled: a copy of the input (Neo does not run locally)' } }));
    }
    return { ...common, CompilationJobStatus: 'COMPLETED', ModelArtifacts: { S3ModelArtifacts: job.output } };
  }
}
