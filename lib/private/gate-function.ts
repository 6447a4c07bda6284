import { Duration, Names, Size } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { DataLake } from '../data-lake';
import type { LineageLedger } from '../lineage-ledger';
import { serviceMetric } from './metrics';
import { unreservedConcurrency } from './nag';
import { SecureFunction } from './secure-function';

/** Where gates write their reports in the artifacts bucket. */
export const REPORTS_PREFIX = 'reports/';

/** What every gate construct has in common (their public props extend this). */
export interface GateCommonProps {
  /** Datasets are read from it; reports (and profiles) go to its artifacts bucket. */
  readonly dataLake: DataLake;
  /** DatasetVersions are read from it and GateReports appended. */
  readonly ledger: LineageLedger;
  /** @default Size.gibibytes(2) */
  readonly memorySize?: Size;
  /** @default Duration.minutes(15) */
  readonly timeout?: Duration;
  /** @default 'cdk-mlops' */
  readonly metricsNamespace?: string;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

/** A gate's Lambda, its role, and its metrics. */
export interface GateFunction {
  readonly function: lambda.IFunction;
  readonly role: iam.IRole;
  readonly metricsNamespace: string;
  readonly serviceName: string;
  /** A count the gate emits. Statistic: Sum; period: 5 minutes. */
  metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/**
 * Creates a gate's Lambda (as `<gate>/Function`): it reads the data lake,
 * writes reports, appends to the ledger, and emits counts under its own
 * `service` dimension.
 */
export function createGateFunction(gate: Construct, props: GateCommonProps & { entry: string; description: string; environment: Record<string, string>; onnxRuntime?: boolean }): GateFunction {
  const metricsNamespace = props.metricsNamespace ?? 'cdk-mlops';
  const serviceName = Names.uniqueResourceName(gate, { maxLength: 64 });
  const fn = new SecureFunction(gate, 'Function', {
    logsEncryptionKey: props.dataLake.encryptionKey,
    entry: props.entry,
    description: props.description,
    memorySize: props.memorySize ?? Size.gibibytes(2),
    timeout: props.timeout ?? Duration.minutes(15),
    logRetention: props.logRetention,
    onnxRuntime: props.onnxRuntime,
    // Parquet row groups are decoded in a worker thread, which loads hyparquet from a file of its own
    separateModules: ['hyparquet'],
    synchronousCaller: "the Lambda tasks of the Step Functions workflows granted to invoke it (DatasetValidation's, TrainingPipeline's)",
    unreservedConcurrency: unreservedConcurrency('Invoked once per running task of the workflows that use it, so it runs at most as many copies as they have executions in that step'),
    environment: {
      ARTIFACTS_BUCKET: props.dataLake.artifactsBucket.bucketName,
      REPORTS_PREFIX,
      POWERTOOLS_SERVICE_NAME: serviceName,
      POWERTOOLS_METRICS_NAMESPACE: metricsNamespace,
      ...props.environment,
    },
  });
  props.dataLake.grantReadData(fn.role);
  props.dataLake.grantWriteArtifacts(fn.role, `${REPORTS_PREFIX}*`);
  props.ledger.grantAppend(fn.role);
  props.ledger.bindEnvironment(fn.function);
  return {
    function: fn.function,
    role: fn.role,
    metricsNamespace,
    serviceName,
    metric: (metricName, metricProps) => serviceMetric(metricsNamespace, serviceName, metricName, metricProps),
  };
}
