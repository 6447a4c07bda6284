import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { ArtifactStore } from '../shared/artifact-store';
import { s3Client } from '../shared/clients';
import { requireEnv, wholeNumberEnv } from '../shared/env';
import { emfLine } from '../shared/emf';
import { LedgerStore } from '../shared/ledger-store';
import { S3ObjectReader } from '../shared/s3-objects';
import { monitorDrift, type MonitorDeps, type MonitorResult, type MonitorSettings } from './monitor';

/*
 * DriftMonitor Lambda, run on a schedule (any event): the endpoint's captured
 * traffic of the last window against its serving model's training data.
 * Metrics (EMF, namespace METRICS_NAMESPACE):
 *   dimensions pipeline, endpoint, feature: FeaturePSI, FeatureJSDistance;
 *   dimensions pipeline, endpoint: PredictionDrift, DriftedFeatures, CapturedRows.
 * With too few rows only CapturedRows is published (the alarms treat the
 * missing drift values as not breaching).
 * Environment: ENDPOINT_NAME, PIPELINE_NAME, ARTIFACTS_BUCKET, CAPTURE_PREFIX,
 * CAPTURE_FORMAT ('cdk-mlops', the default, or 'sagemaker'), PROFILES_PREFIX, REPORTS_PREFIX, WINDOW_MINUTES, MIN_ROWS, MAX_ROWS,
 * THRESHOLDS (JSON), METRICS_NAMESPACE, LEDGER_*.
 */

const logger = new Logger();
function captureFormat(value: string | undefined): MonitorSettings['captureFormat'] {
  if (value === undefined || value === '' || value === 'cdk-mlops') return 'cdk-mlops';
  if (value === 'sagemaker') return 'sagemaker';
  throw new Error(`environment CAPTURE_FORMAT: expected 'cdk-mlops' or 'sagemaker' (got '${value}')`);
}

let wiring: { deps: MonitorDeps; settings: MonitorSettings; namespace: string } | undefined;

function wire(): NonNullable<typeof wiring> {
  if (wiring) return wiring;
  const s3 = s3Client();
  const positive = (name: string): number => wholeNumberEnv(name, 1);
  wiring = {
    deps: { ledger: LedgerStore.fromEnvironment(), objects: new S3ObjectReader(s3), artifacts: new ArtifactStore(s3, requireEnv('ARTIFACTS_BUCKET')), now: () => new Date() },
    settings: {
      endpoint: requireEnv('ENDPOINT_NAME'),
      pipeline: requireEnv('PIPELINE_NAME'),
      capturePrefix: requireEnv('CAPTURE_PREFIX'),
      captureFormat: captureFormat(process.env.CAPTURE_FORMAT),
      profilesPrefix: process.env.PROFILES_PREFIX ?? 'profiles/',
      reportsPrefix: process.env.REPORTS_PREFIX ?? 'reports/drift/',
      windowMs: positive('WINDOW_MINUTES') * 60_000,
      minRows: positive('MIN_ROWS'),
      maxRows: positive('MAX_ROWS'),
      thresholds: JSON.parse(process.env.THRESHOLDS ?? '{}') as MonitorSettings['thresholds'],
    },
    namespace: process.env.METRICS_NAMESPACE ?? 'cdk-mlops',
  };
  return wiring;
}

/** The EMF lines of a run (exported for the tests: what the alarms will read). */
export function driftMetricLines(result: MonitorResult, namespace: string, now = Date.now()): string[] {
  if (result.status === 'no-model') return [];
  const base = { pipeline: result.pipeline, endpoint: result.endpoint };
  const r = result.report;
  const lines = [
    emfLine(namespace, base, [
      { name: 'CapturedRows', unit: 'Count', value: r.rows },
      ...(r.judged ? [{ name: 'DriftedFeatures', unit: 'Count' as const, value: r.features.filter((f) => f.drifted).length }, { name: 'PredictionDrift', unit: 'None' as const, value: r.prediction.shift ?? Number.NaN }] : []),
    ], now),
    ...r.features.map((f) =>
      emfLine(namespace, { ...base, feature: f.feature }, [
        { name: 'FeaturePSI', unit: 'None', value: f.psi ?? Number.NaN },
        { name: 'FeatureJSDistance', unit: 'None', value: f.jsDistance ?? Number.NaN },
      ], now),
    ),
  ];
  return lines.filter((l): l is string => l !== undefined);
}

export const handler = middy(async (): Promise<MonitorResult> => {
  const { deps, settings, namespace } = wire();
  const result = await monitorDrift(deps, settings);
  for (const line of driftMetricLines(result, namespace)) process.stdout.write(line);
  if (result.status === 'no-model') logger.info('nothing to monitor', { reason: result.reason });
  else logger.info('drift', { status: result.status, modelVersionId: result.modelVersionId, rows: result.report.rows, drifted: result.report.drifted, reasons: result.report.reasons, reportUri: result.reportUri });
  if (result.status !== 'no-model' && result.invocations?.unreadable) logger.warn('captured invocations the monitor cannot read', { unreadable: result.invocations.unreadable, firstProblem: result.invocations.firstProblem });
  return result;
}).use(injectLambdaContext(logger));
