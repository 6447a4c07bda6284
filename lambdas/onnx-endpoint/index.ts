import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import { ArtifactStore } from '../shared/artifact-store';
import { requireEnv, s3Client } from '../shared/clients';
import { EmfWriter } from '../shared/emf';
import { LedgerStore } from '../shared/ledger-store';
import { S3ModelArtifacts } from '../shared/model-artifacts';
import { OnnxModel } from '../shared/onnx-model';
import { httpRequest } from './http';
import { endpointSettings, InferenceEndpoint, type HttpResponse, type Observation } from './serve';

/*
 * OnnxEndpoint Lambda: a Function URL or API Gateway request -> predictions.
 * The model is loaded at init (and on first use, if init could not), hash-checked
 * against the ledger. onnxruntime-node is copied beside the bundle with the
 * binaries of the function's architecture only.
 * Environment: ENDPOINT_NAME, MODEL_VERSION_ID (set by the deployer on each
 * published version; unset: the ledger's serving Deployment), LEDGER_TABLE,
 * LEDGER_WORM_BUCKET, LEDGER_WORM_PREFIX, ARTIFACTS_BUCKET, CAPTURE_PREFIX,
 * CAPTURE_SAMPLE_RATE, CONTRACTS_PREFIX, MAX_ROWS, MAX_BODY_BYTES,
 * PREDICTION_THRESHOLD, SHIFT_MIN_ROWS, POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE.
 * Metrics (EMF): Latency (ms, scoring), BatchSize, PredictionMean, PositiveRate,
 * PredictionShift (|this container's mean score − the model's training mean|,
 * once it scored SHIFT_MIN_ROWS rows), BadRequests,
 * ServerErrors, ModelIntegrityFailures, Captured, CaptureFailures.
 */

const logger = new Logger();
// EMF written directly: Powertools Metrics' flush costs about 45 µs a request, half the handler's budget.
const metrics = new EmfWriter(process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'cdk-mlops', process.env.POWERTOOLS_SERVICE_NAME ?? 'onnx-endpoint');
const metricsDisabled = process.env.POWERTOOLS_METRICS_DISABLED === 'true';
let endpoint: InferenceEndpoint | undefined;

function wire(): InferenceEndpoint {
  if (endpoint) return endpoint;
  const s3 = s3Client();
  endpoint = new InferenceEndpoint(endpointSettings(process.env), {
    ledger: LedgerStore.fromEnvironment(),
    models: new S3ModelArtifacts(s3),
    artifacts: new ArtifactStore(s3, requireEnv('ARTIFACTS_BUCKET')),
    loadModel: (bytes, signature) => OnnxModel.load(bytes, signature),
  });
  return endpoint;
}

// Load the model during the init phase (provisioned concurrency pays it before traffic); a failure here is retried per request.
if (process.env.AWS_LAMBDA_FUNCTION_NAME && process.env.ENDPOINT_NAME) void wire().model().catch(() => undefined);

function record(o: Observation, totalMs: number): void {
  if (metricsDisabled) return;
  metrics.add('RequestLatency', 'Milliseconds', totalMs);
  switch (o.outcome) {
    case 'served':
      metrics.add('Latency', 'Milliseconds', o.scoringMs);
      metrics.add('BatchSize', 'Count', o.rows);
      metrics.add('PredictionMean', 'None', o.summary.mean);
      metrics.add('PositiveRate', 'None', o.summary.positiveRate);
      if (o.shift !== undefined) metrics.add('PredictionShift', 'None', o.shift);
      if (o.captured === true) metrics.add('Captured', 'Count', 1);
      if (o.captured === 'failed') metrics.add('CaptureFailures', 'Count', 1);
      break;
    case 'rejected':
      metrics.add('BadRequests', 'Count', 1);
      break;
    case 'unavailable':
      metrics.add('ServerErrors', 'Count', 1);
      if (o.integrity) metrics.add('ModelIntegrityFailures', 'Count', 1);
      break;
    case 'info':
      break;
  }
  metrics.flush();
}

export const handler = middy(async (event: unknown, context: Context): Promise<HttpResponse> => {
  const started = performance.now();
  const { response, observation } = await wire().handle(httpRequest(event, context.awsRequestId));
  record(observation, performance.now() - started);
  if (observation.outcome === 'unavailable') logger.error('model not served', { statusCode: response.statusCode, body: response.body });
  return response;
})
  .use(injectLambdaContext(logger));
