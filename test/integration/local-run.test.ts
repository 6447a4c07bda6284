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
  it('runs the whole lifecycle to the end: v1, drift, retraining, v2 by canary, a bad release rolled back; the ledger says so', async () => {
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
    // the training pipeline from the template, state by state: trained by the local SageMaker job, judged on the holdout, fair, registered, released
    expect(stdout).toMatch(/▶ Wait for turn\n.*▶ Prepare training data\n.*▶ Train\n.*▶ Record model version\n.*▶ Evaluate against champion\n.*▶ Bias gate\n.*▶ Registration details\n.*▶ Register model\n.*▶ Record approval\n.*▶ Start release\n.*▶ Check release\n.*▶ Deploy\n/s);
    expect(stdout).toMatch(/TrainingPipeline on dsv-\w+: registered model (mv-\w+) as arn:aws:sagemaker:us-east-1:123456789012:model-package\/cdk-mlops-cps-wages\/1 \(approved by pipeline \(automatic: the gates passed\)\) and released it to the endpoint \(no model serves yet; the candidate's accuracy is 0\.\d{4}\)$/m);
    const v1 = /model-package\/cdk-mlops-cps-wages\/1/.test(stdout) ? /registered model (mv-\w+) as [^ ]+\/1 /.exec(stdout)![1]! : '';
    // the endpoint over HTTP: the bundled handler on Lambda version 2 (the release), real predictions and field-level 400s
    expect(stdout).toMatch(/endpoint http:\/\/127\.0\.0\.1:\d+\/ POST 5 CPS rows -> 200 \(model mv-\w+, Lambda version 2\): predictions (0\.\d{3}, ){4}0\.\d{3}$/m);
    expect(stdout).toMatch(/POST a bad request .* -> 400 .*: rows\[0\]\.education: "twelve" is not a decimal number; rows\[1\]\.education: 45 is above the contract's max 30$/m);
    // traffic like the training data: no drift; the world changes: drift, the template's alarm, its rule, the starter
    expect(stdout).toMatch(/drift monitor \(traffic like the training data\): \d+ captured rows of mv-\w+ .*→ no drift$/m);
    expect(stdout).toMatch(/drift monitor \(drifted traffic\): .*education PSI \d\.\d{3}, JS \d\.\d{3}.*→ DRIFT/);
    expect(stdout).toMatch(/alarm DriftMonitor\/FeatureAlarm0: OK → ALARM \(MAX\(\[psi \/ 0\.2, js \/ 0\.1\]\) = \d+\.\d+ breaches GreaterThanThreshold 1\)/);
    expect(stdout).toMatch(/alarm DriftMonitor\/DriftAlarm: OK → ALARM\n.*EventBridge → TrainingPipeline\/Starter\/Resource: \{"incidentId":"in-\w+","decision":\{"action":"start","datasetVersionId":"(dsv-\w+)"/);
    expect(stdout).toMatch(/TrainingPipeline on dsv-\w+: registered model (mv-\w+) as [^ ]+\/cdk-mlops-cps-wages\/2 .* and released it to the endpoint \(accuracy 0\.\d{4} beats the champion's 0\.\d{4}/);
    const v2 = /registered model (mv-\w+) as [^ ]+\/2 /.exec(stdout)![1]!;
    // after the retraining the traffic matches the new model's training data: the drift alarm clears
    expect(stdout).toMatch(/drift monitor \(after the retraining \(mv-\w+\)\): .*→ no drift\n.*alarm DriftMonitor\/FeatureAlarm0: ALARM → OK/);
    // the bad release passes its thin canary, then its health alarm's rule rolls it back
    expect(stdout).toMatch(/a deliberately bad release: the stale model mv-\w+ again, by hand -> released \("Succeeded"\)/);
    expect(stdout).toMatch(/alarm Endpoint\/PredictionShiftAlarm: OK → ALARM \(Maximum of PredictionShift = 0\.\d+ breaches GreaterThanThreshold 0\.2\)\n.*alarm Endpoint\/HealthAlarm: OK → ALARM\n.*EventBridge → Endpoint\/Deployer\/Resource: \{"rolledBack":true/);
    expect(stdout).toMatch(new RegExp(`POST 5 rows of the shifted world, after the rollback -> 200 \\(model ${v2}, Lambda version 3\\)`));
    // the dataset-validation state machine from the template: shards, merge, gate
    expect(stdout).toMatch(/DatasetValidation state machine on dsv-\w+: \d+ shards profiled in parallel, merged \(534 rows\); gate passed/);
    expect(stdout).toMatch(/done in \d+\.\d s/);
    expect(stderr).not.toMatch(/NodeVersionSupportWarning/);

    // the ledger's final state (report.json holds every chain, verified)
    const report = JSON.parse(readFileSync(path.join(ROOT, 'local-run', 'report.json'), 'utf8')) as {
      reports: { chain: string; ok: boolean }[];
      histories: { chain: string; records: { id: string; kind: string; parents: string[]; data: Record<string, any> }[] }[];
      lineage: { serving: { data: { modelVersionId: string; reason: string } } };
    };
    expect(report.reports.length).toBeGreaterThanOrEqual(5);
    for (const r of report.reports) expect(r, r.chain).toMatchObject({ ok: true });
    const records = report.histories.flatMap((h) => h.records);
    const models = records.filter((r) => r.kind === 'ModelVersion');
    expect(models.map((m) => m.id)).toEqual([v1, v2]);
    const incidents = records.filter((r) => r.kind === 'Incident');
    expect(incidents.map((i) => i.data.type).sort()).toEqual(['drift', 'rollback']);
    const drift = incidents.find((i) => i.data.type === 'drift')!;
    expect(drift.data).toMatchObject({ endpoint: 'cps-wages', pipeline: 'cps-wages', details: { retraining: { action: 'start' } } });
    // the retraining's TrainingRun names the drift Incident as its trigger (and parent)
    const run2 = records.find((r) => r.kind === 'TrainingRun' && r.id === models[1]!.parents[0])!;
    expect(run2).toMatchObject({ parents: [expect.stringMatching(/^dsv-/), drift.id], data: { trigger: { type: 'drift', incidentId: drift.id } } });
    const rollback = incidents.find((i) => i.data.type === 'rollback')!;
    expect(rollback.data.reason).toMatch(new RegExp(`^rolled back cps-wages from model ${v1} to ${v2}: health alarm \\w+ right after release dp-\\w+: \\w+ is in ALARM: Maximum of PredictionShift`));
    // the endpoint's releases in order: v1 initial, v2 by canary (retrain), v1 by hand, the rollback to v2
    const releases = report.histories.find((h) => h.chain === 'endpoint/cps-wages')!.records.filter((r) => r.kind === 'Deployment');
    expect(releases.map((d) => [d.data.modelVersionId, d.data.reason, d.data.status])).toEqual([
      [v1, 'initial', 'succeeded'],
      [v2, 'retrain', 'succeeded'],
      [v1, 'manual', 'succeeded'],
      [v2, 'rollback', 'succeeded'],
    ]);
    expect(releases[1]!.data.strategy).toBe('codedeploy:CodeDeployDefault.LambdaCanary10Percent5Minutes');
    // what serves is v2
    expect(report.lineage.serving.data).toMatchObject({ modelVersionId: v2, reason: 'rollback' });

    // the reports: Markdown, and HTML with the lineage graph and the drift chart
    const md = readFileSync(path.join(ROOT, 'local-run', 'report.md'), 'utf8');
    expect(md).toMatch(/\| validation \| `dsv-\w+` \| {2}\| passed \|/);
    expect(md).toMatch(/\| 5 CPS rows \| 200 \| `mv-\w+` \| 2 \| predictions /);
    const html = readFileSync(path.join(ROOT, 'local-run', 'report.html'), 'utf8');
    expect(html).toContain(`serves model <code>${v2}</code>`);
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).toContain(`Incident ${drift.id.slice(0, 11)}`);
    expect(html).toContain('PSI threshold 0.2');
    expect(existsSync(path.join(ROOT, 'local-run', 'report.md'))).toBe(true);
  }, 240_000);
});
