import { Size, Token } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { DriftThresholds } from '../lambdas/core/drift';
import { PROFILES_PREFIX } from './private/defaults';
import { createGateFunction, type GateCommonProps, type GateFunction } from './private/gate-function';

export interface ValidationGateProps extends GateCommonProps {
  /**
   * Drift thresholds for every column.
   * @default - PSI 0.2, Jensen–Shannon distance 0.1, KS 0.1, L∞ 0.1; no chi-square p-value test
   */
  readonly driftThresholds?: DriftThresholds;
  /**
   * Per-column overrides of `driftThresholds`.
   * @default - none
   */
  readonly columnDriftThresholds?: Readonly<Record<string, DriftThresholds>>;
  /**
   * Prefix of dataset contracts in the artifacts bucket: `<prefix><dataset>.yaml` (or `.json`).
   * @default 'contracts/'
   */
  readonly contractsPrefix?: string;
}

/**
 * The validation gate: a Lambda that profiles a DatasetVersion in one streaming
 * pass, checks it against the dataset's contract and, when asked, a baseline
 * profile (drift), stores the profile and a report in the artifacts bucket,
 * appends a GateReport to the ledger, and returns `{ passed, reason, ... }` for a
 * state machine to branch on.
 */
export class ValidationGate extends Construct {
  readonly function: lambda.IFunction;
  readonly metricsNamespace: string;
  readonly serviceName: string;
  private readonly gate: GateFunction;

  constructor(scope: Construct, id: string, props: ValidationGateProps) {
    super(scope, id);
    const contractsPrefix = props.contractsPrefix ?? 'contracts/';
    if (!Token.isUnresolved(contractsPrefix) && !/^([A-Za-z0-9!_.*'()-]+\/)+$/.test(contractsPrefix)) {
      throw new Error(`ValidationGate: 'contractsPrefix' must be one or more path segments ending in '/' (got '${contractsPrefix}').`);
    }
    checkThresholds('driftThresholds', props.driftThresholds);
    for (const [column, t] of Object.entries(props.columnDriftThresholds ?? {})) checkThresholds(`columnDriftThresholds.${column}`, t);
    const gate = createGateFunction(this, {
      ...props,
      entry: 'validation-gate',
      description: 'cdk-mlops: profiles a dataset version, checks its contract and drift, and records a GateReport',
      environment: {
        CONTRACTS_PREFIX: contractsPrefix,
        PROFILES_PREFIX,
        // Lambda gives one vCPU per 1,769 MB: big text files are profiled on as many threads
        PROFILE_WORKERS: String(Math.max(1, Math.floor((props.memorySize ?? Size.gibibytes(2)).toMebibytes() / 1769))),
        ...(props.driftThresholds ? { DRIFT_THRESHOLDS: JSON.stringify(props.driftThresholds) } : {}),
        ...(props.columnDriftThresholds ? { COLUMN_DRIFT_THRESHOLDS: JSON.stringify(props.columnDriftThresholds) } : {}),
      },
    });
    this.gate = gate;
    this.function = gate.function;
    this.metricsNamespace = gate.metricsNamespace;
    this.serviceName = gate.serviceName;
    props.dataLake.grantReadArtifacts(gate.role, `${contractsPrefix}*`);
    props.dataLake.grantReadArtifacts(gate.role, `${PROFILES_PREFIX}*`);
    props.dataLake.grantWriteArtifacts(gate.role, `${PROFILES_PREFIX}*`);
  }

  /** Datasets that passed. Statistic: Sum; period: 5 minutes. */
  metricPassed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ValidationGatePassed', props);
  }

  /** Datasets that failed (contract, drift or unreadable). Statistic: Sum; period: 5 minutes. */
  metricFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ValidationGateFailed', props);
  }

  /** Checks that failed per run (contract violations, drifted columns). Statistic: Sum; period: 5 minutes. */
  metricChecksFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ValidationChecksFailed', props);
  }

  private metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.gate.metric(metricName, props);
  }
}

function checkThresholds(prop: string, t: DriftThresholds | undefined): void {
  for (const [k, v] of Object.entries(t ?? {})) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`ValidationGate: '${prop}.${k}' must be a finite number >= 0 (got ${String(v)}).`);
    if ((k === 'jsDistance' || k === 'ks' || k === 'linf' || k === 'chiSquarePValue') && v > 1) throw new Error(`ValidationGate: '${prop}.${k}' must be at most 1 (got ${v}).`);
  }
}
