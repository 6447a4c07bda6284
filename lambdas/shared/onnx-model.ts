import type * as Ort from 'onnxruntime-node';
import type { InferenceSession } from 'onnxruntime-node';
import { ModelError } from '../core/errors';
import { InvalidModelSignatureError, scoresFromOutput, type ModelSignature } from '../core/model-signature';

/*
 * An ONNX model loaded in onnxruntime-node (CPU), scoring batches of rows laid
 * out by FeatureEncoder. Loading checks the signature against the graph, so a
 * mismatched ModelVersion fails before any data is read.
 */

type OnnxRuntime = typeof Ort;
let runtime: Promise<OnnxRuntime> | undefined;

/**
 * onnxruntime-node, loaded once with its native environment initialized: on
 * the first model load, or earlier when a cold start asks for it while its
 * network reads are in flight. Loading the library and creating the
 * environment (thread pools, allocators) take tens of milliseconds; the first
 * session would pay them, overlapped with the reads they are hidden.
 */
export function onnxRuntime(): Promise<OnnxRuntime> {
  return (runtime ??= (async () => {
    const ort = (await import('onnxruntime-node')) as OnnxRuntime & { initOrt?: unknown };
    // The package creates its environment on the first session (dist/binding.js `initOrt`, idempotent). Not public
    // API: the version is pinned and tested, and a package without it only loses the head start. A Lambda asset's
    // copy of the package exports it (onnxruntime-package.ts); installed, it is in dist/binding.js.
    const initOrt = 'initOrt' in ort ? ort.initOrt : ((await import('onnxruntime-node/dist/binding.js').catch(() => ({}))) as { initOrt?: unknown }).initOrt;
    // Loading the library and creating the environment each hold the thread for tens of milliseconds: between the
    // two, answers that came in meanwhile are read and the next requests sent (a version no release pinned reads
    // the ledger step by step).
    await new Promise((resolve) => setImmediate(resolve));
    if (typeof initOrt === 'function') (initOrt as () => void)();
    return ort;
  })());
}

export class OnnxModel {
  private constructor(
    private readonly ort: OnnxRuntime,
    private readonly session: InferenceSession,
    readonly signature: ModelSignature,
  ) {}

  /** Loads a model from its bytes; the signature's input and output must exist in the graph. */
  static async load(bytes: Uint8Array, signature: ModelSignature): Promise<OnnxModel> {
    const ort = await onnxRuntime();
    let session: InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
    } catch (err) {
      throw new ModelError(`onnxruntime cannot load the model: ${(err as Error).message}`, { cause: err });
    }
    const missing = [
      session.inputNames.includes(signature.input) ? undefined : `input '${signature.input}' (the graph has ${session.inputNames.join(', ')})`,
      session.outputNames.includes(signature.output) ? undefined : `output '${signature.output}' (the graph has ${session.outputNames.join(', ')})`,
    ].filter((x) => x !== undefined);
    const problem = missing.length > 0 ? `no ${missing.join(' and no ')}` : inputProblem(session, signature);
    if (problem) {
      await session.release();
      throw new InvalidModelSignatureError(`the model does not match its signature: ${problem}`);
    }
    return new OnnxModel(ort, session, signature);
  }

  /** Positive-class scores for `rows` rows of `features` (row-major, `width` per row). */
  async score(features: Float32Array, rows: number, width: number): Promise<Float64Array> {
    const input = new this.ort.Tensor('float32', features.subarray(0, rows * width), [rows, width]);
    let result: InferenceSession.ReturnType;
    try {
      result = await this.session.run({ [this.signature.input]: input }, [this.signature.output]);
    } catch (err) {
      throw new ModelError(`onnxruntime cannot score a batch of ${rows} rows × ${width} features: ${(err as Error).message}`, { cause: err });
    }
    const output = result[this.signature.output]!;
    if (output.type !== 'float32' && output.type !== 'float64') throw new ModelError(`model output '${this.signature.output}' is ${output.type}; expected float scores (export classifiers without ZipMap)`);
    return scoresFromOutput(output.data as Float32Array | Float64Array, output.dims, rows, this.signature.outputIndex);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** The input must be a float tensor [batch, features]; a fixed feature width must match the signature. */
function inputProblem(session: InferenceSession, signature: ModelSignature): string | undefined {
  const meta = session.inputMetadata.find((m) => m.name === signature.input);
  if (!meta?.isTensor) return meta ? `input '${signature.input}' is not a tensor` : undefined;
  if (meta.type !== 'float32') return `input '${signature.input}' takes ${meta.type}; the kit feeds float32`;
  const width = meta.shape.length === 2 ? meta.shape[1] : undefined;
  if (meta.shape.length !== 0 && meta.shape.length !== 2) return `input '${signature.input}' has ${meta.shape.length} dimensions; expected [batch, features]`;
  if (typeof width === 'number' && width !== signature.features.length) return `input '${signature.input}' takes ${width} features; the signature lists ${signature.features.length}`;
  return undefined;
}
