import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { listObjects } from '../../lambdas/shared/s3-objects';
import * as tar from 'tar';

/*
 * A local stand-in for a SageMaker training job: it takes the CreateTrainingJob
 * request a state machine sends and honours the training container contract.
 * Each S3Prefix channel is downloaded to input/data/<channel>/, hyperparameters
 * go to input/config/hyperparameters.json (and SM_HPS), the command mapped to
 * the training image runs with the SageMaker toolkit's environment (SM_MODEL_DIR,
 * SM_CHANNEL_<NAME>, SM_OUTPUT_DIR ...), the model directory is packed as
 * model.tar.gz under <S3OutputPath>/<job>/output/, metrics are read from the
 * logs with the request's metric definitions, and a failure file (or an exit
 * code, or MaxRuntimeInSeconds) makes the job Failed. The result has the shape
 * of DescribeTrainingJob, as the `.sync` integration returns it; a failed job
 * is an error the way Step Functions reports one.
 */

/** Training image (URI, or its repository without tag/digest) → command to run. */
export type LocalTrainingImages = Readonly<Record<string, readonly string[]>>;

export interface TrainingJobRequest {
  readonly TrainingJobName: string;
  readonly AlgorithmSpecification: { readonly TrainingImage?: string; readonly TrainingInputMode?: string; readonly MetricDefinitions?: readonly { readonly Name: string; readonly Regex: string }[] };
  readonly HyperParameters?: Readonly<Record<string, string>>;
  readonly InputDataConfig?: readonly { readonly ChannelName: string; readonly DataSource: { readonly S3DataSource?: { readonly S3Uri: string; readonly S3DataType?: string } } }[];
  readonly OutputDataConfig: { readonly S3OutputPath: string; readonly KmsKeyId?: string };
  readonly ResourceConfig?: { readonly InstanceType?: string; readonly InstanceCount?: number; readonly VolumeSizeInGB?: number };
  readonly StoppingCondition?: { readonly MaxRuntimeInSeconds?: number; readonly MaxWaitTimeInSeconds?: number };
  readonly [key: string]: unknown;
}

export interface TrainingJobDescription {
  readonly TrainingJobName: string;
  readonly TrainingJobArn: string;
  readonly TrainingJobStatus: 'Completed' | 'Failed';
  readonly SecondaryStatus: string;
  readonly FailureReason?: string;
  readonly ModelArtifacts?: { readonly S3ModelArtifacts: string };
  readonly FinalMetricDataList: readonly { readonly MetricName: string; readonly Value: number; readonly Timestamp: string }[];
  readonly HyperParameters: Readonly<Record<string, string>>;
  readonly AlgorithmSpecification: TrainingJobRequest['AlgorithmSpecification'];
  readonly ResourceConfig?: TrainingJobRequest['ResourceConfig'];
  readonly TrainingStartTime: string;
  readonly TrainingEndTime: string;
  readonly TrainingTimeInSeconds: number;
  readonly BillableTimeInSeconds: number;
  /** Local only: the container's output, for tests and the report. */
  readonly LocalLogs: string;
}

/** How Step Functions reports a `.sync` job that ended Failed: States.TaskFailed, the description as the cause. */
export class TrainingJobFailedError extends Error {
  constructor(readonly description: TrainingJobDescription) {
    super(JSON.stringify(description));
    this.name = 'States.TaskFailed';
  }
}

export interface LocalTrainingOptions {
  readonly s3: S3Client;
  readonly images: LocalTrainingImages;
  readonly region?: string;
  readonly accountId?: string;
  /** Extra environment for the command (emulator endpoints are not passed: the container reads local files only). */
  readonly env?: Readonly<Record<string, string>>;
}

function parseS3(uri: string, what: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`${what}: '${uri}' is not an s3:// URI`);
  return { bucket: m[1]!, key: m[2]! };
}

/** The command mapped to an image: by full URI, else by repository (tag or digest dropped), else by repository name. */
export function commandForImage(images: LocalTrainingImages, image: string): readonly string[] {
  const repository = image.replace(/@sha256:[0-9a-f]+$/, '').replace(/:[^/:]+$/, '');
  const command = images[image] ?? images[repository] ?? images[repository.slice(repository.indexOf('/') + 1)];
  if (!command || command.length === 0) throw new Error(`no local command for training image '${image}': map it (or '${repository}') in context 'cdk-mlops:localTrainingImages'`);
  return command;
}

/** ECR's error, named as Step Functions names an aws-sdk integration's error. */
export class EcrError extends Error {
  constructor(code: string, message: string) {
    super(message);
    this.name = `Ecr.${code}`;
  }
}

/**
 * Locally an image is its command, so its digest is the SHA-256 of the command:
 * the bytes of each file it names (the trainer's script, the loader it preloads)
 * and each other argument; node itself counts as `node`. Editing the trainer
 * changes the digest, as pushing a new image would.
 */
export function localImageDigest(command: readonly string[]): string {
  const hash = createHash('sha256');
  for (const arg of command) {
    if (arg === process.execPath) hash.update('node');
    else if (existsSync(arg) && statSync(arg).isFile()) hash.update(readFileSync(arg));
    else hash.update(arg);
    hash.update('\0');
  }
  return `sha256:${hash.digest('hex')}`;
}

/**
 * ECR DescribeImages for the local images (one tag, as the training pipeline
 * asks): every tag of a mapped repository names its command's image.
 */
export function describeLocalImages(request: Record<string, unknown>, images: LocalTrainingImages, registryId = '000000000000'): { ImageDetails: Record<string, unknown>[] } {
  const repository = request.RepositoryName;
  const ids = request.ImageIds as { ImageTag?: unknown; ImageDigest?: unknown }[] | undefined;
  if (typeof repository !== 'string' || repository === '') throw new EcrError('InvalidParameterException', 'RepositoryName: expected the repository name');
  if (!Array.isArray(ids) || ids.length !== 1 || typeof ids[0]?.ImageTag !== 'string') throw new EcrError('InvalidParameterException', 'ImageIds: the local stand-in resolves one ImageTag');
  let command: readonly string[];
  try {
    command = commandForImage(images, repository);
  } catch {
    throw new EcrError('RepositoryNotFoundException', `The repository with name '${repository}' does not exist in the registry with id '${registryId}' (locally: map it in context 'cdk-mlops:localTrainingImages')`);
  }
  const tag = ids[0].ImageTag;
  return { ImageDetails: [{ RegistryId: registryId, RepositoryName: repository, ImageDigest: localImageDigest(command), ImageTags: [tag] }] };
}

async function downloadPrefix(s3: S3Client, uri: string, into: string): Promise<number> {
  const { bucket, key: prefix } = parseS3(uri, 'S3Uri');
  let count = 0;
  for await (const o of listObjects(s3, bucket, prefix)) {
    if (o.Key.endsWith('/')) continue;
    const relative = o.Key.slice(prefix.length).replace(/^\/+/, '') || path.basename(o.Key);
    const target = path.join(into, relative);
    mkdirSync(path.dirname(target), { recursive: true });
    const body = (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }))).Body as Readable;
    await pipeline(body, createWriteStream(target));
    count++;
  }
  return count;
}

function lastMetricValues(logs: string, definitions: readonly { Name: string; Regex: string }[]): { MetricName: string; Value: number; Timestamp: string }[] {
  const now = new Date().toISOString();
  const out: { MetricName: string; Value: number; Timestamp: string }[] = [];
  for (const d of definitions) {
    let last: number | undefined;
    for (const m of logs.matchAll(new RegExp(d.Regex, 'g'))) {
      const v = Number(m[1]);
      if (Number.isFinite(v)) last = v;
    }
    if (last !== undefined) out.push({ MetricName: d.Name, Value: last, Timestamp: now });
  }
  return out;
}

/** Runs one training job locally; resolves its description when Completed, rejects with TrainingJobFailedError when Failed. */
export async function runTrainingJob(request: TrainingJobRequest, options: LocalTrainingOptions): Promise<TrainingJobDescription> {
  const name = request.TrainingJobName;
  if (typeof name !== 'string' || !/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/.test(name)) throw new Error(`TrainingJobName: '${String(name)}' is not a valid training job name (1-63 alphanumerics and hyphens)`);
  const image = request.AlgorithmSpecification?.TrainingImage;
  if (!image) throw new Error('AlgorithmSpecification.TrainingImage: the local runner needs an image (built-in algorithms by name cannot run locally)');
  if ((request.AlgorithmSpecification.TrainingInputMode ?? 'File') !== 'File') throw new Error(`AlgorithmSpecification.TrainingInputMode: only File mode runs locally (got ${request.AlgorithmSpecification.TrainingInputMode})`);
  if ((request.ResourceConfig?.InstanceCount ?? 1) !== 1) throw new Error(`ResourceConfig.InstanceCount: distributed training (${request.ResourceConfig?.InstanceCount} instances) does not run locally`);
  const command = commandForImage(options.images, image);
  // an image named by digest must be that image: locally, the command's files as they are now
  const digest = /@(sha256:[0-9a-f]+)$/.exec(image)?.[1];
  const local = digest ? localImageDigest(command) : undefined;
  if (digest && digest !== local) {
    throw new Error(`Cannot find the requested image: ${image} (locally: the command mapped to that repository is now ${local}; its files changed since that digest)`);
  }
  const root = mkdtempSync(path.join(tmpdir(), `sm-${name}-`));
  const dirs = { data: path.join(root, 'input', 'data'), config: path.join(root, 'input', 'config'), model: path.join(root, 'model'), output: path.join(root, 'output') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const start = new Date();
  const hyperparameters = request.HyperParameters ?? {};
  const channels: Record<string, string> = {};
  try {
    for (const channel of request.InputDataConfig ?? []) {
      const source = channel.DataSource.S3DataSource;
      if (!source) throw new Error(`InputDataConfig '${channel.ChannelName}': only S3 data sources run locally`);
      if ((source.S3DataType ?? 'S3Prefix') !== 'S3Prefix') throw new Error(`InputDataConfig '${channel.ChannelName}': only S3Prefix runs locally (got ${source.S3DataType})`);
      const into = path.join(dirs.data, channel.ChannelName);
      mkdirSync(into, { recursive: true });
      await downloadPrefix(options.s3, source.S3Uri, into);
      channels[channel.ChannelName] = into;
    }
    writeFileSync(path.join(dirs.config, 'hyperparameters.json'), JSON.stringify(hyperparameters));
    writeFileSync(path.join(dirs.config, 'inputdataconfig.json'), JSON.stringify(Object.fromEntries((request.InputDataConfig ?? []).map((c) => [c.ChannelName, { TrainingInputMode: 'File', S3DistributionType: 'FullyReplicated' }]))));
    writeFileSync(path.join(dirs.config, 'resourceconfig.json'), JSON.stringify({ current_host: 'algo-1', hosts: ['algo-1'] }));

    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? root,
      SM_MODEL_DIR: dirs.model,
      SM_OUTPUT_DIR: dirs.output,
      SM_OUTPUT_DATA_DIR: path.join(dirs.output, 'data'),
      SM_INPUT_DIR: path.join(root, 'input'),
      SM_INPUT_CONFIG_DIR: dirs.config,
      SM_HPS: JSON.stringify(hyperparameters),
      SM_CHANNELS: JSON.stringify(Object.keys(channels)),
      SM_CURRENT_HOST: 'algo-1',
      SM_HOSTS: JSON.stringify(['algo-1']),
      SM_TRAINING_JOB_NAME: name,
      ...Object.fromEntries(Object.entries(channels).map(([c, dir]) => [`SM_CHANNEL_${c.toUpperCase()}`, dir])),
      ...options.env,
    };
    const maxSeconds = request.StoppingCondition?.MaxRuntimeInSeconds ?? 86_400;
    const { code, logs, timedOut } = await run(command, env, root, maxSeconds * 1000);
    const end = new Date();
    const seconds = Math.max(1, Math.round((end.getTime() - start.getTime()) / 1000));
    const base = {
      TrainingJobName: name,
      TrainingJobArn: `arn:aws:sagemaker:${options.region ?? 'us-east-1'}:${options.accountId ?? '123456789012'}:training-job/${name.toLowerCase()}`,
      HyperParameters: hyperparameters,
      AlgorithmSpecification: request.AlgorithmSpecification,
      ResourceConfig: request.ResourceConfig,
      FinalMetricDataList: lastMetricValues(logs, request.AlgorithmSpecification.MetricDefinitions ?? []),
      TrainingStartTime: start.toISOString(),
      TrainingEndTime: end.toISOString(),
      TrainingTimeInSeconds: seconds,
      BillableTimeInSeconds: seconds,
      LocalLogs: logs,
    };
    const failureFile = path.join(dirs.output, 'failure');
    if (timedOut || code !== 0 || existsSync(failureFile)) {
      const reason = timedOut
        ? `MaxRuntimeExceeded: Job stopped because it exceeded MaxRuntimeInSeconds (${maxSeconds})`
        : existsSync(failureFile) && statSync(failureFile).size > 0
          ? `AlgorithmError: ${readFileSync(failureFile, 'utf8').trim().slice(0, 1024)}`
          : `AlgorithmError: the training command exited with code ${code}`;
      throw new TrainingJobFailedError({ ...base, TrainingJobStatus: 'Failed', SecondaryStatus: timedOut ? 'MaxRuntimeExceeded' : 'Failed', FailureReason: reason });
    }
    // The model directory, packed as SageMaker does: <S3OutputPath>/<job>/output/model.tar.gz
    const tarball = path.join(root, 'model.tar.gz');
    await tar.create({ gzip: true, file: tarball, cwd: dirs.model, portable: true }, ['.']);
    const out = parseS3(request.OutputDataConfig.S3OutputPath, 'OutputDataConfig.S3OutputPath');
    const key = `${out.key.replace(/\/+$/, '')}${out.key ? '/' : ''}${name}/output/model.tar.gz`;
    await options.s3.send(new PutObjectCommand({ Bucket: out.bucket, Key: key, Body: createReadStream(tarball), ContentLength: statSync(tarball).size }));
    return { ...base, TrainingJobStatus: 'Completed', SecondaryStatus: 'Completed', ModelArtifacts: { S3ModelArtifacts: `s3://${out.bucket}/${key}` } };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function run(command: readonly string[], env: Record<string, string>, cwd: string, timeoutMs: number): Promise<{ code: number | null; logs: string; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    let timedOut = false;
    const keep = (d: Buffer): void => {
      logs += d.toString();
      if (logs.length > 1 << 20) logs = logs.slice(-(1 << 19)); // the tail, as CloudWatch would show it
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`training command '${command.join(' ')}' cannot start: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, logs, timedOut });
    });
  });
}
