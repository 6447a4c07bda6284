import { FeatureEncoder, type ModelSignature } from '../../lambdas/core/model-signature';
import { linearModelOnnx } from './onnx-builder';

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
  for (let i = 0; i < n; i++) {
    let logit = bias;
    for (let j = 0; j < k; j++) logit += weights[j]! * x[i * k + j]!;
    if ((logit > 0 ? 1 : 0) === y[i]) correct++;
  }
  return {
    signature: options.signature,
    weights,
    bias,
    onnx: linearModelOnnx({ weights, bias, inputName: options.signature.input, outputName: options.signature.output, docString: 'cdk-mlops demo logistic regression' }),
    accuracy: correct / n,
  };
}
