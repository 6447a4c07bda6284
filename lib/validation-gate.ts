import { Duration, Names, Size, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { DriftThresholds } from '../lambdas/core/drift';
import type { DataLake } from './data-lake';
import type { LineageLedger } from './lineage-ledger';
import { SecureFunction } from './private/secure-function';

export interface ValidationGateProps {
  /** Where the datasets are (read) and where contracts, profiles and reports live (the artifacts bucket). */
  readonly dataLake: DataLake;
  /** Where DatasetVersions are read and GateReports appended. */
  readonly ledger: LineageLedger;
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
  /**
   * Memory of the gate function (the profile's sketches take ~200 MB whatever the file size).
   * @default Size.gibibytes(2)
   */
  readonly memorySize?: Size;
  /** @default Duration.minutes(15) */
  readonly timeout?: Duration;
  /** @default 'cdk-mlops' */
  readonly metricsNamespace?: string;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

const PROFILES_PREFIX = 'profiles/';
const REPORTS_PREFIX = 'reports/';

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

  constructor(scope: Construct, id: string, props: ValidationGateProps) {
    super(scope, id);
    const contractsPrefix = props.contractsPrefix ?? 'contracts/';
    if (!Token.isUnresolved(contractsPrefix) && !/^([A-Za-z0-9!_.*'()-]+\/)+$/.test(contractsPrefix)) {
      throw new Error(`ValidationGate: 'contractsPrefix' must be one or more path segments ending in '/' (got '${contractsPrefix}').`);
    }
    checkThresholds('driftThresholds', props.driftThresholds);
    for (const [column, t] of Object.entries(props.columnDriftThresholds ?? {})) checkThresholds(`columnDriftThresholds.${column}`, t);
    this.metricsNamespace = props.metricsNamespace ?? 'cdk-mlops';
    this.serviceName = Names.uniqueResourceName(this, { maxLength: 64 });

    const fn = new SecureFunction(this, 'Function', {
      entry: 'validation-gate',
      description: 'cdk-mlops: profiles a dataset version, checks its contract and drift, and records a GateReport',
      memorySize: props.memorySize ?? Size.gibibytes(2),
      timeout: props.timeout ?? Duration.minutes(15),
      logRetention: props.logRetention,
      environment: {
        ARTIFACTS_BUCKET: props.dataLake.artifactsBucket.bucketName,
        CONTRACTS_PREFIX: contractsPrefix,
        PROFILES_PREFIX,
        REPORTS_PREFIX,
        ...(props.driftThresholds ? { DRIFT_THRESHOLDS: JSON.stringify(props.driftThresholds) } : {}),
        ...(props.columnDriftThresholds ? { COLUMN_DRIFT_THRESHOLDS: JSON.stringify(props.columnDriftThresholds) } : {}),
        POWERTOOLS_SERVICE_NAME: this.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: this.metricsNamespace,
      },
    });
    this.function = fn.function;
    props.dataLake.grantReadData(fn.role);
    props.dataLake.grantReadArtifacts(fn.role, `${contractsPrefix}*`);
    props.dataLake.grantReadArtifacts(fn.role, `${PROFILES_PREFIX}*`);
    props.dataLake.grantWriteArtifacts(fn.role, `${PROFILES_PREFIX}*`);
    props.dataLake.grantWriteArtifacts(fn.role, `${REPORTS_PREFIX}*`);
    props.ledger.grantAppend(fn.role);
    props.ledger.bindEnvironment(fn.function);
  }

  /** Datasets that passed. Statistic: Sum; period: 5 minutes. */
  metricPassed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ValidationGatePassed', props);
  }

  /** Datasets that failed (contract, drift or unreadable). Statistic: Sum; period: 5 minutes. */
  metricFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ValidationGateFailed', props);
  }

  private metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace: this.metricsNamespace, metricName, dimensionsMap: { service: this.serviceName }, statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5), ...props });
  }
}

function checkThresholds(prop: string, t: DriftThresholds | undefined): void {
  for (const [k, v] of Object.entries(t ?? {})) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`ValidationGate: '${prop}.${k}' must be a finite number >= 0 (got ${String(v)}).`);
    if ((k === 'jsDistance' || k === 'ks' || k === 'linf' || k === 'chiSquarePValue') && v > 1) throw new Error(`ValidationGate: '${prop}.${k}' must be at most 1 (got ${v}).`);
  }
}
