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
