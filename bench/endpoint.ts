/*
 * ONNX endpoint benchmark: the bundled inference handler (what the Lambda runs,
 * built by esbuild from lambdas/onnx-endpoint) against bare onnxruntime-node on
 * the same model and the same input, in the same run:
 *
 *   - hot path: handler invocation (Function URL event -> JSON response: parse,
 *     checks, encode, score, metrics, respond) vs a bare InferenceSession.run on
 *     the already-built tensor, and vs bare serving code (JSON.parse, fill the
 *     tensor, run, JSON.stringify) — at batch 1 and batch 1000;
 *   - cold start: a fresh `node` process from spawn to its first prediction, the
 *     bundled handler (require, model from S3 checked against the ledger on
 *     s3rver/dynalite, first request), without a contract, with the one its
 *     release fixed, on a version no release pinned (the ledger's serving
 *     Deployment first), and with the dataset's found at load,
 *     vs bare onnxruntime, the npm package as installed (require, load the model
 *     file, first run); and, for reference, bare from the asset's copy of the
 *     package (its JavaScript bundled into one file, as the handler loads it);
 *   - what any request format costs at least in a Lambda event (a binary body's
 *     base64 decode, the scores' JSON), against the bare run;
 *   - the asset's size, for arm64 (what deploys) and this machine's architecture.
 *
 * The model is a 16-feature logistic regression (MatMul, Add, Sigmoid); the hot
 * path is measured again on heavier models with the same features, MLPs
 * 16 → 256 → 256 → 1 and 16 → 1024 → 1024 → 1, where the run rather than the
 * request is the cost.
 *
 *   npm run bench:endpoint
 *   BENCH_COLD_RUNS=9 BENCH_ITERATIONS=5000 npm run bench:endpoint
 *   BENCH_PROFILE=1 npm run bench:endpoint     # CPU profiles of the children
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { startEmulators } from '../bin/local/emulators';
import { LocalStack } from '../bin/local/local-stack';
import { linearModelOnnx, mlpModelOnnx } from '../bin/local/onnx-builder';
import { hostLambdaArchitecture } from '../bin/local/synth';
import { DataLake, LineageLedger, OnnxEndpoint } from '../lib';
import { parseContract } from '../lambdas/core/contract-file';
import { endpointSubject } from '../lambdas/core/deployment';
import { sha256Hex } from '../lambdas/core/lineage';
import { releasedContractObject } from '../lambdas/shared/contracts';
import { dynamoDocumentClient, s3Client } from '../lambdas/shared/clients';
import { LedgerStore } from '../lambdas/shared/ledger-store';

const OUT = path.join(__dirname, 'out', 'endpoint');
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 3000);
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 7);
const FEATURES = 16;
/**
 * The heavier models' layer widths (features, hidden layers, one score), and how
 * long each is measured (the widest runs ~16× longer a request).
 */
const MLPS: { widths: number[]; env: Record<string, string> }[] = [
  { widths: [FEATURES, 256, 256, 1], env: {} },
  { widths: [FEATURES, 1024, 1024, 1], env: { WARMUP: '20', ITERATIONS: '300', BATCH_ITERATIONS: '60' } },
];
const macs = (widths: readonly number[]): number => widths.slice(1).reduce((sum, units, l) => sum + widths[l]! * units, 0);

function du(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, e) => sum + (e.isDirectory() ? du(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).size), 0);
}

/** Synthesizes a stack with one OnnxEndpoint for `architecture`; returns the handler's asset folder and the stack. */
function build(architecture: 'arm64' | 'x86_64'): { asset: string; outdir: string } {
  const outdir = path.join(OUT, `cdk.out.${architecture}`);
  rmSync(outdir, { recursive: true, force: true });
  const app = new App({ outdir, context: { 'cdk-mlops:lambdaArchitecture': architecture, 'aws:cdk:enable-asset-metadata': true, 'aws:cdk:enable-path-metadata': true } });
  const stack = new Stack(app, 'Bench', { env: { account: '123456789012', region: 'us-east-1' } });
  const dataLake = new DataLake(stack, 'Lake');
  const ledger = new LineageLedger(stack, 'Ledger', { wormBucket: dataLake.artifactsBucket });
  new OnnxEndpoint(stack, 'Endpoint', { dataLake, ledger, endpointName: 'bench', captureSampleRate: 0, checkContract: false });
  const fn = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function')).find((f) => String((f as { Properties: { Description: string } }).Properties.Description).includes('inference')) as { Metadata: Record<string, string> };
  app.synth();
  return { asset: path.join(outdir, fn.Metadata['aws:asset:path']!), outdir };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p99 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.99) - 1)]!;

/** Runs `node -e script` with env; resolves with its wall time (spawn -> exit) and what it wrote to `result`. */
function node(script: string, env: Record<string, string>, result?: string): Promise<{ ms: number; spawnedAt: number; output?: unknown }> {
  const started = performance.now();
  const spawnedAt = performance.timeOrigin + started; // epoch ms, the clock the child's predictedAt is in
  return new Promise((resolve, reject) => {
    // BENCH_PROFILE=1 writes a CPU profile of every child to bench/out/endpoint/profiles/
    const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${path.join(OUT, 'profiles')}`] : [];
    const child = spawn(process.execPath, [...profile, '-e', script], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - started;
      if (code !== 0) return reject(new Error(`benchmark child exited ${code}`));
      resolve({ ms, spawnedAt, ...(result ? { output: JSON.parse(readFileSync(result, 'utf8')) as unknown } : {}) });
    });
  });
}

/** The hot-path child: the bundled handler and both bare baselines, interleaved, on the same bodies. */
const HOT = `
const { InferenceSession, Tensor } = require(process.env.ORT);
const { handler } = require(process.env.BUNDLE);
const fs = require('node:fs');
const F = ${FEATURES};
(async () => {
  const session = await InferenceSession.create(fs.readFileSync(process.env.MODEL), { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  const out = {};
  const ctx = { awsRequestId: 'bench', functionName: 'bench', getRemainingTimeInMillis: () => 30000 };
  for (const batch of [1, 1000]) {
    const rows = Array.from({ length: batch }, (_, i) => Object.fromEntries(Array.from({ length: F }, (_, j) => ['f' + j, ((i * 7 + j * 13) % 97) / 10])));
    const body = JSON.stringify({ rows });
    const event = { version: '2.0', body, isBase64Encoded: false, headers: { 'content-type': 'application/json' }, requestContext: { requestId: 'bench', http: { method: 'POST' } } };
    const x = new Float32Array(batch * F);
    rows.forEach((r, i) => { for (let j = 0; j < F; j++) x[i * F + j] = r['f' + j]; });
    const tensor = new Tensor('float32', x, [batch, F]);
    const bareRun = async () => { await session.run({ features: tensor }); };
    const parseOnly = async () => { JSON.parse(body); };
    // The least any request format costs in a Lambda event (a string): the same rows as raw float32, base64 (how a
    // binary body arrives), decoded and checked finite; and the least answer: the scores as JSON.
    const binaryBody = Buffer.from(x.buffer).toString('base64');
    const scores = new Float32Array(batch).map((_, i) => (i % 100) / 100);
    const decodeBinary = async () => { const b = Buffer.from(binaryBody, 'base64'); const v = new Float32Array(b.buffer, b.byteOffset, batch * F); for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) throw new Error('NaN'); };
    const encodeScores = async () => { JSON.stringify({ predictions: Array.from(scores) }); };
    const bareServing = async () => {
      const req = JSON.parse(body);
      const input = new Float32Array(req.rows.length * F);
      req.rows.forEach((r, i) => { for (let j = 0; j < F; j++) input[i * F + j] = r['f' + j]; });
      const res = await session.run({ features: new Tensor('float32', input, [req.rows.length, F]) });
      return JSON.stringify({ predictions: Array.from(res.score.data) });
    };
    const viaHandler = async () => {
      const r = await handler(event, ctx);
      if (r.statusCode !== 200) throw new Error('handler answered ' + r.statusCode + ': ' + r.body);
    };
    // the same rows as a columnar request: {"columns": {"f0": [...], ...}}
    const columnsBody = JSON.stringify({ columns: Object.fromEntries(Array.from({ length: F }, (_, j) => ['f' + j, rows.map((r) => r['f' + j])])) });
    const columnsEvent = { ...event, body: columnsBody };
    const viaHandlerColumns = async () => {
      const r = await handler(columnsEvent, ctx);
      if (r.statusCode !== 200) throw new Error('handler answered ' + r.statusCode + ': ' + r.body);
    };
    const parseColumnsOnly = async () => { JSON.parse(columnsBody); };
    const n = batch === 1 ? Number(process.env.ITERATIONS) : Number(process.env.BATCH_ITERATIONS || Math.max(200, Math.floor(Number(process.env.ITERATIONS) / 10)));
    const t = { handler: [], handlerColumns: [], bareRun: [], bareServing: [], parseOnly: [], parseColumnsOnly: [], decodeBinary: [], encodeScores: [] };
    for (let w = 0; w < Number(process.env.WARMUP || 200); w++) { await viaHandler(); await bareRun(); await bareServing(); }
    for (let k = 0; k < n; k++) {
      for (const [name, f] of [['handler', viaHandler], ['handlerColumns', viaHandlerColumns], ['bareRun', bareRun], ['bareServing', bareServing], ['parseOnly', parseOnly], ['parseColumnsOnly', parseColumnsOnly], ['decodeBinary', decodeBinary], ['encodeScores', encodeScores]]) {
        const s = process.hrtime.bigint();
        await f();
        t[name].push(Number(process.hrtime.bigint() - s) / 1000);
      }
    }
    out[batch] = t;
  }
  fs.writeFileSync(process.env.RESULT, JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`;

/** Cold start of the bundled handler: require, then the first request (the model loads from S3, hash-checked against the ledger). */
const COLD_HANDLER = `
const phases = { started: 0 };
const { handler } = require(process.env.BUNDLE);
phases.required = performance.now();
const F = ${FEATURES};
const rows = [Object.fromEntries(Array.from({ length: F }, (_, j) => ['f' + j, j / 10]))];
handler({ version: '2.0', body: JSON.stringify({ rows }), headers: { 'content-type': 'application/json' }, requestContext: { requestId: 'cold', http: { method: 'POST' } } }, { awsRequestId: 'cold' })
  .then((r) => {
    if (r.statusCode !== 200) { console.error(r.body); process.exit(1); }
    phases.predicted = performance.now();
    phases.predictedAt = performance.timeOrigin + phases.predicted;
    require('node:fs').writeFileSync(process.env.RESULT, JSON.stringify(phases));
    process.exit(0);
  })
  .catch((e) => { console.error(e); process.exit(1); });
`;

/** Cold start of bare onnxruntime: require, read the model file, create the session, run once. */
const COLD_BARE = `
const phases = { started: 0 };
const { InferenceSession, Tensor } = require(process.env.ORT);
phases.required = performance.now();
const F = ${FEATURES};
InferenceSession.create(require('node:fs').readFileSync(process.env.MODEL), { executionProviders: ['cpu'], graphOptimizationLevel: 'all' })
  .then((s) => s.run({ features: new Tensor('float32', new Float32Array(F).map((_, j) => j / 10), [1, F]) }))
  .then(() => {
    phases.predicted = performance.now();
    phases.predictedAt = performance.timeOrigin + phases.predicted;
    require('node:fs').writeFileSync(process.env.RESULT, JSON.stringify(phases));
    process.exit(0);
  })
  .catch((e) => { console.error(e); process.exit(1); });
`;

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  console.log(`node ${process.version}, ${process.arch}; building the endpoint's bundle (esbuild) for arm64 and ${hostLambdaArchitecture()} ...`);
  const arm = build('arm64');
  const host = hostLambdaArchitecture() === 'arm64' ? arm : build(hostLambdaArchitecture());
  const sizes = [
    ['arm64 (deployed)', du(arm.asset)],
    [`${hostLambdaArchitecture()} (this machine)`, du(host.asset)],
  ] as const;

  // The model, in S3 and in the ledger, as a pipeline records one.
  const weights = Array.from({ length: FEATURES }, (_, j) => ((j % 5) - 2) / 10);
  const onnx = linearModelOnnx({ weights, bias: 0.1, inputName: 'features', outputName: 'score', docString: 'bench' });
  const modelFile = path.join(OUT, 'model.onnx');
  writeFileSync(modelFile, onnx);
  const emulators = await startEmulators();
  try {
    const stack = await LocalStack.start({ outdir: host.outdir, stackName: 'Bench', emulators });
    const fnId = Object.entries(stack.template.Resources).find(([, r]) => r.Type === 'AWS::Lambda::Function' && String(r.Properties?.Description).includes('inference'))![0];
    const variables = stack.templateVariables(fnId);
    const s3 = s3Client(emulators.env);
    const ledger = new LedgerStore({ ddb: dynamoDocumentClient(emulators.env), s3, tableName: variables.LEDGER_TABLE!, wormBucket: variables.LEDGER_WORM_BUCKET! });
    const signature = { input: 'features', output: 'score', features: Array.from({ length: FEATURES }, (_, j) => `f${j}`) };
    // The model's lineage (its training data's dataset has a contract: the cold start with contract checks reads it)
    const dsv = await ledger.append({ kind: 'DatasetVersion', subject: 'dataset/bench', data: { dataset: 'bench', bucket: 'data', key: 'data/bench/rows.csv', versionId: '1', etag: 'e', sha256: 'a'.repeat(64), size: 1, contentType: 'text/csv', format: 'csv', status: 'accepted', source: { eventId: null, eventTime: null } } });
    const run = await ledger.append({ kind: 'TrainingRun', subject: 'pipeline/bench', parents: [dsv.record.id], data: { pipeline: 'bench', executionId: 'bench', datasetVersionIds: [dsv.record.id], image: { uri: 'bench' }, hyperparameters: {}, instanceType: 'ml.m5.large', instanceCount: 1, status: 'succeeded' } });
    const contract = `version: 1\ncolumns:\n${signature.features.map((f) => `  ${f}: { type: float, nullable: false, min: -1000, max: 1000 }`).join('\n')}\n`;
    await s3.send(new PutObjectCommand({ Bucket: variables.ARTIFACTS_BUCKET, Key: 'contracts/bench.yaml', Body: contract }));
    // ... and the contract a release fixes, as the deployer stores it (JSON, pinned as MODEL_CONTRACT_KEY)
    const released = releasedContractObject('bench', { dataset: 'bench', contract: parseContract(contract) });
    await s3.send(new PutObjectCommand({ Bucket: variables.ARTIFACTS_BUCKET, Key: released.key, Body: released.body }));
    /** A model file in S3 and its ModelVersion in the ledger, as a pipeline records one. */
    const recordModel = async (key: string, bytes: Uint8Array) => {
      await s3.send(new PutObjectCommand({ Bucket: variables.ARTIFACTS_BUCKET, Key: key, Body: bytes }));
      return ledger.append({ kind: 'ModelVersion', subject: 'pipeline/bench', parents: [run.record.id], data: { pipeline: 'bench', trainingRunId: run.record.id, artifact: { uri: `s3://${variables.ARTIFACTS_BUCKET}/${key}`, sha256: sha256Hex(bytes) }, format: 'onnx', signature, metrics: { 'score:mean': 0.5 }, approval: { status: 'Approved' } } });
    };
    const model = await recordModel('models/bench/model.onnx', onnx);
    // ... served by endpoint 'bench' through a release that fixed the contract (its Deployment names what an unpinned version reads)
    await ledger.append({ kind: 'Deployment', subject: endpointSubject('bench'), parents: [model.record.id], data: { endpoint: 'bench', modelVersionId: model.record.id, strategy: 'codedeploy:CodeDeployDefault.LambdaAllAtOnce', reason: 'initial', status: 'succeeded', functionVersion: '2', contractKey: released.key, modelArtifact: { uri: model.record.data.artifact.uri } } });
    // Heavier models for the hot path: MLPs with deterministic weights (scaled by 1/√fan-in), same features and signature.
    const mlps = [];
    for (const { widths, env: measure } of MLPS) {
      const bytes = mlpModelOnnx({
        inputs: FEATURES,
        docString: `bench mlp ${widths.join('-')}`,
        layers: widths.slice(1).map((units, l) => ({
          weights: Array.from({ length: widths[l]! * units }, (_, i) => ((((i + 1) * 7919 + l * 104729) % 2003) / 2003 - 0.5) / Math.sqrt(widths[l]!)),
          bias: Array.from({ length: units }, (_, i) => ((i % 7) - 3) / 100),
        })),
      });
      const file = path.join(OUT, `mlp-${widths.join('-')}.onnx`);
      writeFileSync(file, bytes);
      mlps.push({ widths, measure, file, record: (await recordModel(`models/bench/mlp-${widths.join('-')}.onnx`, bytes)).record });
    }
    const env = {
      ...variables,
      ...emulators.env,
      // what the deployer pins on a published version
      MODEL_VERSION_ID: model.record.id,
      MODEL_ARTIFACT_URI: model.record.data.artifact.uri,
      AWS_LAMBDA_FUNCTION_NAME: 'bench',
      POWERTOOLS_LOG_LEVEL: 'WARN',
      BUNDLE: path.join(host.asset, 'index.js'),
      // bare onnxruntime is the npm package as installed; the handler loads the asset's copy (its JavaScript in one file)
      ORT: require.resolve('onnxruntime-node'),
      MODEL: modelFile,
      ITERATIONS: String(ITERATIONS),
      AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: '1',
    };

    // Spawn to exit, and inside the child (performance.now(): from the process's start) when the require returned and the first prediction came.
    type Phases = { required: number; predicted: number; predictedAt: number; spawnedAt: number };
    const variants = [
      ['bare onnxruntime (require, read the file, create, run)', COLD_BARE, {}],
      ["bare onnxruntime loaded from the asset's copy (the package's JavaScript bundled into one file), for reference", COLD_BARE, { ORT: path.join(host.asset, 'node_modules', 'onnxruntime-node') }],
      ['handler (no contract: the bench function has `checkContract: false`)', COLD_HANDLER, {}],
      ['handler with the contract its release fixed (what a release pins: one JSON read)', COLD_HANDLER, { CONTRACTS_PREFIX: 'contracts/', MODEL_CONTRACT_KEY: released.key }],
      ["handler on a version no release pinned (what `cdk deploy` publishes): the serving Deployment from the ledger, then the model's record, its bytes and the contract its release fixed at once", COLD_HANDLER, { CONTRACTS_PREFIX: 'contracts/', MODEL_VERSION_ID: '', MODEL_ARTIFACT_URI: '' }],
      ['handler with the dataset contract found at load (a release that fixed none: ledger run and data, contracts/bench.yaml, YAML parser)', COLD_HANDLER, { CONTRACTS_PREFIX: 'contracts/' }],
    ] as const;
    const cold = variants.map(() => ({ ms: [] as number[], phases: [] as Phases[] }));
    const phasesFile = path.join(OUT, 'cold.json');
    for (let i = 0; i < COLD_RUNS; i++) {
      for (const [v, [, script, extra]] of variants.entries()) {
        const out = await node(script, { ...env, ...extra, RESULT: phasesFile }, phasesFile);
        cold[v]!.ms.push(out.ms);
        cold[v]!.phases.push({ ...(out.output as Phases), spawnedAt: out.spawnedAt });
      }
    }
    type Hot = Record<string, { handler: number[]; handlerColumns: number[]; bareRun: number[]; bareServing: number[]; parseOnly: number[]; parseColumnsOnly: number[]; decodeBinary: number[]; encodeScores: number[] }>;
    const result = path.join(OUT, 'hot.json');
    const printHot = (title: string, hot: Hot): void => {
      console.log(`\n${title}\n\n| measure | handler | bare InferenceSession.run | bare serving (parse, run, stringify) | JSON.parse of the body alone | handler ÷ bare run | handler − bare run | handler ÷ (parse + run) |`);
      console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
      for (const batch of ['1', '1000']) {
        const t = hot[batch]!;
        const [h, r, b, j] = [median(t.handler), median(t.bareRun), median(t.bareServing), median(t.parseOnly)];
        console.log(`| batch ${batch}, median µs (p99) | ${h.toFixed(0)} (${p99(t.handler).toFixed(0)}) | ${r.toFixed(0)} (${p99(t.bareRun).toFixed(0)}) | ${b.toFixed(0)} (${p99(t.bareServing).toFixed(0)}) | ${j.toFixed(0)} | ${(h / r).toFixed(2)}× (${(h / b).toFixed(2)}× bare serving) | ${(h - r).toFixed(0)} µs | ${(h / (j + r)).toFixed(2)}× |`);
      }
      // the same rows sent as columns: {"columns": {"f0": [...], ...}}
      const t = hot['1000']!;
      const [hc, r, jc] = [median(t.handlerColumns), median(t.bareRun), median(t.parseColumnsOnly)];
      console.log(`| batch 1000 as columns, median µs (p99) | ${hc.toFixed(0)} (${p99(t.handlerColumns).toFixed(0)}) | ${r.toFixed(0)} | | ${jc.toFixed(0)} | ${(hc / r).toFixed(2)}× | ${(hc - r).toFixed(0)} µs | ${(hc / (jc + r)).toFixed(2)}× |`);
    };
    const hot = (await node(HOT, { ...env, RESULT: result }, result)).output as Hot;
    printHot('The logistic regression (16 features):', hot);
    console.log('\n| the least any Lambda request format costs, median µs | batch 1 | batch 1000 |\n|---|---:|---:|');
    const floor = (name: 'decodeBinary' | 'encodeScores' | 'bareRun'): string => ['1', '1000'].map((b) => median(hot[b]![name]).toFixed(0)).join(' | ');
    console.log(`| bare InferenceSession.run (for scale) | ${floor('bareRun')} |`);
    console.log(`| a binary body: base64 float32 rows decoded, checked finite | ${floor('decodeBinary')} |`);
    console.log(`| the answer: JSON.stringify of the scores | ${floor('encodeScores')} |`);
    // The same requests to heavier models: where the run, not the request, is the cost.
    for (const m of mlps) {
      const mlpHot = (await node(HOT, { ...env, ...m.measure, MODEL_VERSION_ID: m.record.id, MODEL_ARTIFACT_URI: m.record.data.artifact.uri, MODEL: m.file, RESULT: result }, result)).output as Hot;
      printHot(`A heavier model, the same requests: an MLP ${m.widths.join(' → ')} (ReLU; ${macs(m.widths).toLocaleString('en-US')} multiply-adds a row):`, mlpHot);
    }
    // Cold start: spawn → exit of a fresh process, and inside it (performance.now(), from the process's start).
    const phase = (xs: Phases[], f: (p: Phases) => number): string => median(xs.map(f)).toFixed(0);
    const toPrediction = (p: Phases): number => p.predictedAt - p.spawnedAt;
    const [bareSpawn, bareInside] = [median(cold[0]!.phases.map(toPrediction)), median(cold[0]!.phases.map((p) => p.predicted))];
    console.log(`\n| cold start, median of ${COLD_RUNS} (ms) | spawn → first prediction | ÷ bare | node start → first prediction | ÷ bare | node start → require returned | require → first prediction | spawn → exit |\n|---|---:|---:|---:|---:|---:|---:|---:|`);
    for (const [v, [label]] of variants.entries()) {
      const { ms, phases } = cold[v]!;
      const [spawnMs, insideMs] = [median(phases.map(toPrediction)), median(phases.map((p) => p.predicted))];
      console.log(`| ${label} | ${spawnMs.toFixed(0)} | ${(spawnMs / bareSpawn).toFixed(2)}× | ${insideMs.toFixed(0)} | ${(insideMs / bareInside).toFixed(2)}× | ${phase(phases, (p) => p.required)} | ${phase(phases, (p) => p.predicted - p.required)} | ${median(ms).toFixed(0)} |`);
    }
    console.log('\n| asset (bundle + onnxruntime-node, pruned) | MB |\n|---|---:|');
    for (const [label, bytes] of sizes) console.log(`| ${label} | ${(bytes / 2 ** 20).toFixed(1)} |`);
  } finally {
    await emulators.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
