import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulators, type Emulators } from '../../bin/local/emulators';
import { describeLocalImages, localImageDigest, runTrainingJob, TrainingJobFailedError, type TrainingJobRequest } from '../../bin/local/sagemaker-training';
import { cpsCsv } from '../../bin/local/sample-data';
import { s3Client } from '../../lambdas/shared/clients';
import { OnnxModel } from '../../lambdas/shared/onnx-model';

/*
 * The local SageMaker training stand-in against s3rver: the CreateTrainingJob
 * request in, the container contract honoured, the example TypeScript trainer
 * run as the image's command, model.tar.gz out, DescribeTrainingJob's shape back.
 */

const TRAINER = path.resolve(__dirname, '../../bin/local/trainers/logistic-regression.ts');
const IMAGES = {
  '123456789012.dkr.ecr.us-east-1.amazonaws.com/cdk-mlops-logistic-regression': [process.execPath, '--require', require.resolve('tsx/cjs'), TRAINER],
  'local/sleeper': [process.execPath, '-e', 'setTimeout(() => {}, 20000)'],
};

let emulators: Emulators;
let s3: S3Client;
beforeAll(async () => {
  emulators = await startEmulators();
  s3 = s3Client(emulators.env);
  for (const Bucket of ['data', 'artifacts']) await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'data/cps/2026-11/cps.csv', Body: cpsCsv() }));
});
afterAll(async () => {
  s3?.destroy();
  await emulators?.stop();
});

const request = (overrides: Partial<TrainingJobRequest> = {}): TrainingJobRequest => ({
  TrainingJobName: 'wages-1',
  AlgorithmSpecification: {
    TrainingImage: '123456789012.dkr.ecr.us-east-1.amazonaws.com/cdk-mlops-logistic-regression:1.0',
    TrainingInputMode: 'File',
    MetricDefinitions: [
      { Name: 'train:accuracy', Regex: 'train:accuracy=([0-9.]+);' },
      { Name: 'validation:accuracy', Regex: 'validation:accuracy=([0-9.]+);' },
    ],
  },
  HyperParameters: { label: 'wage', label_threshold: '10', features: 'education,experience,union,gender=female:1|male:0', iterations: '300' },
  InputDataConfig: [{ ChannelName: 'train', DataSource: { S3DataSource: { S3Uri: 's3://data/data/cps/2026-11/', S3DataType: 'S3Prefix' } } }],
  OutputDataConfig: { S3OutputPath: 's3://artifacts/training/wages' },
  ResourceConfig: { InstanceType: 'ml.g5.xlarge', InstanceCount: 1, VolumeSizeInGB: 30 },
  StoppingCondition: { MaxRuntimeInSeconds: 300 },
  ...overrides,
});

describe('local SageMaker training job', () => {
  it('trains with the example trainer and returns what DescribeTrainingJob would, model.tar.gz in S3', async () => {
    const job = await runTrainingJob(request(), { s3, images: IMAGES });
    expect(job).toMatchObject({ TrainingJobStatus: 'Completed', TrainingJobName: 'wages-1', ModelArtifacts: { S3ModelArtifacts: 's3://artifacts/training/wages/wages-1/output/model.tar.gz' } });
    const metrics = Object.fromEntries(job.FinalMetricDataList.map((m) => [m.MetricName, m.Value]));
    expect(metrics['train:accuracy']).toBeGreaterThan(0.6);
    expect(metrics['validation:accuracy']).toBeGreaterThan(0.5);

    // the tarball holds the ONNX model, its signature and metrics; the model scores
    const dir = mkdtempSync(path.join(tmpdir(), 'model-'));
    try {
      const body = await (await s3.send(new GetObjectCommand({ Bucket: 'artifacts', Key: 'training/wages/wages-1/output/model.tar.gz' }))).Body!.transformToByteArray();
      writeFileSync(path.join(dir, 'model.tar.gz'), body);
      await tar.extract({ file: path.join(dir, 'model.tar.gz'), cwd: dir });
      const signature = JSON.parse(readFileSync(path.join(dir, 'signature.json'), 'utf8'));
      expect(signature.features).toEqual(['education', 'experience', 'union', { column: 'gender', categories: { female: 1, male: 0 } }]);
      const model = await OnnxModel.load(readFileSync(path.join(dir, 'model.onnx')), signature);
      const [phd, dropout] = await model.score(new Float32Array([18, 20, 1, 0, 6, 20, 0, 1]), 2, 4);
      expect(phd).toBeGreaterThan(dropout!); // more education, union, man: the 1985 data's higher odds of > $10/h
      await model.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('fails the job with the failure file the trainer wrote, as Step Functions reports it', async () => {
    const err = await runTrainingJob(request({ TrainingJobName: 'wages-2', HyperParameters: { features: 'education' } }), { s3, images: IMAGES }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingJobFailedError);
    expect((err as Error).name).toBe('States.TaskFailed');
    expect((err as TrainingJobFailedError).description).toMatchObject({ TrainingJobStatus: 'Failed', FailureReason: "AlgorithmError: hyperparameter 'label' is required" });
  }, 60_000);

  it('stops a job that runs past MaxRuntimeInSeconds', async () => {
    const err = await runTrainingJob(request({ TrainingJobName: 'slow', AlgorithmSpecification: { TrainingImage: 'local/sleeper:latest' }, StoppingCondition: { MaxRuntimeInSeconds: 1 } }), { s3, images: IMAGES }).catch((e: unknown) => e);
    expect((err as TrainingJobFailedError).description).toMatchObject({ TrainingJobStatus: 'Failed', SecondaryStatus: 'MaxRuntimeExceeded' });
  }, 30_000);

  it.each([
    [{ AlgorithmSpecification: { TrainingImage: 'unknown/image:1' } }, "no local command for training image 'unknown/image:1': map it (or 'unknown/image') in context 'cdk-mlops:localTrainingImages'"],
    [{ TrainingJobName: 'bad_name' }, "TrainingJobName: 'bad_name' is not a valid training job name"],
    [{ ResourceConfig: { InstanceType: 'ml.p4d.24xlarge', InstanceCount: 2 } }, 'ResourceConfig.InstanceCount: distributed training (2 instances) does not run locally'],
  ] as [Partial<TrainingJobRequest>, string][])('refuses what it cannot honour, saying why: %#', async (overrides, message) => {
    await expect(runTrainingJob(request(overrides), { s3, images: IMAGES })).rejects.toThrow(message);
  });
});

describe('local ECR DescribeImages (the pinned training image)', () => {
  it('resolves any tag of a mapped repository to its command\'s digest: the files it runs, not where they are', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'image-'));
    try {
      const a = path.join(dir, 'a.ts');
      const b = path.join(dir, 'b.ts');
      writeFileSync(a, 'train()');
      writeFileSync(b, 'train()');
      const digest = localImageDigest([process.execPath, a]);
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(localImageDigest([process.execPath, b])).toBe(digest); // same bytes elsewhere
      writeFileSync(b, 'train(better)');
      expect(localImageDigest([process.execPath, b])).not.toBe(digest); // an edited trainer is another image
      expect(localImageDigest(['python3', a])).not.toBe(digest);
      const images = { 'cdk-mlops-logistic-regression': [process.execPath, a] };
      expect(describeLocalImages({ RepositoryName: 'cdk-mlops-logistic-regression', ImageIds: [{ ImageTag: 'stable' }] }, images)).toEqual({
        ImageDetails: [{ RegistryId: '000000000000', RepositoryName: 'cdk-mlops-logistic-regression', ImageDigest: digest, ImageTags: ['stable'] }],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs an image named by digest only while its command still is that image, as SageMaker pulls only an image that exists', async () => {
    const repo = '123456789012.dkr.ecr.us-east-1.amazonaws.com/cdk-mlops-logistic-regression';
    const now = localImageDigest(IMAGES[repo]);
    const byDigest = (digest: string) => request({ TrainingJobName: `wages-digest-${digest.slice(7, 11)}`, AlgorithmSpecification: { ...request().AlgorithmSpecification, TrainingImage: `${repo}@${digest}` } });
    await expect(runTrainingJob(byDigest(`sha256:${'0'.repeat(64)}`), { s3, images: IMAGES })).rejects.toThrow(`Cannot find the requested image: ${repo}@sha256:${'0'.repeat(64)} (locally: the command mapped to that repository is now ${now}`);
    expect(await runTrainingJob(byDigest(now), { s3, images: IMAGES })).toMatchObject({ TrainingJobStatus: 'Completed' });
  });

  it('answers an unknown repository or a malformed request with ECR\'s error, named as Step Functions names it', () => {
    expect(() => describeLocalImages({ RepositoryName: 'nobody', ImageIds: [{ ImageTag: 'latest' }] }, IMAGES)).toThrow(expect.objectContaining({ name: 'Ecr.RepositoryNotFoundException', message: expect.stringContaining("The repository with name 'nobody' does not exist") }));
    expect(() => describeLocalImages({ RepositoryName: 'local/sleeper', ImageIds: [] }, IMAGES)).toThrow(expect.objectContaining({ name: 'Ecr.InvalidParameterException' }));
    expect(() => describeLocalImages({ ImageIds: [{ ImageTag: 'latest' }] }, IMAGES)).toThrow(expect.objectContaining({ name: 'Ecr.InvalidParameterException', message: expect.stringContaining('RepositoryName') }));
  });
});
