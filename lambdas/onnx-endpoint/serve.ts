import type { DatasetContract } from '../core/constraints';
import { endpointSubject, servingDeployment } from '../core/deployment';
import { CdkMlopsError, ModelError } from '../core/errors';
import { InferenceRequestError, requestParser, sampled, summarizeScores, type FieldError, type InferenceLimits, type RequestParser, type ScoreSummary } from '../core/inference';
import type { LedgerRecord } from '../core/lineage';
import { checkModelSignature, type ModelSignature } from '../core/model-signature';
import { parseReleasedContract, type ContractSource } from '../shared/contracts';
import { ModelIntegrityError, type ArtifactLocation, type ModelArtifactReader, type StartedDownload } from '../shared/model-artifacts';
import type { ModelScorer } from '../shared/model-scoring';

/*
 * The ONNX endpoint: one model per container, loaded on first use from its
 * S3 artifact after checking its SHA-256 against the ledger, with the dataset
 * contract of the data it was trained on. Requests are checked field by field
 * (400/413/415 with a message per field), scored in one batch, and answered
 * with the model version; a sample of them is captured to the artifacts bucket
 * for the drift monitor. A model whose bytes differ from the ledger is never
 * run: every request gets 503 and an integrity observation (the alarm).
 */

export interface EndpointSettings {
  /** The endpoint's name: its ledger subject is `endpoint/<name>`. */
  readonly endpoint: string;
  /** The model this function version serves (pinned by the deployer); else the ledger's serving Deployment. */
  readonly modelVersionId?: string;
  /**
   * Where that model's artifact is, pinned beside it by the deployer: its download starts
   * with the ledger read instead of after it. The ledger's record still decides (location and hash).
   */
  readonly modelArtifact?: ArtifactLocation;
  /**
   * The key of the contract the release fixed (`releases/<endpoint>/contracts/<sha256>.json`),
   * pinned by the deployer: read in one request, without the ledger walk and the YAML parser.
   * Missing, unreadable or not hashing to its key: the endpoint refuses to serve (ContractIntegrityError).
   */
  readonly contractKey?: string;
  readonly limits: InferenceLimits;
  /** Share of requests captured, 0 to 1. */
  readonly captureSampleRate: number;
  /** Key prefix of captures in the artifacts bucket, ending in '/'. */
  readonly capturePrefix: string;
  /** Where dataset contracts are; unset: requests are checked against the signature only. */
  readonly contractsPrefix?: string;
  /** Scores above it count as positive (the positive-rate metric). */
  readonly threshold: number;
  /** Rows a container scores before it reports its prediction shift (a mean of fewer is noise). */
  readonly shiftMinRows: number;
}

export interface EndpointDeps {
  readonly ledger: { get(id: string): Promise<LedgerRecord | undefined>; history(subject: string): Promise<LedgerRecord[]> };
  readonly models: ModelArtifactReader & { start?(location: ArtifactLocation): StartedDownload };
  readonly artifacts: ContractSource & { putOnce(key: string, body: string, contentType: string): Promise<string> };
  loadModel(bytes: Uint8Array, signature: ModelSignature): Promise<ModelScorer>;
}

/** No model to serve yet: nothing deployed to the endpoint. */
export class NoModelDeployedError extends CdkMlopsError {}

export interface LoadedModel {
  readonly modelVersionId: string;
  readonly signature: ModelSignature;
  readonly scorer: ModelScorer;
  /** The dataset whose contract applies (its checks are in `parse`). */
  readonly dataset?: string;
  /** The mean score on the training data (ModelVersion metric `score:mean`): the prediction-shift baseline. */
  readonly baselineMean?: number;
  /** Checks and encodes requests for this model (signature, contract, limits). */
  readonly parse: RequestParser;
}

/** Loads the model a function version serves: ledger record, hash-checked bytes, onnxruntime session, contract. */
export async function loadServingModel(settings: EndpointSettings, deps: EndpointDeps): Promise<LoadedModel> {
  let id = settings.modelVersionId;
  let started = id && settings.modelArtifact ? startDownload(deps, settings.modelArtifact) : undefined;
  const readReleased = (key: string | undefined) => (settings.contractsPrefix !== undefined && key ? { file: deps.artifacts.uri(key), text: startRead(deps.artifacts.getText(key)) } : undefined);
  let released = id ? readReleased(settings.contractKey) : undefined;
  if (!id) {
    // A version no release pinned: what the ledger's serving Deployment names (the model, where its artifact is,
    // the contract its release fixed), read as the pins would be.
    const found = servingDeployment(await deps.ledger.history(endpointSubject(settings.endpoint)));
    if (!found) throw new NoModelDeployedError(`no model is deployed to endpoint '${settings.endpoint}' yet`);
    // the history is the table's: the Deployment that decides is read again through `get`, checked against its WORM copy
    const serving = (await deps.ledger.get(found.id)) as LedgerRecord<'Deployment'> | undefined;
    if (!serving || serving.kind !== 'Deployment') throw new ModelIntegrityError(`Deployment ${found.id} of endpoint '${settings.endpoint}' cannot be read back from the ledger`);
    id = serving.data.modelVersionId;
    if (serving.data.modelArtifact) started = startDownload(deps, serving.data.modelArtifact);
    released = readReleased(serving.data.contractKey);
  }
  const record = await deps.ledger.get(id);
  if (!record || record.kind !== 'ModelVersion') throw new ModelError(`model version '${id}' is not a ModelVersion in the ledger`);
  const model = record as LedgerRecord<'ModelVersion'>;
  if (model.data.format !== 'onnx') throw new ModelError(`model ${id} is '${model.data.format}'; the ONNX endpoint serves ONNX models`);
  const signature = checkModelSignature(model.data.signature);
  // The contract and the model's bytes at once; the session is created only when both are in, so a failure
  // leaves no onnxruntime session behind (the next request loads again). The contract's error wins, then the bytes'.
  const [contractRead, bytesRead] = await Promise.allSettled([contractOf(settings, model, released), deps.models.read(model, started)]); // the read throws ModelIntegrityError on a hash mismatch
  if (contractRead.status === 'rejected') throw contractRead.reason;
  if (bytesRead.status === 'rejected') throw bytesRead.reason;
  const { contract, dataset } = contractRead.value;
  const bytes = bytesRead.value;
  const scorer = await deps.loadModel(bytes, signature);
  const baseline = model.data.metrics['score:mean'];
  return { modelVersionId: id, signature, scorer, parse: requestParser(signature, settings.limits, contract), ...(contract ? { dataset } : {}), ...(Number.isFinite(baseline) ? { baselineMean: baseline } : {}) };
}

/** Starts the pinned artifact's download; a location that cannot even be parsed is left to the ledger's record. */
function startDownload(deps: EndpointDeps, location: ArtifactLocation): StartedDownload | undefined {
  try {
    return deps.models.start?.(location);
  } catch {
    return undefined;
  }
}

/** A read begun early, its failure kept for whoever awaits it (and not an unhandled rejection if nobody does). */
function startRead<T>(read: Promise<T>): Promise<T> {
  read.catch(() => undefined);
  return read;
}

/**
 * A release's contract cannot be applied: the release fixed none, or the object it fixed is
 * missing or does not hash to what its key (recorded in the release) names. The endpoint refuses
 * to serve rather than check requests against anything else: an integrity failure (503, alarm).
 */
export class ContractIntegrityError extends ModelIntegrityError {}

/**
 * The contract of the dataset the model was trained on, when the endpoint checks one: exactly the
 * one the release fixed (a dataset without a contract is fixed as `contract: null`). Fails closed:
 * no fallback to the editable `contracts/<dataset>.yaml`, nor to no contract.
 */
async function contractOf(settings: EndpointSettings, model: LedgerRecord<'ModelVersion'>, released?: { file: string; text: Promise<string | undefined> }): Promise<{ contract?: DatasetContract; dataset?: string }> {
  if (settings.contractsPrefix === undefined) return {};
  if (!released) throw new ContractIntegrityError(`model ${model.id}: its release fixed no contract, and this endpoint checks one; release the model again`);
  let text: string | undefined;
  try {
    text = await released.text;
  } catch (err) {
    if (err instanceof Error && ['NoSuchKey', 'AccessDenied', 'NoSuchBucket'].includes(err.name)) throw new ContractIntegrityError(`model ${model.id}: the released contract ${released.file} cannot be read (${err.name})`, { cause: err });
    throw err; // transient: the next request loads again
  }
  if (text === undefined) throw new ContractIntegrityError(`model ${model.id}: the released contract ${released.file} is missing`);
  let fixed;
  try {
    fixed = parseReleasedContract(text, released.file);
  } catch (err) {
    throw new ContractIntegrityError(`model ${model.id}: the released contract is not what the release fixed: ${(err as Error).message}`, { cause: err });
  }
  return fixed.contract && fixed.dataset ? { contract: fixed.contract, dataset: fixed.dataset } : {};
}

/** An HTTP request as a Function URL or API Gateway delivers it. */
export interface HttpRequest {
  readonly method: string;
  readonly body?: string;
  readonly contentType?: string;
  readonly requestId: string;
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What one request did, for the metrics. */
export type Observation =
  | { readonly outcome: 'served'; readonly rows: number; readonly scoringMs: number; readonly summary: ScoreSummary; readonly shift?: number; readonly captured: boolean | 'failed' }
  | { readonly outcome: 'rejected'; readonly statusCode: number }
  | { readonly outcome: 'unavailable'; readonly integrity: boolean }
  | { readonly outcome: 'info' };

const json = (statusCode: number, value: unknown, headers: Record<string, string> = {}): HttpResponse => ({ statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) });

export class InferenceEndpoint {
  private loading: Promise<LoadedModel> | undefined;
  /** A model that must never be served (bytes differ from the ledger, unloadable): kept for the container's life. */
  private refused: ModelError | undefined;
  /** Every score this container gave: its running mean is what the prediction shift compares with training. */
  private readonly scored = { sum: 0, rows: 0 };

  constructor(
    private readonly settings: EndpointSettings,
    private readonly deps: EndpointDeps,
    private readonly clock: { now(): number; date(): Date } = { now: () => performance.now(), date: () => new Date() },
  ) {}

  /** Loads the model once (the first request, or the init phase); a transient failure is retried by the next request. */
  async model(): Promise<LoadedModel> {
    if (this.refused) throw this.refused;
    this.loading ??= loadServingModel(this.settings, this.deps).catch((err: unknown) => {
      this.loading = undefined;
      if (err instanceof ModelError) this.refused = err;
      throw err;
    });
    return this.loading;
  }

  async handle(request: HttpRequest): Promise<{ response: HttpResponse; observation: Observation }> {
    let model: LoadedModel;
    try {
      model = await this.model();
    } catch (err) {
      if (err instanceof ModelError || err instanceof NoModelDeployedError) {
        const integrity = err instanceof ModelIntegrityError;
        return { response: json(503, { error: err.name, message: err.message, endpoint: this.settings.endpoint }, { 'retry-after': '30' }), observation: { outcome: 'unavailable', integrity } };
      }
      throw err; // transient (S3, DynamoDB): Lambda reports the error; the next request loads again
    }
    const headers = { 'x-model-version-id': model.modelVersionId };
    if (request.method === 'GET') {
      return { response: json(200, { endpoint: this.settings.endpoint, modelVersionId: model.modelVersionId, signature: model.signature, contract: model.dataset ?? null, limits: this.settings.limits }, headers), observation: { outcome: 'info' } };
    }
    if (request.method !== 'POST') return { response: json(405, { errors: [{ field: 'method', message: `${request.method} is not allowed; POST a JSON request (GET describes the model)` }] }, { ...headers, allow: 'GET, POST' }), observation: { outcome: 'rejected', statusCode: 405 } };
    let input;
    try {
      input = model.parse(request.body, request.contentType);
    } catch (err) {
      if (!(err instanceof InferenceRequestError)) throw err;
      return { response: json(err.statusCode, { modelVersionId: model.modelVersionId, errors: err.errors satisfies readonly FieldError[] }, headers), observation: { outcome: 'rejected', statusCode: err.statusCode } };
    }
    const started = this.clock.now();
    const scores = await model.scorer.score(input.features, input.rows, input.width);
    const scoringMs = this.clock.now() - started;
    const predictions = Array.from(scores);
    const summary = summarizeScores(scores, this.settings.threshold);
    this.scored.sum += summary.mean * summary.count;
    this.scored.rows += summary.count;
    // The shift is this container's, not this request's: a small batch's mean is noise, and during a
    // canary each version runs in containers of its own, so the worst container shows a bad release.
    const shift = model.baselineMean !== undefined && this.scored.rows >= this.settings.shiftMinRows ? Math.abs(this.scored.sum / this.scored.rows - model.baselineMean) : undefined;
    let captured: boolean | 'failed' = false;
    if (sampled(request.requestId, this.settings.captureSampleRate)) captured = await this.capture(request.requestId, model, input.records(), predictions);
    return {
      response: json(200, { modelVersionId: model.modelVersionId, predictions }, headers),
      observation: { outcome: 'served', rows: input.rows, scoringMs, summary, ...(shift !== undefined ? { shift } : {}), captured },
    };
  }

  /**
   * Writes the request's rows with their predictions as JSON Lines, once, under
   * `<capturePrefix><yyyy>/<mm>/<dd>/<hh>/`. A failed capture never fails the request.
   */
  private async capture(requestId: string, model: LoadedModel, records: Record<string, unknown>[], predictions: number[]): Promise<true | 'failed'> {
    const now = this.clock.date();
    const iso = now.toISOString();
    const key = `${this.settings.capturePrefix}${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(11, 13)}/${iso.replace(/[-:.]/g, '')}-${requestId.replace(/[^A-Za-z0-9-]/g, '')}.jsonl`;
    const lines = records.map((r, i) => JSON.stringify({ ...r, __prediction: predictions[i], __model_version: model.modelVersionId, __time: iso })).join('\n') + '\n';
    try {
      await this.deps.artifacts.putOnce(key, lines, 'application/x-ndjson');
      return true;
    } catch {
      return 'failed';
    }
  }
}

/** The settings from the function's environment; a bad value names the variable. */
export function endpointSettings(env: NodeJS.ProcessEnv): EndpointSettings {
  const number = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    const n = raw === undefined || raw === '' ? fallback : Number(raw);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`environment ${name}: expected a number from ${min} to ${max} (got '${raw}')`);
    return n;
  };
  const endpoint = env.ENDPOINT_NAME;
  if (!endpoint) throw new Error('environment ENDPOINT_NAME is not set');
  return {
    endpoint,
    ...(env.MODEL_VERSION_ID ? { modelVersionId: env.MODEL_VERSION_ID } : {}),
    ...(env.MODEL_VERSION_ID && env.MODEL_CONTRACT_KEY ? { contractKey: env.MODEL_CONTRACT_KEY } : {}),
    ...(env.MODEL_VERSION_ID && env.MODEL_ARTIFACT_URI ? { modelArtifact: { uri: env.MODEL_ARTIFACT_URI, ...(env.MODEL_ARTIFACT_VERSION_ID ? { versionId: env.MODEL_ARTIFACT_VERSION_ID } : {}) } } : {}),
    limits: { maxRows: number('MAX_ROWS', 10_000, 1, 1_000_000), maxBodyBytes: number('MAX_BODY_BYTES', 6 * 1024 * 1024, 1, 6 * 1024 * 1024) },
    captureSampleRate: number('CAPTURE_SAMPLE_RATE', 0.05, 0, 1),
    capturePrefix: env.CAPTURE_PREFIX ?? `captures/${endpoint}/`,
    ...(env.CONTRACTS_PREFIX ? { contractsPrefix: env.CONTRACTS_PREFIX } : {}),
    threshold: number('PREDICTION_THRESHOLD', 0.5, 0, 1),
    shiftMinRows: number('SHIFT_MIN_ROWS', 100, 1, 1_000_000),
  };
}
