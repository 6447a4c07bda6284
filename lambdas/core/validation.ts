import { checkContract, type DatasetContract, type Violation } from './constraints';
import { compareProfiles, type DriftReport, type DriftThresholds } from './drift';
import type { DatasetProfile, DatasetSummary } from './profile/dataset-profile';

/*
 * The validation gate's decision, from a profile alone: the dataset passes when
 * it keeps its contract and (when a baseline is given) no column drifted past its
 * thresholds. Every failure is a sentence naming the column, the rule, the
 * observed value and the limit.
 */

export interface ValidationConfig {
  /** The dataset's contract. @default - none: only drift is checked */
  readonly contract?: DatasetContract;
  /** The profile to compare with (e.g. the training data of the serving model). @default - none: no drift check */
  readonly baseline?: DatasetProfile;
  readonly driftThresholds?: DriftThresholds;
  readonly columnDriftThresholds?: Readonly<Record<string, DriftThresholds>>;
}

export interface ValidationOutcome {
  readonly passed: boolean;
  /** One line per failed check; empty when passed. */
  readonly reasons: readonly string[];
  /** Headline numbers for the ledger and dashboards. */
  readonly metrics: Readonly<Record<string, number | null>>;
  readonly thresholds: Readonly<Record<string, number>>;
  readonly violations: readonly Violation[];
  readonly drift: DriftReport | null;
  readonly summary: DatasetSummary;
}

export function evaluateValidation(profile: DatasetProfile, config: ValidationConfig): ValidationOutcome {
  const summary = profile.summary();
  const violations = config.contract ? checkContract(config.contract, profile) : [];
  const drift = config.baseline ? compareProfiles(config.baseline, profile, { thresholds: config.driftThresholds, columnThresholds: config.columnDriftThresholds }) : null;
  // a dataset with no records fails whatever else is configured (a header-only CSV, blank JSON Lines)
  const empty = summary.rows === 0 ? [`no data rows: the file has ${profile.format === 'csv' || profile.format === 'tsv' ? 'a header and no records' : 'no records'}`] : [];
  const reasons = [...empty, ...violations.map((v) => v.message), ...(drift?.columns.flatMap((c) => (c.drifted ? c.reasons : [])) ?? [])];
  const metrics: Record<string, number | null> = {
    rows: summary.rows,
    columns: Object.keys(summary.columns).length,
    contractViolations: config.contract ? violations.length : null,
    driftedColumns: drift ? drift.columns.filter((c) => c.drifted).length : null,
  };
  for (const c of drift?.columns ?? []) for (const [k, v] of Object.entries(c.metrics)) metrics[`${k}.${c.column}`] = v;
  const thresholds: Record<string, number> = {};
  for (const [k, v] of Object.entries(config.driftThresholds ?? {})) if (typeof v === 'number') thresholds[`drift.${k}`] = v;
  if (config.contract) thresholds.contractViolations = 0;
  return { passed: reasons.length === 0, reasons, metrics, thresholds, violations, drift, summary };
}
