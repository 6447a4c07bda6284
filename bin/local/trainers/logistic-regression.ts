import { createReadStream, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { FeatureEncoder, type ModelSignature } from '../../../lambdas/core/model-signature';
import { forEachDelimitedRow } from '../../../lambdas/core/profile/readers';
import { linearModelOnnx } from '../onnx-builder';

/*
 * A small, deterministic logistic regression for the local run and the tests:
 * features standardized, full-batch gradient descent, then the scaling folded
 * back into the weights so the ONNX model takes raw column values. It stands in
 * for a training job until the training pipeline registers real models.
 */

export interface TrainedLinearModel {
  readonly signature: ModelSignature;
  /** Weights on the raw feature values (signature order). */
  readonly weights: readonly number[];
  readonly bias: number;
  /** The ONNX bytes (MatMul, Add, Sigmoid). */
  readonly onnx: Uint8Array;
  /** Training accuracy at threshold 0.5. */
  readonly accuracy: number;
  /** Mean score on the training rows: the baseline an endpoint measures prediction shift against. */
  readonly meanScore: number;
}

export interface LogisticRegressionOptions {
  readonly signature: ModelSignature;
  /** 1 for a positive outcome, 0 otherwise. */
  readonly target: (record: Readonly<Record<string, unknown>>) => 0 | 1;
  /** @default 500 */
  readonly iterations?: number;
  /** @default 0.5 */
  readonly learningRate?: number;
  /** L2 penalty on the standardized weights. @default 0.001 */
  readonly l2?: number;
}

export function trainLogisticRegression(rows: readonly Readonly<Record<string, unknown>>[], options: LogisticRegressionOptions): TrainedLinearModel {
  const encoder = new FeatureEncoder(options.signature, 'training data');
  const n = rows.length;
  const k = encoder.width;
  if (n === 0) throw new Error('trainLogisticRegression: no rows');
  const x = new Float32Array(n * k);
  rows.forEach((r, i) => encoder.encode(r, i + 1, x, i));
  const y = rows.map(options.target);
  const mean = new Array<number>(k).fill(0);
  const sd = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) mean[j]! += x[i * k + j]! / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) sd[j]! += (x[i * k + j]! - mean[j]!) ** 2 / n;
  for (let j = 0; j < k; j++) sd[j] = Math.sqrt(sd[j]!) || 1; // a constant feature keeps weight 0
  const z = (i: number, j: number): number => (x[i * k + j]! - mean[j]!) / sd[j]!;

  const w = new Array<number>(k).fill(0);
  let b = 0;
  const rate = options.learningRate ?? 0.5;
  const l2 = options.l2 ?? 0.001;
  for (let it = 0; it < (options.iterations ?? 500); it++) {
    const gw = new Array<number>(k).fill(0);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      let logit = b;
      for (let j = 0; j < k; j++) logit += w[j]! * z(i, j);
      const err = 1 / (1 + Math.exp(-logit)) - y[i]!;
      for (let j = 0; j < k; j++) gw[j]! += (err * z(i, j)) / n;
      gb += err / n;
    }
    for (let j = 0; j < k; j++) w[j]! -= rate * (gw[j]! + l2 * w[j]!);
    b -= rate * gb;
  }
  // back to raw units: w·(x−μ)/σ + b = (w/σ)·x + (b − Σ w μ/σ)
  const weights = w.map((wj, j) => wj / sd[j]!);
  const bias = b - w.reduce((s, wj, j) => s + (wj * mean[j]!) / sd[j]!, 0);
  let correct = 0;
  let scoreSum = 0;
  for (let i = 0; i < n; i++) {
    let logit = bias;
    for (let j = 0; j < k; j++) logit += weights[j]! * x[i * k + j]!;
    if ((logit > 0 ? 1 : 0) === y[i]) correct++;
    scoreSum += 1 / (1 + Math.exp(-logit));
  }
  return {
    signature: options.signature,
    weights,
    bias,
    onnx: linearModelOnnx({ weights, bias, inputName: options.signature.input, outputName: options.signature.output, docString: 'cdk-mlops demo logistic regression' }),
    accuracy: correct / n,
    meanScore: scoreSum / n,
  };
}

/*
 * As a training container: the SageMaker training contract, as the SageMaker
 * training toolkit exposes it to a script. Channels in SM_CHANNEL_<NAME> (CSV
 * files, header first), hyperparameters in SM_HPS (JSON, string values), the
 * model to SM_MODEL_DIR, a failure reason to <SM_OUTPUT_DIR>/failure. Metrics go
 * to stdout as `train:accuracy=0.7281;` for the job's metric definitions.
 *
 * Hyperparameters: label (column), label_threshold (a label above it is
 * positive) or label_values (comma-separated), features (comma-separated;
 * a categorical one as `gender=female:1|male:0`), iterations (500),
 * learning_rate (0.5), l2 (0.001), validation_every (5: every 5th row is held
 * out for validation metrics).
 */

/** Parses `features`: `education,gender=female:1|male:0` → signature features. */
export function parseFeatures(spec: string): ModelSignature['features'] {
  const features = spec.split(',').map((f) => f.trim()).filter((f) => f !== '');
  if (features.length === 0) throw new Error("hyperparameter 'features': expected a comma-separated list of columns");
  return features.map((f) => {
    const eq = f.indexOf('=');
    if (eq < 0) return f;
    const categories: Record<string, number> = {};
    for (const pair of f.slice(eq + 1).split('|')) {
      const colon = pair.lastIndexOf(':');
      const value = Number(pair.slice(colon + 1));
      if (colon <= 0 || !Number.isFinite(value)) throw new Error(`hyperparameter 'features': '${pair}' in '${f}' is not value:number`);
      categories[pair.slice(0, colon)] = value;
    }
    return { column: f.slice(0, eq), categories };
  });
}

export async function trainFromSageMakerEnvironment(env: NodeJS.ProcessEnv = process.env): Promise<{ accuracy: number; validationAccuracy: number }> {
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new Error(`environment ${name} is not set (is this running under the SageMaker training contract?)`);
    return v;
  };
  const hps = JSON.parse(env.SM_HPS ?? '{}') as Record<string, string>;
  const hp = (name: string, fallback?: string): string => {
    const v = hps[name] ?? fallback;
    if (v === undefined) throw new Error(`hyperparameter '${name}' is required`);
    return String(v);
  };
  const label = hp('label');
  const threshold = hps.label_threshold !== undefined ? Number(hps.label_threshold) : undefined;
  const values = hps.label_values !== undefined ? hp('label_values').split(',') : undefined;
  if ((threshold === undefined) === (values === undefined) || (threshold !== undefined && !Number.isFinite(threshold))) throw new Error("hyperparameters: give 'label_threshold' (a number) or 'label_values', exactly one");
  const signature: ModelSignature = { input: 'features', output: 'score', features: parseFeatures(hp('features')) };
  const every = Math.max(2, Math.floor(Number(hp('validation_every', '5'))) || 5);

  const dir = need('SM_CHANNEL_TRAIN');
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort();
  if (files.length === 0) throw new Error(`channel 'train' (${dir}) has no files`);
  const train: Record<string, unknown>[] = [];
  const validation: Record<string, unknown>[] = [];
  let n = 0;
  for (const file of files) {
    let header: string[] = [];
    await forEachDelimitedRow(createReadStream(file), { file: path.relative(dir, file) }, (h) => (header = h), (cells) => {
      const record = Object.fromEntries(header.map((h, i) => [h, cells[i]]));
      (n++ % every === every - 1 ? validation : train).push(record);
    });
  }
  const target = (r: Readonly<Record<string, unknown>>): 0 | 1 => {
    const v = r[label];
    if (v === undefined || v === '') throw new Error(`label '${label}' is missing in a row`);
    return (threshold !== undefined ? Number(v) > threshold : values!.includes(typeof v === 'string' ? v : JSON.stringify(v))) ? 1 : 0;
  };
  const model = trainLogisticRegression(train, {
    signature,
    target,
    iterations: Number(hp('iterations', '500')),
    learningRate: Number(hp('learning_rate', '0.5')),
    l2: Number(hp('l2', '0.001')),
  });
  const encoder = new FeatureEncoder(signature, 'validation');
  const x = new Float32Array(encoder.width);
  let correct = 0;
  validation.forEach((r, i) => {
    encoder.encode(r, i + 1, x, 0);
    const logit = model.weights.reduce((s, w, j) => s + w * x[j]!, model.bias);
    if ((logit > 0 ? 1 : 0) === target(r)) correct++;
  });
  const validationAccuracy = validation.length > 0 ? correct / validation.length : Number.NaN;
  const modelDir = need('SM_MODEL_DIR');
  mkdirSync(modelDir, { recursive: true });
  writeFileSync(path.join(modelDir, 'model.onnx'), model.onnx);
  writeFileSync(path.join(modelDir, 'signature.json'), JSON.stringify(signature, null, 2));
  writeFileSync(path.join(modelDir, 'metrics.json'), JSON.stringify({ 'train:accuracy': model.accuracy, 'score:mean': model.meanScore, 'validation:accuracy': validationAccuracy, 'train:rows': train.length, 'validation:rows': validation.length }, null, 2));
  console.log(`train:accuracy=${model.accuracy.toFixed(6)};`);
  console.log(`validation:accuracy=${validationAccuracy.toFixed(6)};`);
  return { accuracy: model.accuracy, validationAccuracy };
}

if (require.main === module) {
  trainFromSageMakerEnvironment().catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    console.error(`training failed: ${message}`);
    const out = process.env.SM_OUTPUT_DIR;
    // SageMaker reads the failure reason from /opt/ml/output/failure
    if (out) writeFileSync(path.join(out, 'failure'), message);
    process.exitCode = 1;
  });
}
