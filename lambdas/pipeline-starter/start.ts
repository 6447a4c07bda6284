import { executionNameFor } from '../core/pipeline';
import { parseObjectCreated } from '../ingest/event';
import { datasetOf, datasetVersionId } from '../ingest/ingest';

/*
 * Event-driven retraining: an upload under one of the pipeline's datasets starts
 * one execution named after the DatasetVersion the upload becomes (the same
 * deterministic id the ingest Lambda records), so a duplicate event finds the
 * name taken and starts nothing. The pipeline's first state waits for ingest to
 * have recorded that version.
 */

export interface StarterSettings {
  readonly stateMachineArn: string;
  readonly dataPrefix: string;
  /** Datasets (folders under the data prefix) whose uploads retrain; empty: every dataset. */
  readonly datasets: readonly string[];
}

export interface Starter {
  /** Starts an execution; 'exists' when an execution of that name already exists. */
  start(input: { stateMachineArn: string; name: string; input: string }): Promise<'started' | 'exists'>;
}

export interface StartOutcome {
  readonly started: boolean;
  readonly duplicate: boolean;
  readonly datasetVersionId?: string;
  readonly executionName?: string;
  readonly reason?: string;
}

export async function startForUpload(event: unknown, starter: Starter, settings: StarterSettings): Promise<StartOutcome> {
  const ref = parseObjectCreated(event);
  const placed = datasetOf(ref.key, settings.dataPrefix);
  if ('reason' in placed) return { started: false, duplicate: false, reason: placed.reason };
  if (settings.datasets.length > 0 && !settings.datasets.includes(placed.dataset)) return { started: false, duplicate: false, reason: `dataset '${placed.dataset}' does not retrain this pipeline` };
  const id = datasetVersionId(ref);
  const name = executionNameFor(id);
  const result = await starter.start({ stateMachineArn: settings.stateMachineArn, name, input: JSON.stringify({ datasetVersionId: id }) });
  return { started: result === 'started', duplicate: result === 'exists', datasetVersionId: id, executionName: name };
}
