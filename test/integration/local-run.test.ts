import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadWithEvent } from '../../bin/local/s3-events';
import { cpsCsv } from '../../bin/local/sample-data';
import { startLocal, type LocalEnvironment } from '../helpers/local';

const ROOT = path.resolve(__dirname, '..', '..');

describe('the synthesized stack, run locally', () => {
  let env: LocalEnvironment;
  beforeAll(async () => {
    env = await startLocal({ bundle: true });
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('routes an S3 event through the template rule to the bundled handler from cdk.out', async () => {
    const event = await uploadWithEvent(env.s3, { Bucket: env.dataBucket, Key: 'data/cps/cps.csv', Body: cpsCsv(), ContentType: 'text/csv' });
    const [first] = await env.stack.putEvent(event);
    expect(first).toMatchObject({ functionId: env.ingestFunctionId, result: { status: 'accepted', dataset: 'cps', duplicate: false } });
    const [again] = await env.stack.putEvent(event);
    expect(again).toMatchObject({ result: { duplicate: true } });
  });

  it('does not route objects outside the data prefix or from another bucket', async () => {
    const outside = await uploadWithEvent(env.s3, { Bucket: env.dataBucket, Key: 'scratch/a.csv', Body: 'a\n1\n' });
    expect(await env.stack.putEvent(outside)).toEqual([]);
    const other = { ...outside, detail: { ...(outside.detail as object), bucket: { name: env.artifactsBucket } } };
    expect(await env.stack.putEvent(other)).toEqual([]);
  });
});

describe('npm start', () => {
  it('runs the local lifecycle to the end and writes its report', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn('npm', ['start', '--silent'], { cwd: ROOT, env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' } });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
    });
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/ingest CPS 1985 wages, CSV\s+-> dsv-\w+ accepted/);
    expect(stdout).toMatch(/duplicate event for the CSV\s+-> dsv-\w+ duplicate/);
    expect(stdout).toMatch(/rejected: not valid UTF-8 at byte 13/);
    expect(stdout).toMatch(/validation gate on dsv-\w+: passed/);
    expect(stdout).toMatch(/bias gate on dsv-\w+: passed/);
    // the training pipeline from the template, state by state: trained by the local SageMaker job, judged on the holdout, fair, registered, deployed
    expect(stdout).toMatch(/▶ Wait for turn\n.*▶ Prepare training data\n.*▶ Train\n.*▶ Record model version\n.*▶ Evaluate against champion\n.*▶ Bias gate\n.*▶ Registration details\n.*▶ Register model\n.*▶ Record approval\n.*▶ Start release\n.*▶ Check release\n.*▶ Deploy\n/s);
    expect(stdout).toMatch(/TrainingPipeline on dsv-\w+: registered model mv-\w+ as arn:aws:sagemaker:us-east-1:123456789012:model-package\/cdk-mlops-cps-wages\/1 \(approved by pipeline \(automatic: the gates passed\)\) and released it to the endpoint \(no model serves yet; the candidate's accuracy is 0\.\d{4}\)$/m);
    // the endpoint it was released to, over HTTP: the bundled handler on Lambda version 2 (the release), real predictions and field-level 400s
    expect(stdout).toMatch(/endpoint http:\/\/127\.0\.0\.1:\d+\/ POST 5 CPS rows -> 200 \(model mv-\w+, Lambda version 2\): predictions (0\.\d{3}, ){4}0\.\d{3}$/m);
    expect(stdout).toMatch(/POST a bad request .* -> 400 .*: rows\[0\]\.education: "twelve" is not a finite number; rows\[1\]\.education: 45 is above the contract's max 30$/m);
    expect(stdout).toMatch(/verify endpoint\/cps-wages: OK \(1 links/);
    // started by the uploads through the retraining rule: one execution per dataset version (the duplicate event started none)
    expect(stdout.match(/TrainingPipeline execution 'dsv-\w+' \(started by the upload\)/g)).toHaveLength(3);
    expect(stdout.match(/not trainable \(rejected at ingest\)/g)).toHaveLength(2);
    // 3 dataset versions + 5 gate reports (validation, bias, evaluation, the pipeline's bias, approval); the training run, the model and the deployment in the pipeline's chain
    expect(stdout).toMatch(/verify dataset\/cps-wages: OK \(8 links/);
    expect(stdout).toMatch(/verify pipeline\/cps-wages: OK \(3 links/);
    // the dataset-validation state machine from the template: shards, merge, gate
    expect(stdout).toMatch(/DatasetValidation state machine on dsv-\w+: \d+ shards profiled in parallel, merged \(534 rows\); gate passed/);
    expect(stdout).toMatch(/verify dataset\/cps-wages-jsonl: OK \(2 links/);
    expect(stderr).not.toMatch(/NodeVersionSupportWarning/);
    const report = path.join(ROOT, 'local-run', 'report.md');
    expect(existsSync(report)).toBe(true);
    const text = readFileSync(report, 'utf8');
    expect(text).toContain('| dataset/cps-wages | 8 | yes |');
    expect(text).toMatch(/\| validation \| `dsv-\w+` \| {2}\| passed \|/);
    expect(text).toMatch(/\| TrainingPipeline \| `dsv-\w+` \| registered model mv-\w+ as arn:aws:sagemaker:[^|]+\/cdk-mlops-cps-wages\/1 /);
    expect(text).toMatch(/\| 5 CPS rows \| 200 \| `mv-\w+` \| 2 \| predictions /);
  }, 120_000);
});
