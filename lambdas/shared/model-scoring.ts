import { FeatureEncoder, type ModelSignature } from '../core/model-signature';
import type { ObjectReader } from '../ingest/ingest';
import { forEachDatasetRecord, type DatasetFile } from './dataset-reader';

/*
 * Scoring a dataset version with a model in one pass, batch by batch (the bias
 * gate's post-training metrics, the pipeline's champion/challenger accuracy).
 * Readers call back synchronously, so batches are chained promises: at most one
 * read chunk's batches wait, and the first model error stops the pass.
 */

/** Something that scores feature rows (an OnnxModel). */
export interface ModelScorer {
  score(features: Float32Array, rows: number, width: number): Promise<Float64Array>;
  release(): Promise<void>;
}

export interface ScoringOptions {
  readonly batchSize: number;
  /** Rows to leave out (e.g. without a label); they are not encoded. @default - every row */
  readonly include?: (record: Readonly<Record<string, unknown>>) => boolean;
}

/**
 * Calls `onScored` with every (included) record and the model's score for it.
 * A feature the model cannot take is a DatasetParseError naming the row and column.
 */
export async function scoreDatasetVersion(
  dsv: DatasetFile,
  objects: ObjectReader,
  scorer: ModelScorer,
  signature: ModelSignature,
  options: ScoringOptions,
  onScored: (record: Readonly<Record<string, unknown>>, score: number) => void,
): Promise<void> {
  const encoder = new FeatureEncoder(signature, `s3://${dsv.data.bucket}/${dsv.data.key}`);
  const { batchSize } = options;
  let features = new Float32Array(batchSize * encoder.width);
  let batch: Record<string, unknown>[] = [];
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;

  const flush = (): void => {
    const rows = batch;
    const input = features;
    batch = [];
    features = new Float32Array(batchSize * encoder.width);
    chain = chain
      .then(async () => {
        if (failure !== undefined) return;
        const scores = await scorer.score(input, rows.length, encoder.width);
        rows.forEach((r, i) => onScored(r, scores[i]!));
      })
      .catch((err: unknown) => {
        failure ??= err;
      });
  };

  await forEachDatasetRecord(dsv, objects, (record, row) => {
    if (failure !== undefined) throw failure as Error;
    if (options.include && !options.include(record)) return;
    encoder.encode(record, row, features, batch.length);
    batch.push(record);
    if (batch.length === batchSize) flush();
  });
  if (batch.length > 0) flush();
  await chain;
  if (failure !== undefined) throw failure as Error;
}
