import { endpointSubject, servingDeployment } from '../core/deployment';
import type { LedgerRecord } from '../core/lineage';

/*
 * "What serves now and why", from the ledger alone: the endpoint's serving
 * release, its model, everything the model derives from (training run,
 * dataset versions), the gates that judged the model and its data, and the
 * endpoint's whole history of releases and incidents. Shared by the CLI
 * (`cdk-mlops endpoint serving`) and the local run's report.
 */

export interface LineageReader {
  get(id: string): Promise<LedgerRecord | undefined>;
  history(subject: string): Promise<LedgerRecord[]>;
  ancestors(id: string): Promise<LedgerRecord[]>;
  derivedFrom(id: string): Promise<LedgerRecord[]>;
}

export interface ServingLineage {
  readonly endpoint: string;
  readonly serving: LedgerRecord<'Deployment'>;
  readonly model?: LedgerRecord<'ModelVersion'>;
  /** What the model was made from: its training run, dataset versions, a model it was compiled from (not the incidents that caused it). */
  readonly ancestors: readonly LedgerRecord[];
  /** Everything the serving release derives from: the model's lineage and the releases, incidents and earlier models that led to it. */
  readonly why: readonly LedgerRecord[];
  readonly gates: readonly LedgerRecord<'GateReport'>[];
  /** The endpoint's chain: every release, rollback and incident. */
  readonly releases: readonly LedgerRecord[];
}

/** The lineage of what serves on `endpoint`; undefined (with the chain) when nothing does. */
export async function servingLineage(ledger: LineageReader, endpoint: string): Promise<{ lineage?: ServingLineage; history: LedgerRecord[] }> {
  const history = await ledger.history(endpointSubject(endpoint));
  const serving = servingDeployment(history);
  if (!serving) return { history };
  const model = (await ledger.get(serving.data.modelVersionId)) as LedgerRecord<'ModelVersion'> | undefined;
  const ancestors = await trainingLineage(ledger, serving.data.modelVersionId);
  // the gates of the model (and of a model it was compiled from), and of its training data alone (validation, pre-training bias)
  const within = new Set([serving.data.modelVersionId, ...ancestors.map((r) => r.id)]);
  const sources = [serving.data.modelVersionId, ...ancestors.filter((r) => r.kind === 'ModelVersion' || r.kind === 'DatasetVersion').map((r) => r.id)];
  const gates = (await Promise.all(sources.map((id) => ledger.derivedFrom(id))))
    .flat()
    // a gate on the model itself (an evaluation also names the champion it beat), or on its lineage alone
    .filter((r): r is LedgerRecord<'GateReport'> => r.kind === 'GateReport' && (r.parents.includes(serving.data.modelVersionId) || r.parents.every((p) => within.has(p))));
  const why = await ledger.ancestors(serving.id);
  return { history, lineage: { endpoint, serving, ...(model ? { model } : {}), ancestors, why, gates: [...new Map(gates.map((g) => [g.id, g])).values()], releases: history } };
}

/**
 * A model's training lineage: its ancestors, without going through an
 * Incident (a drift Incident is why a run started, not what it was made from:
 * through it lie the previous model and its data).
 */
async function trainingLineage(ledger: LineageReader, id: string): Promise<LedgerRecord[]> {
  const seen = new Map<string, LedgerRecord>();
  const queue = [...((await ledger.get(id))?.parents ?? [])];
  while (queue.length > 0) {
    const next = queue.shift()!;
    if (seen.has(next)) continue;
    const r = await ledger.get(next);
    if (!r || r.kind === 'Incident') continue;
    seen.set(next, r);
    queue.push(...r.parents);
  }
  return [...seen.values()];
}

/** The DatasetVersion a training run trained on (its first), or undefined when the ledger has no such run or version. */
export async function trainingDataOf(ledger: Pick<LineageReader, 'get'>, trainingRunId: string): Promise<LedgerRecord<'DatasetVersion'> | undefined> {
  const run = await ledger.get(trainingRunId);
  const id = run?.kind === 'TrainingRun' ? (run as LedgerRecord<'TrainingRun'>).data.datasetVersionIds[0] : undefined;
  const dsv = id ? await ledger.get(id) : undefined;
  return dsv?.kind === 'DatasetVersion' ? (dsv as LedgerRecord<'DatasetVersion'>) : undefined;
}

/**
 * The model a serving model's inputs and scores are read from: itself, or, for a
 * Neo-compiled model (format `neo:<device>`, which records no signature of its
 * own), the ModelVersion it was compiled from (its parent): the same inputs, the
 * same training run.
 */
export async function sourceModel(ledger: Pick<LineageReader, 'get'>, model: LedgerRecord<'ModelVersion'>): Promise<LedgerRecord<'ModelVersion'>> {
  if (model.data.signature || !model.data.format.startsWith('neo:')) return model;
  for (const id of model.parents) {
    const parent = await ledger.get(id);
    if (parent?.kind === 'ModelVersion') return parent as LedgerRecord<'ModelVersion'>;
  }
  return model;
}
