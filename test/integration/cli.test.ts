import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { SFNClient, StartExecutionCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, UsageError, VERIFY_EXIT } from '../../bin/cli';
import { startEmulators } from '../../bin/local/emulators';
import { LocalStack } from '../../bin/local/local-stack';
import { LedgerStore } from '../../lambdas/shared/ledger-store';
import { dynamoDocumentClient, s3Client } from '../../lambdas/shared/clients';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { cpsCsv } from '../../bin/local/sample-data';
import { sha256Hex, type TrainingInputs } from '../../lambdas/core/lineage';
import { checkContract } from '../../lambdas/core/constraints';
import { parseContract } from '../../lambdas/core/contract-file';
import { profileDelimited } from '../../lambdas/core/profile/readers';
import { startLocal, type LocalEnvironment } from '../helpers/local';

let env: LocalEnvironment;
const saved = { ...process.env };

async function cli(...args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await main(args, (l) => lines.push(...l.split('\n')));
  return { code, lines };
}

beforeAll(async () => {
  env = await startLocal();
  // The CLI's clients use the default chain: point it at the emulators as a user would at AWS.
  Object.assign(process.env, env.emulators.env);
  const ledger = env.ledger();
  await ledger.append({ kind: 'DatasetVersion', subject: 'dataset/wages', id: 'dsv-1', data: { dataset: 'wages', bucket: 'b', key: 'data/wages/a.csv', versionId: 'v1', etag: 'e', sha256: 'ab'.repeat(32), size: 10, contentType: 'text/csv', format: 'csv', status: 'accepted', source: { eventId: null, eventTime: null } } });
  await ledger.append({ kind: 'Incident', subject: 'pipeline/wages', id: 'inc-1', parents: ['dsv-1'], data: { type: 'drift', reason: 'test' } });
});
afterAll(async () => {
  process.env = saved;
  await env?.stop();
});

describe('cdk-mlops lineage', () => {
  const target = () => ['--table', env.tableName, '--bucket', env.ledgerBucket];

  it('prints the history of a subject', async () => {
    const { code, lines } = await cli('lineage', 'history', 'dataset/wages', ...target());
    expect(code).toBe(0);
    expect(lines).toEqual([expect.stringMatching(/DatasetVersion dsv-1 {2}dataset\/wages {2}data\/wages\/a\.csv accepted {2}sha256:abababababababab$/)]);
  });

  it('shows a record with what it derives from and what derives from it, also as JSON', async () => {
    const { lines } = await cli('lineage', 'show', 'inc-1', ...target());
    expect(lines).toContain('derives from (1):');
    const json = await cli('lineage', 'derived', 'dsv-1', '--json', ...target());
    expect((JSON.parse(json.lines.join('\n')) as { id: string }[]).map((r) => r.id)).toEqual(['inc-1']);
  });

  it('verifies every chain (exit 0), and exits 3 (tampered) naming the problem once a record is removed', async () => {
    expect(await cli('lineage', 'verify', ...target())).toEqual({ code: 0, lines: [expect.stringMatching(/^OK +dataset\/wages: 1 links/), expect.stringMatching(/^OK +pipeline\/wages: 1 links/), expect.stringMatching(/^note: the WORM store cannot list object versions/)] });
    await env.ddb.send(new DeleteCommand({ TableName: env.tableName, Key: { pk: 'REC#inc-1', sk: 'REC' } }));
    const broken = await cli('lineage', 'verify', 'pipeline/wages', ...target());
    expect(broken.code).toBe(VERIFY_EXIT.tampered);
    expect(broken.lines).toEqual([
      expect.stringMatching(/^FAILED pipeline\/wages/),
      expect.stringContaining('missing-record: record inc-1 (link 1) is missing'),
      expect.stringMatching(/^note: the WORM store cannot list object versions/),
    ]);
  });

  it('finds the ledger from a deployed stack\'s outputs (CloudFormation mocked: it has no emulator)', async () => {
    const cfn = mockClient(CloudFormationClient);
    cfn.on(DescribeStacksCommand, { StackName: 'CdkMlops' }).resolves({
      Stacks: [{ StackName: 'CdkMlops', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [{ OutputKey: 'LedgerTableName', OutputValue: env.tableName }, { OutputKey: 'LedgerBucketName', OutputValue: env.ledgerBucket }] }],
    });
    try {
      const { code, lines } = await cli('lineage', 'chains', '--stack', 'CdkMlops');
      expect(code).toBe(0);
      expect(lines).toEqual(expect.arrayContaining(['dataset/wages', 'pipeline/wages']));
      cfn.on(DescribeStacksCommand, { StackName: 'Other' }).resolves({ Stacks: [{ StackName: 'Other', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [] }] });
      await expect(cli('lineage', 'chains', '--stack', 'Other')).rejects.toThrow('stack Other has no LedgerTableName/LedgerBucketName outputs');
    } finally {
      cfn.restore();
    }
  });

  it('starts the training pipeline named after the dataset version; a second start says it exists (Step Functions mocked: it has no emulator)', async () => {
    const cfn = mockClient(CloudFormationClient);
    const sfn = mockClient(SFNClient);
    const arn = 'arn:aws:states:us-east-1:123456789012:stateMachine:TrainingPipeline';
    cfn.on(DescribeStacksCommand, { StackName: 'CdkMlops' }).resolves({ Stacks: [{ StackName: 'CdkMlops', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [{ OutputKey: 'TrainingPipelineStateMachineArn', OutputValue: arn }] }] });
    sfn.on(StartExecutionCommand, { name: 'dsv-123' }).resolvesOnce({ executionArn: `${arn}:dsv-123`, startDate: new Date() }).rejects(Object.assign(new Error('Execution Already Exists'), { name: 'ExecutionAlreadyExists' }));
    sfn.on(StartExecutionCommand, { name: 'dsv-123-again' }).resolves({ executionArn: `${arn}:dsv-123-again`, startDate: new Date() });
    try {
      expect((await cli('pipeline', 'start', 'dsv-123', '--stack', 'CdkMlops')).lines).toEqual([`started ${arn}:dsv-123`]);
      expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input).toEqual({ stateMachineArn: arn, name: 'dsv-123', input: '{"datasetVersionId":"dsv-123"}' });
      expect((await cli('pipeline', 'start', 'dsv-123', '--stack', 'CdkMlops')).lines).toEqual([`already started: execution 'dsv-123' exists on ${arn} (use --attempt <label> to train again)`]);
      expect((await cli('pipeline', 'start', 'dsv-123', '--state-machine-arn', arn, '--attempt', 'again')).lines).toEqual([`started ${arn}:dsv-123-again`]);
      await expect(cli('pipeline', 'start', 'dsv-123')).rejects.toThrow("'pipeline start' needs --stack <name> or --state-machine-arn <arn>");
      await expect(cli('pipeline', 'start')).rejects.toThrow("'pipeline start' needs a dataset version id");
    } finally {
      cfn.restore();
      sfn.restore();
    }
  });

  it('answers a manual approval with the decision, who made it and why (Step Functions mocked)', async () => {
    const sfn = mockClient(SFNClient);
    sfn.on(SendTaskSuccessCommand).resolves({});
    try {
      expect((await cli('pipeline', 'approve', '--token', 'tok-1', '--by', 'ana@example.com')).lines).toEqual(['approved by ana@example.com: the pipeline records the decision and goes on']);
      expect((await cli('pipeline', 'approve', '--token', 'tok-2', '--by', 'bo', '--reject', '--comment', 'too few women in the holdout')).lines).toEqual(['rejected by bo: the pipeline records the decision and goes on']);
      expect(sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input)).toEqual([
        { taskToken: 'tok-1', output: '{"approved":true,"by":"ana@example.com"}' },
        { taskToken: 'tok-2', output: '{"approved":false,"by":"bo","comment":"too few women in the holdout"}' },
      ]);
      await expect(cli('pipeline', 'approve', '--by', 'ana')).rejects.toThrow("'pipeline approve' needs --token <task-token>");
      await expect(cli('pipeline', 'approve', '--token', 't', '--by', ' ')).rejects.toThrow("'pipeline approve' needs --by <name>");
    } finally {
      sfn.restore();
    }
  });

  it.each([
    [['lineage', 'nope', '--table', 't', '--bucket', 'b'], "unknown lineage command 'nope'"],
    [['models', 'list'], "unknown command 'models list'"],
    [['lineage', 'history', '--table', 't', '--bucket', 'b'], "'lineage history' needs a subject"],
    [['lineage', 'show', '--table', 't', '--bucket', 'b'], "'lineage show' needs a record id"],
    [['lineage', 'verify', '--local-dir', '/nonexistent'], 'state.json not found: run `npm start` first'],
  ])('rejects %j with a usage error', async (args, message) => {
    await expect(cli(...args)).rejects.toThrow(UsageError);
    await expect(cli(...args)).rejects.toThrow(message);
  });

  it('suggests a contract from a dataset version, as YAML the same data keeps', async () => {
    // Prepare: a real object and its DatasetVersion
    const body = cpsCsv();
    const put = await env.s3.send(new PutObjectCommand({ Bucket: env.dataBucket, Key: 'data/cps/cps.csv', Body: body }));
    await env.ledger().append({ kind: 'DatasetVersion', subject: 'dataset/cps', id: 'dsv-cps', data: { dataset: 'cps', bucket: env.dataBucket, key: 'data/cps/cps.csv', versionId: null, etag: put.ETag!.replace(/"/g, ''), sha256: null, size: Buffer.byteLength(body), contentType: 'text/csv', format: 'csv', status: 'accepted', source: { eventId: null, eventTime: null } } });
    // Act
    const { code, lines } = await cli('contract', 'suggest', 'dsv-cps', ...target());
    // Assess
    expect(code).toBe(0);
    expect(lines[0]).toMatch(/^# suggested from dsv-cps \(s3:\/\/.+\/data\/cps\/cps\.csv, 534 rows\): review, then store as contracts\/cps\.yaml$/);
    const contract = parseContract(lines.slice(1).join('\n'));
    expect(contract.columns.gender).toEqual({ type: 'string', nullable: false, allowedValues: ['female', 'male'] });
    expect(contract.columns.wage).toMatchObject({ type: 'float', nullable: false, min: 0 });
    const profile = await profileDelimited((async function* () { yield await Promise.resolve(Buffer.from(body)); })(), { file: 'cps.csv' });
    expect(checkContract(contract, profile)).toEqual([]);
    await expect(cli('contract', 'suggest', 'dsv-nope', ...target())).rejects.toThrow("no DatasetVersion 'dsv-nope' in the ledger");
    await expect(cli('contract', 'suggest', ...target())).rejects.toThrow("'contract suggest' needs a dataset version id");
    await expect(cli('contract', 'list', ...target())).rejects.toThrow("unknown contract command 'list'");
  });

  it('asks for a target when none is given', async () => {
    const before = { table: process.env.LEDGER_TABLE, bucket: process.env.LEDGER_WORM_BUCKET };
    delete process.env.LEDGER_TABLE;
    delete process.env.LEDGER_WORM_BUCKET;
    await expect(cli('lineage', 'chains')).rejects.toThrow('no ledger given: use --local, --stack <name>, or --table and --bucket');
    Object.assign(process.env, before.table ? { LEDGER_TABLE: before.table } : {}, before.bucket ? { LEDGER_WORM_BUCKET: before.bucket } : {});
  });

  it('reads the state a local run left on disk (--local-dir): emulators restarted on the persisted data', async () => {
    // Prepare: a run that persists its emulators' data, then stops
    const dir = mkdtempSync(path.join(tmpdir(), 'cdk-mlops-run-'));
    try {
      const emulators = await startEmulators({ dataDir: path.join(dir, 'emulators') });
      const stack = await LocalStack.start({ outdir: env.outdir, stackName: 'CdkMlops', emulators });
      const [tableName, artifactsBucket, ledgerBucket] = [stack.output('LedgerTableName'), stack.output('ArtifactsBucketName'), stack.output('LedgerBucketName')];
      const ledger = new LedgerStore({ ddb: dynamoDocumentClient(emulators.env), s3: s3Client(emulators.env), tableName, wormBucket: ledgerBucket });
      await ledger.append({ kind: 'Incident', subject: 'endpoint/persisted', id: 'inc-p', data: { type: 'rollback', reason: 'kept on disk' } });
      await emulators.stop();
      writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ tableName, artifactsBucket, ledgerBucket, wormPrefix: 'ledger/' }));
      // Act
      const { code, lines } = await cli('lineage', 'verify', 'endpoint/persisted', '--local-dir', dir);
      // Assess
      expect(code).toBe(0);
      expect(lines[0]).toMatch(/^OK +endpoint\/persisted: 1 links/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cdk-mlops endpoint', () => {
  const target = () => ['--table', env.tableName, '--bucket', env.ledgerBucket];

  it('says what serves now and why: the release, the model and its lineage, the gates of the model and of its data, the releases and incidents', async () => {
    // Prepare: dsv-1 (above) -> a training run -> a model with its gates -> two releases, the second rolled back
    const ledger = env.ledger();
    await ledger.append({ kind: 'TrainingRun', subject: 'pipeline/wages', id: 'tr-ep', parents: ['dsv-1'], data: { pipeline: 'wages', executionId: 'e', datasetVersionIds: ['dsv-1'], image: { uri: `123456789012.dkr.ecr.us-east-1.amazonaws.com/trainer@sha256:${'ab'.repeat(32)}`, digest: `sha256:${'ab'.repeat(32)}` }, hyperparameters: { epochs: '20' }, instanceType: 'ml.m5.xlarge', instanceCount: 1, status: 'succeeded' } });
    await ledger.append({ kind: 'ModelVersion', subject: 'pipeline/wages', id: 'mv-ep1', parents: ['tr-ep'], data: { pipeline: 'wages', trainingRunId: 'tr-ep', artifact: { uri: 's3://b/models/m.onnx', sha256: 'cd'.repeat(32) }, format: 'onnx', metrics: { 'train:accuracy': 0.71 }, approval: { status: 'PendingManualApproval' } } });
    await ledger.append({ kind: 'ModelVersion', subject: 'pipeline/wages', id: 'mv-ep2', parents: ['tr-ep'], data: { pipeline: 'wages', trainingRunId: 'tr-ep', artifact: { uri: 's3://b/models/m2.onnx', sha256: 'ef'.repeat(32) }, format: 'onnx', metrics: {}, approval: { status: 'PendingManualApproval' } } });
    await ledger.append({ kind: 'GateReport', subject: 'dataset/wages', id: 'gr-val', parents: ['dsv-1'], data: { gate: 'validation', passed: true, metrics: { rows: 534 }, thresholds: {}, reasons: [] } });
    await ledger.append({ kind: 'GateReport', subject: 'dataset/wages', id: 'gr-appr', parents: ['dsv-1', 'mv-ep1'], data: { gate: 'approval', passed: true, metrics: {}, thresholds: {}, reasons: ['approved by ana: looks right'] } });
    await ledger.append({ kind: 'Deployment', subject: 'endpoint/wages', id: 'dp-ep1', parents: ['mv-ep1'], data: { endpoint: 'wages', modelVersionId: 'mv-ep1', strategy: 'codedeploy:CodeDeployDefault.LambdaAllAtOnce', reason: 'initial', status: 'succeeded', functionVersion: '2' } });
    await ledger.append({ kind: 'Deployment', subject: 'endpoint/wages', id: 'dp-ep2', parents: ['mv-ep2'], data: { endpoint: 'wages', modelVersionId: 'mv-ep2', strategy: 'codedeploy:CodeDeployDefault.LambdaCanary10Percent5Minutes', reason: 'retrain', status: 'rolled-back', functionVersion: '3' } });
    await ledger.append({ kind: 'Incident', subject: 'endpoint/wages', id: 'in-ep2', parents: ['dp-ep2', 'mv-ep2'], data: { type: 'rollback', reason: 'release of model mv-ep2 to wages rolled back to version 2: alarm' } });
    // Act
    const { code, lines } = await cli('endpoint', 'serving', 'wages', ...target());
    // Assess
    expect(code).toBe(0);
    expect(lines[0]).toMatch(/^endpoint wages serves model mv-ep1 since \S+ \(initial, codedeploy:CodeDeployDefault\.LambdaAllAtOnce, Lambda version 2\)$/);
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}from .*TrainingRun +tr-ep /));
    // which code: the image by digest, the hyperparameters, the instances
    expect(lines).toContainEqual(`    code: 123456789012.dkr.ecr.us-east-1.amazonaws.com/trainer@sha256:${'ab'.repeat(32)}; hyperparameters {"epochs":"20"}; ml.m5.xlarge × 1`);
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}from .*DatasetVersion dsv-1 /));
    expect(lines).toContainEqual('  gates (2):');
    expect(lines).toContainEqual(expect.stringMatching(/^ {4}approval +model passed {2}approved by ana: looks right$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ {4}validation +data {2}passed {2} {2}\{"rows":534\}$/));
    expect(lines.filter((l) => / {4}\S+ {2}(Deployment|Incident)/.test(l))).toEqual([
      expect.stringMatching(/Deployment mv-ep1 succeeded \(initial\)$/),
      expect.stringMatching(/Deployment mv-ep2 rolled-back \(retrain\)$/),
      expect.stringMatching(/Incident +rollback release of model mv-ep2 to wages rolled back to version 2: alarm$/),
    ]);
    const json = JSON.parse((await cli('endpoint', 'serving', 'wages', '--json', ...target())).lines.join('\n')) as { serving: { id: string }; gates: { id: string }[] };
    expect(json.serving.id).toBe('dp-ep1');
    expect(json.gates.map((g) => g.id).sort()).toEqual(['gr-appr', 'gr-val']);
    expect(await cli('endpoint', 'serving', 'nowhere', ...target())).toEqual({ code: 1, lines: ["no records about endpoint 'nowhere'"] });
  });

  it('says which image serves a SageMaker endpoint, by the digest SageMaker resolved', async () => {
    const ledger = env.ledger();
    const resolved = `123456789012.dkr.ecr.us-east-1.amazonaws.com/infer@sha256:${'9a'.repeat(32)}`;
    await ledger.append({ kind: 'TrainingRun', subject: 'pipeline/gpu', id: 'tr-sm', parents: ['dsv-1'], data: { pipeline: 'gpu', executionId: 'e', datasetVersionIds: ['dsv-1'], image: { uri: 'trainer:1' }, hyperparameters: {}, instanceType: 'ml.g5.xlarge', instanceCount: 1, status: 'succeeded' } });
    await ledger.append({ kind: 'ModelVersion', subject: 'pipeline/gpu', id: 'mv-sm', parents: ['tr-sm'], data: { pipeline: 'gpu', trainingRunId: 'tr-sm', artifact: { uri: 's3://b/m.onnx', sha256: '12'.repeat(32) }, format: 'onnx', metrics: {}, approval: { status: 'Approved' } } });
    await ledger.append({ kind: 'Deployment', subject: 'endpoint/wages-gpu', id: 'dp-sm', parents: ['mv-sm'], data: { endpoint: 'wages-gpu', modelVersionId: 'mv-sm', strategy: 'sagemaker:CANARY', reason: 'initial', status: 'succeeded', deploymentId: 'wages-gpu-sm', images: [{ specified: '123456789012.dkr.ecr.us-east-1.amazonaws.com/infer:latest', resolved }] } });
    const { code, lines } = await cli('endpoint', 'serving', 'wages-gpu', ...target());
    expect(code).toBe(0);
    expect(lines).toContain(`  served by: ${resolved} (the config names 123456789012.dkr.ecr.us-east-1.amazonaws.com/infer:latest)`);
    // and the training code, by tag only: said so
    expect(lines).toContain('    code: trainer:1 (a tag: not pinned to a digest); hyperparameters {}; ml.g5.xlarge × 1');
  });

  it('releases a model version through the release state machine', async () => {
    const sfn = mockClient(SFNClient);
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:aws:states:us-east-1:123456789012:execution:release:abc' });
    try {
      const { code, lines } = await cli('endpoint', 'release', 'mv-ep2', '--state-machine-arn', 'arn:aws:states:us-east-1:123456789012:stateMachine:release');
      expect(code).toBe(0);
      expect(lines[0]).toMatch(/^started arn:aws:states:.*:execution:release:abc/);
      expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input).toEqual({ stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:release', input: '{"modelVersionId":"mv-ep2"}' });
      await expect(cli('endpoint', 'release', 'mv-ep2')).rejects.toThrow(UsageError);
    } finally {
      sfn.restore();
    }
  });
});

describe('cdk-mlops lineage reproduce', () => {
  const target = () => ['--table', env.tableName, '--bucket', env.ledgerBucket];
  const digest = `sha256:${'4f'.repeat(32)}`;
  const channel = () => `s3://${env.artifactsBucket}/training/repro/snapshots/dsv-1/train/`;
  const trainingRun = (id: string, image: { uri: string; digest?: string }, inputs?: TrainingInputs) => ({
    kind: 'TrainingRun' as const, subject: 'pipeline/repro', id, parents: ['dsv-1'],
    data: { pipeline: 'repro', executionId: 'e', datasetVersionIds: ['dsv-1'], image, hyperparameters: { iterations: '500' }, ...(inputs ? { inputs } : {}), instanceType: 'ml.m5.xlarge', instanceCount: 1, status: 'succeeded' as const },
  });

  it('prints the request that repeats a run from its record, its input checked intact; exit 1 when the record leaves something open', async () => {
    // GIVEN a run pinned by digest whose input is as it was written, and one by tag whose input is gone
    const body = 'education,wage\n12,9.5\n16,14.2\n';
    await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: 'training/repro/snapshots/dsv-1/train/train.csv', Body: body }));
    const inputs = (object: string, sha256: string): TrainingInputs => ({ train: { channel: channel(), object, sha256, rows: 2, format: 'csv' }, holdoutPercent: 20 });
    const ledger = env.ledger();
    await ledger.append(trainingRun('tr-rp1', { uri: `123456789012.dkr.ecr.us-east-1.amazonaws.com/trainer@${digest}`, digest }, inputs(`${channel()}train.csv`, sha256Hex(body))));
    await ledger.append({ kind: 'ModelVersion', subject: 'pipeline/repro', id: 'mv-rp1', parents: ['tr-rp1'], data: { pipeline: 'repro', trainingRunId: 'tr-rp1', artifact: { uri: 's3://b/m.onnx', sha256: 'cd'.repeat(32) }, format: 'onnx', metrics: {}, approval: { status: 'Approved' } } });
    await ledger.append(trainingRun('tr-rp2', { uri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/trainer:latest' }, inputs(`${channel()}gone.csv`, 'ef'.repeat(32))));
    await ledger.append(trainingRun('tr-rp3', { uri: 'trainer:latest' }));
    // WHEN asked through the model it trained
    const pinned = await cli('lineage', 'reproduce', 'mv-rp1', '--job-name', 'repro-1', ...target());
    // THEN
    expect(pinned.code).toBe(0);
    expect(pinned.lines.slice(0, 4)).toEqual([
      `to repeat tr-rp1 (which trained mv-rp1, sha256:${'cd'.repeat(8)}):`,
      `  input: ${channel()}train.csv, 2 rows, sha256:${sha256Hex(body).slice(0, 16)} intact`,
      '  pinned: the image by digest, the input by its SHA-256, the hyperparameters and instances',
      '  CreateTrainingJob request (add RoleArn, and your VPC, KMS and spot settings; they do not change the model):',
    ]);
    const request = JSON.parse(pinned.lines.slice(4).join('\n')) as Record<string, any>;
    expect(request).toMatchObject({ TrainingJobName: 'repro-1', AlgorithmSpecification: { TrainingImage: `123456789012.dkr.ecr.us-east-1.amazonaws.com/trainer@${digest}` }, HyperParameters: { iterations: '500' }, OutputDataConfig: { S3OutputPath: `s3://${env.artifactsBucket}/training/repro/jobs` } });
    expect(request.InputDataConfig[0].DataSource.S3DataSource.S3Uri).toBe(channel());

    const open = await cli('lineage', 'reproduce', 'tr-rp2', '--json', ...target());
    expect(open.code).toBe(1);
    const json = JSON.parse(open.lines.join('\n')) as { input: { intact: boolean }; gaps: string[] };
    expect(json.input.intact).toBe(false);
    expect(json.gaps).toEqual([
      expect.stringMatching(/^the image is recorded by tag only \(.*trainer:latest\)/),
      expect.stringMatching(/^the training input s3:\/\/.*\/gone\.csv is gone: split dataset version dsv-1 again/),
    ]);
    // a run that recorded no input cannot be repeated from its record; that says so
    await expect(cli('lineage', 'reproduce', 'tr-rp3', ...target())).rejects.toThrow(/tr-rp3 records no training input/);
    await expect(cli('lineage', 'reproduce', 'dsv-1', ...target())).rejects.toThrow(/'dsv-1' is not a training run or a model version/);
  });

  it('says the local state is in use (exit 4 for verify) instead of crashing when another process holds it', async () => {
    // Prepare: a run that holds its emulators' data (as `npm start` does while it runs)
    const dir = mkdtempSync(path.join(tmpdir(), 'cdk-mlops-held-'));
    const held = await startEmulators({ dataDir: path.join(dir, 'emulators') });
    const errors: string[] = [];
    const error = console.error;
    console.error = (line: string) => errors.push(line);
    try {
      await LocalStack.start({ outdir: env.outdir, stackName: 'CdkMlops', emulators: held });
      writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ tableName: env.tableName, artifactsBucket: env.artifactsBucket, ledgerBucket: env.ledgerBucket, wormPrefix: 'ledger/' }));
      // Act
      const { code } = await cli('lineage', 'verify', '--local-dir', dir);
      // Assess
      expect(code).toBe(VERIFY_EXIT.unreadable);
      expect(errors).toEqual([expect.stringMatching(/^cdk-mlops: the local state in .*emulators is in use by another process \(is `npm start` still running\?\)/)]);
    } finally {
      console.error = error;
      await held.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
