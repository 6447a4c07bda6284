import { createHash } from 'node:crypto';
import { CdkMlopsError } from './errors';

/*
 * Decisions of the training pipeline that need no AWS: names, the
 * champion/challenger rule, and the shape of the steps' inputs.
 */

/** A pipeline step's input that cannot be used: the message names the field. */
export class InvalidPipelineInputError extends CdkMlopsError {}

/**
 * A SageMaker training job name (1–63 of [a-zA-Z0-9-]) unique per execution:
 * the pipeline's name and a hash of the execution's. A retried state reuses it
 * (SageMaker refuses a second job of the same name); a new execution gets a new one.
 */
export function trainingJobName(pipeline: string, executionName: string): string {
  const base = pipeline.replace(/[^a-zA-Z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 46) || 'pipeline';
  return `${base}-${createHash('sha256').update(executionName).digest('hex').slice(0, 16)}`;
}

/** An execution name derived from a dataset version: duplicate events start one execution (names are unique for 90 days). */
export function executionNameFor(datasetVersionId: string, attempt?: string): string {
  const name = attempt ? `${datasetVersionId}-${attempt}` : datasetVersionId;
  return name.replace(/[^a-zA-Z0-9_-]/g, '-').slice(0, 80);
}

export interface ChampionDecision {
  readonly promote: boolean;
  readonly reason: string;
  readonly challenger: number;
  readonly champion: number | null;
}

/**
 * Champion/challenger: the candidate is promoted when there is no champion, or
 * when its metric (higher is better) beats the champion's by at least
 * `minImprovement` on the same holdout.
 */
export function decideChampion(metric: string, challenger: number, champion: number | null, minImprovement: number): ChampionDecision {
  if (!Number.isFinite(challenger)) return { promote: false, reason: `the candidate's ${metric} is ${challenger}`, challenger, champion };
  if (champion === null) return { promote: true, reason: `no model serves yet; the candidate's ${metric} is ${challenger.toFixed(4)}`, challenger, champion };
  const gain = challenger - champion;
  return gain >= minImprovement
    ? { promote: true, reason: `${metric} ${challenger.toFixed(4)} beats the champion's ${champion.toFixed(4)} by ${gain.toFixed(4)} (at least ${minImprovement} needed)`, challenger, champion }
    : { promote: false, reason: `${metric} ${challenger.toFixed(4)} does not beat the champion's ${champion.toFixed(4)} by ${minImprovement} (gain ${gain.toFixed(4)})`, challenger, champion };
}

/**
 * The key a row is split by: its values as canonical JSON (keys sorted, so a
 * reordered column keeps the key; bigint as decimal text).
 */
export function rowKey(record: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(
    Object.keys(record)
      .sort()
      .map((k) => [k, record[k]]),
    (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
  );
}

/** 32-bit FNV-1a over UTF-16 code units (rows are split by it: fast, well spread, stable). */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Is this row in the holdout? A hash of the pipeline's name and the row's
 * content, so the split needs no state: a row keeps its side in every version
 * of the data, duplicates land together, and a champion trained on an earlier
 * version never saw the rows the challenger is judged on.
 * `percent` is the holdout's share, 0 < percent < 100.
 */
export function inHoldout(record: Readonly<Record<string, unknown>>, percent: number, salt: string): boolean {
  return fnv1a(`${salt}\u0000${rowKey(record)}`) % 10_000 < Math.round(percent * 100);
}

/** Checks a holdout share (a prop or a config value): a number above 0 and at most 50. */
export function checkHoldoutPercent(percent: number, field = 'holdoutPercent'): number {
  if (!Number.isFinite(percent) || percent <= 0 || percent > 50) throw new InvalidPipelineInputError(`${field}: must be a percentage above 0 and at most 50 (got ${percent})`);
  return percent;
}

/**
 * What a TrainingRun records of its image: the URI the job ran, and the digest
 * when the URI names one (`<repository>@sha256:<64 hex>`, as a pinned image is
 * trained). A tag alone records no digest: the tag may since have moved.
 */
export function trainingImageRecord(uri: string): { readonly uri: string; readonly digest?: string } {
  const digest = imageDigest(uri);
  return digest ? { uri, digest } : { uri };
}

/** The digest an image URI names (`<repository>@sha256:<64 hex>`), or undefined for a tag. */
export function imageDigest(uri: string): string | undefined {
  return /@(sha256:[0-9a-f]{64})$/.exec(uri)?.[1];
}
