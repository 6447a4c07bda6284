import type { Context } from 'aws-lambda';
import { EmfWriter } from '../shared/emf';
import { requireEnv } from '../shared/env';
import { LedgerReader } from '../shared/ledger-reader';
import { S3ModelArtifacts } from '../shared/model-artifacts';
import { OnnxModel, onnxRuntime } from '../shared/onnx-model';
import { S3Http, S3HttpArtifacts } from '../shared/s3-http';
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
 * Logs: console, which the function's JSON log format stamps with level and
 * request id (Powertools Logger would add ~10 ms to every cold start here).
 * Everything on the cold path is chosen for its load time: see bench/README.md.
 */

// EMF written directly: Powertools Metrics' flush costs about 45 µs a request, half the handler's budget.
const metrics = new EmfWriter(process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'cdk-mlops', process.env.POWERTOOLS_SERVICE_NAME ?? 'onnx-endpoint');
const metricsDisabled = process.env.POWERTOOLS_METRICS_DISABLED === 'true';
let endpoint: InferenceEndpoint | undefined;

function wire(): InferenceEndpoint {
  if (endpoint) return endpoint;
  // S3 and DynamoDB through signed HTTPS, not the SDK's clients: they would be ~100 ms of every cold start (shared/aws-http.ts).
  const s3 = S3Http.fromEnvironment();
  endpoint = new InferenceEndpoint(endpointSettings(process.env), {
    ledger: LedgerReader.fromEnvironment(),
    models: new S3ModelArtifacts(s3),
    artifacts: new S3HttpArtifacts(s3, requireEnv('ARTIFACTS_BUCKET')),
    loadModel: (bytes, signature) => OnnxModel.load(bytes, signature),
  });
  return endpoint;
}

// Load the model during the init phase (provisioned concurrency pays it before traffic); a failure here is retried per request.
// onnxruntime's native library loads once the first reads are on their way, and hides behind them.
if (process.env.AWS_LAMBDA_FUNCTION_NAME && process.env.ENDPOINT_NAME) {
  void wire().model().catch(() => undefined);
  setImmediate(() => void onnxRuntime().catch(() => undefined));
}

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

// A plain handler, no middy: middy's streaming support loads node:stream/web (~8 ms of every cold start) and no middleware is left here.
export const handler = async (event: unknown, context: Context): Promise<HttpResponse> => {
  const started = performance.now();
  const { response, observation } = await wire().handle(httpRequest(event, context.awsRequestId));
  record(observation, performance.now() - started);
  if (observation.outcome === 'unavailable') console.error(`model not served (${response.statusCode}): ${response.body}`);
  return response;
};
