import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { checkBiasConfig, type BiasGateConfig } from '../core/bias-gate';
import { ArtifactStore } from '../shared/artifact-store';
import { s3Client } from '../shared/clients';
import { requireEnv } from '../shared/env';
import type { GateVerdict } from '../shared/gate-report';
import { LedgerStore } from '../shared/ledger-store';
import { S3ModelArtifacts } from '../shared/model-artifacts';
import { OnnxModel } from '../shared/onnx-model';
import { S3ObjectReader } from '../shared/s3-objects';
import { parseBiasGateEvent, runBiasGate, type BiasGateDeps } from './gate';

/*
 * BiasGate Lambda: { datasetVersionId, modelVersionId? } -> GateVerdict.
 * onnxruntime-node is not bundled by esbuild: the construct copies it, with the
 * binaries of the function's architecture only, next to the bundle.
 * Environment: LEDGER_TABLE, LEDGER_WORM_BUCKET, LEDGER_WORM_PREFIX, ARTIFACTS_BUCKET,
 * REPORTS_PREFIX, BIAS_CONFIG (JSON: label, facets, thresholds, ...),
 * POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE.
 */

const logger = new Logger();
const metrics = new Metrics();
let wiring: { deps: BiasGateDeps; config: BiasGateConfig; reportsPrefix: string } | undefined;

function wire(): NonNullable<typeof wiring> {
  if (wiring) return wiring;
  const s3 = s3Client();
  const config = JSON.parse(requireEnv('BIAS_CONFIG')) as BiasGateConfig;
  checkBiasConfig(config);
  wiring = {
    deps: {
      ledger: LedgerStore.fromEnvironment(),
      objects: new S3ObjectReader(s3),
      artifacts: new ArtifactStore(s3, requireEnv('ARTIFACTS_BUCKET')),
      models: new S3ModelArtifacts(new S3ObjectReader(s3)),
      loadModel: (bytes, signature) => OnnxModel.load(bytes, signature),
    },
    config,
    reportsPrefix: process.env.REPORTS_PREFIX ?? 'reports/',
  };
  return wiring;
}

export const handler = middy(async (event: unknown): Promise<GateVerdict> => {
  const { deps, config, reportsPrefix } = wire();
  const result = await runBiasGate(parseBiasGateEvent(event), deps, config, reportsPrefix);
  metrics.addMetric(result.passed ? 'BiasGatePassed' : 'BiasGateFailed', MetricUnit.Count, 1);
  // the gate's key number, for the operations dashboard: checks over their thresholds
  metrics.addMetric('BiasChecksFailed', MetricUnit.Count, result.reasons.length);
  logger.info(result.passed ? 'bias gate passed' : 'bias gate failed', { result });
  return result;
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
