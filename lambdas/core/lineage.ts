import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { InvalidRecordError } from './errors';
import type { ModelSignature } from './model-signature';

/*
 * The lineage ledger's data model, with no storage attached.
 *
 * A record is immutable JSON. Records are ordered in chains (one per subject by
 * default: a dataset, a pipeline, an endpoint). Each chain position is a *link*
 * that commits to its record's hash and to the previous link's hash, so editing
 * or removing any record or link breaks every later link hash.
 */

export const LEDGER_SCHEMA_VERSION = 1;

/** The hash of the (absent) link before the first one. */
export const GENESIS_HASH = '0'.repeat(64);

/** Status of a dataset file after ingest. */
export type DatasetStatus = 'accepted' | 'rejected';

export interface DatasetVersionData {
  readonly dataset: string;
  readonly bucket: string;
  readonly key: string;
  /** S3 object version, or null when the bucket is unversioned. */
  readonly versionId: string | null;
  readonly etag: string | null;
  /** Hex SHA-256 of the object's bytes (null only when it could not be read at all). */
  readonly sha256: string | null;
  readonly size: number;
  readonly contentType: string | null;
  readonly format: string | null;
  readonly status: DatasetStatus;
  /** Why the file was rejected. */
  readonly reason?: string;
  readonly schema?: {
    readonly fingerprint: string;
    readonly columns: readonly { readonly name: string; readonly type: string }[];
    readonly numRows?: number;
    readonly source: string;
  };
  /** The event that announced the object. */
  readonly source: { readonly eventId: string | null; readonly eventTime: string | null };
}

export interface TrainingRunData {
  readonly pipeline: string;
  readonly executionId: string;
  readonly datasetVersionIds: readonly string[];
  readonly image: { readonly uri: string; readonly digest?: string };
  readonly hyperparameters: Readonly<Record<string, string>>;
  /**
   * What the job was given: its training channel (the prefix) holding one file, the
   * dataset version's training rows (their SHA-256, count and format), and the share
   * of rows held out from it. With the image digest and the hyperparameters, this is
   * what repeats the run (`cdk-mlops lineage reproduce`). Absent on runs recorded before.
   */
  readonly inputs?: TrainingInputs;
  readonly seed?: number;
  readonly codeRef?: string;
  readonly instanceType: string;
  readonly instanceCount: number;
  readonly trainingJobName?: string;
  readonly status: 'succeeded' | 'failed';
  readonly failureReason?: string;
  readonly metrics?: Readonly<Record<string, number>>;
  /** What started the run when it was not an upload or a person: e.g. a drift Incident (also a parent of the record). */
  readonly trigger?: { readonly type: string; readonly incidentId?: string };
}

export interface TrainingInputs {
  readonly train: { readonly channel: string; readonly object: string; readonly sha256: string; readonly rows: number; readonly format: string };
  readonly holdoutPercent: number;
}

export interface ModelVersionData {
  readonly pipeline: string;
  readonly trainingRunId: string;
  /**
   * Where the model is (s3://bucket/key), the object version that holds it (every model the kit
   * records in a versioned bucket: whoever loads it reads that version) and the hex SHA-256 of its
   * bytes, checked by whoever loads it.
   */
  readonly artifact: { readonly uri: string; readonly sha256: string; readonly versionId?: string };
  /** e.g. 'onnx', 'neo:ml_inf2' */
  readonly format: string;
  /** The archive a SageMaker model serves (the training job's model.tar.gz) and its hex SHA-256, when recorded. */
  readonly archive?: { readonly uri: string; readonly sha256: string };
  /** How dataset columns feed the model and which output is its score (needed to score an ONNX model). */
  readonly signature?: ModelSignature;
  readonly modelPackageGroup?: string;
  readonly modelPackageArn?: string;
  readonly metrics: Readonly<Record<string, number>>;
  readonly approval: { readonly status: 'Approved' | 'PendingManualApproval' | 'Rejected'; readonly by?: string };
}

export interface GateReportData {
  readonly gate: string;
  readonly passed: boolean;
  readonly metrics: Readonly<Record<string, number | null>>;
  readonly thresholds: Readonly<Record<string, number>>;
  readonly reasons: readonly string[];
  readonly reportUri?: string;
  /** The approval gate: the Model Registry package decided on, and its group. */
  readonly modelPackageArn?: string;
  readonly modelPackageGroup?: string;
}

export interface DeploymentData {
  readonly endpoint: string;
  readonly modelVersionId: string;
  readonly previousModelVersionId?: string;
  readonly strategy: string;
  readonly reason: 'initial' | 'retrain' | 'rollback' | 'manual';
  readonly status: 'succeeded' | 'rolled-back' | 'failed';
  /** The Lambda version serving the model (ONNX endpoints), so a rollback can point the alias back at it. */
  readonly functionVersion?: string;
  /** The release's CodeDeploy deployment, or the SageMaker endpoint config. */
  readonly deploymentId?: string;
  /**
   * The contract the release fixed (`releases/<endpoint>/contracts/<sha256>.json`; ONNX endpoints
   * checking contracts): a function version that pins none (one `cdk deploy` published) checks
   * requests against the contract of the release it serves, not the dataset's current one.
   */
  readonly contractKey?: string;
  /**
   * Where the model's artifact is (its ModelVersion's, copied at release; ONNX endpoints): a
   * function version that pins none downloads it while it reads the model's record, which
   * still decides (location and hash).
   */
  readonly modelArtifact?: { readonly uri: string; readonly versionId?: string };
  /**
   * The inference images that serve (SageMaker endpoints): each as the config named it and as
   * SageMaker resolved it when it deployed (DescribeEndpoint's DeployedImages), so the code that
   * serves is known by digest even when the config names a tag.
   */
  readonly images?: readonly { readonly specified: string; readonly resolved: string }[];
  /** Why the release was rolled back or failed. */
  readonly detail?: string;
}

export interface IncidentData {
  readonly type: 'drift' | 'rollback' | 'gate-failure' | 'pipeline-failure' | 'integrity';
  readonly reason: string;
  readonly endpoint?: string;
  readonly pipeline?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The data each record kind carries. */
export interface RecordDataByKind {
  DatasetVersion: DatasetVersionData;
  TrainingRun: TrainingRunData;
  ModelVersion: ModelVersionData;
  GateReport: GateReportData;
  Deployment: DeploymentData;
  Incident: IncidentData;
}

export type RecordKind = keyof RecordDataByKind;

export const RECORD_KINDS: readonly RecordKind[] = ['DatasetVersion', 'TrainingRun', 'ModelVersion', 'GateReport', 'Deployment', 'Incident'];

/** A ledger record. Written once, never changed. */
export interface LedgerRecord<K extends RecordKind = RecordKind> {
  readonly schemaVersion: typeof LEDGER_SCHEMA_VERSION;
  readonly id: string;
  readonly kind: K;
  /** What the record is about, e.g. `dataset/wages`, `pipeline/churn`, `endpoint/churn-live`. */
  readonly subject: string;
  /** The chain the record is linked into. */
  readonly chain: string;
  readonly createdAt: string;
  /** Ids of the records this one derives from (a training run's dataset versions, a model's training run...). */
  readonly parents: readonly string[];
  readonly data: RecordDataByKind[K];
}

/** What a writer supplies; the ledger fills in the rest. */
export interface RecordDraft<K extends RecordKind = RecordKind> {
  readonly kind: K;
  readonly subject: string;
  readonly data: RecordDataByKind[K];
  /** A deterministic id makes the append idempotent. @default - a random id */
  readonly id?: string;
  /** @default - the subject */
  readonly chain?: string;
  /** @default [] */
  readonly parents?: readonly string[];
}

/** A chain position. */
export interface ChainLink {
  readonly chain: string;
  readonly seq: number;
  readonly recordId: string;
  readonly recordHash: string;
  readonly prevHash: string;
  readonly hash: string;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._\-/]{0,199}$/;

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** RFC 8785 canonical JSON: the exact bytes that are hashed and stored. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new InvalidRecordError('value has no JSON form');
  return text;
}

/** A short, prefixed, collision-resistant id from the parts that identify a thing. */
export function deterministicId(prefix: string, ...parts: readonly string[]): string {
  return `${prefix}-${sha256Hex(parts.join('\u0000')).slice(0, 32)}`;
}

/** Builds and checks a full record from a draft. */
export function buildRecord<K extends RecordKind>(draft: RecordDraft<K>, now: Date, randomId: () => string): LedgerRecord<K> {
  if (!RECORD_KINDS.includes(draft.kind)) throw new InvalidRecordError(`kind: '${String(draft.kind)}' is not one of ${RECORD_KINDS.join(', ')}`);
  const id = draft.id ?? `${draft.kind.replace(/[a-z]/g, '').toLowerCase()}-${randomId()}`;
  const chain = draft.chain ?? draft.subject;
  if (!ID_PATTERN.test(id)) throw new InvalidRecordError(`id: '${id}' must match ${ID_PATTERN}`);
  if (!NAME_PATTERN.test(draft.subject)) throw new InvalidRecordError(`subject: '${draft.subject}' must match ${NAME_PATTERN}`);
  if (!NAME_PATTERN.test(chain)) throw new InvalidRecordError(`chain: '${chain}' must match ${NAME_PATTERN}`);
  for (const p of draft.parents ?? []) {
    if (!ID_PATTERN.test(p)) throw new InvalidRecordError(`parents: '${p}' is not a record id`);
  }
  return {
    schemaVersion: LEDGER_SCHEMA_VERSION,
    id,
    kind: draft.kind,
    subject: draft.subject,
    chain,
    createdAt: now.toISOString(),
    parents: [...new Set(draft.parents ?? [])],
    data: draft.data,
  };
}

/** Canonical body of a record and its hash. */
export function sealRecord(record: LedgerRecord): { body: string; hash: string } {
  const body = canonicalJson(record);
  return { body, hash: sha256Hex(body) };
}

/** The hash a link must carry. */
export function linkHash(link: Omit<ChainLink, 'hash'>): string {
  return sha256Hex(canonicalJson({ chain: link.chain, seq: link.seq, recordId: link.recordId, recordHash: link.recordHash, prevHash: link.prevHash }));
}

/** The next link after `head` (or the first link of a chain). */
export function nextLink(chain: string, head: ChainLink | undefined, recordId: string, recordHash: string): ChainLink {
  const partial = { chain, seq: (head?.seq ?? 0) + 1, recordId, recordHash, prevHash: head?.hash ?? GENESIS_HASH };
  return { ...partial, hash: linkHash(partial) };
}

/** A stored record as verification sees it. */
export interface StoredRecord {
  readonly id: string;
  /** Canonical JSON body as stored. */
  readonly body: string;
}

/** One thing wrong with a chain. */
export interface VerifyProblem {
  readonly code:
    | 'link-hash-mismatch'
    | 'broken-chain'
    | 'seq-gap'
    | 'missing-record'
    | 'record-altered'
    | 'worm-mismatch'
    | 'missing-link'
    | 'unlinked-record'
    | 'worm-record-mismatch'
    | 'worm-record-missing'
    | 'worm-overwritten'
    | 'worm-deleted';
  readonly seq?: number;
  readonly recordId?: string;
  /** The WORM object concerned, for the problems found in the bucket. */
  readonly key?: string;
  readonly message: string;
}

export interface VerifyReport {
  readonly chain: string;
  readonly ok: boolean;
  readonly length: number;
  readonly head: string;
  readonly problems: readonly VerifyProblem[];
  /** Later links to a record already linked (a retried write): harmless, counted for the record. */
  readonly redundantLinks: number;
  /**
   * Whether every version of the WORM copies was read (a second version or a delete marker is
   * tampering). False when the store cannot list object versions (s3rver, an unversioned bucket):
   * then only the current versions were compared.
   */
  readonly wormVersionsChecked: boolean;
}

/** A WORM key that holds more than the one version it was written with: a replacement or a delete marker. */
export interface WormKeyHistory {
  readonly key: string;
  /** Object versions under the key (one is expected). */
  readonly versions: number;
  /** Delete markers under the key (none is expected). */
  readonly deleteMarkers: number;
  /** The link the key holds a copy of, or the record. */
  readonly seq?: number;
  readonly recordId?: string;
}

export interface VerifyInput {
  readonly chain: string;
  /** The chain's links as stored in the table, in any order. */
  readonly links: readonly ChainLink[];
  /** The records the links name, by id (absent: not found). */
  readonly records: ReadonlyMap<string, StoredRecord>;
  /** WORM copies of the links (from the Object-Locked bucket), by seq, when available. */
  readonly wormLinks?: ReadonlyMap<number, ChainLink>;
  /** Ids of records of this chain that exist in the table, to find records no link names. */
  readonly chainRecordIds?: readonly string[];
  /**
   * WORM copies of the records the links name, by id: the first version of each, the one written
   * once. With them the table's records are checked against the WORM bucket, the authority.
   */
  readonly wormRecords?: ReadonlyMap<string, StoredRecord>;
  /**
   * Every WORM key of the chain (its links' and its records') that holds more than one version or a
   * delete marker; given only when the store listed the versions (see `wormVersionsChecked`).
   */
  readonly wormHistory?: readonly WormKeyHistory[];
}

/**
 * Checks a chain end to end: every link hash, every back-pointer, no gap in the
 * sequence, every record present with the hash its link committed to, and (with
 * WORM copies, the authority) that the table holds every link and record exactly
 * as the WORM bucket first received it, and that no WORM copy was replaced or
 * hidden by a delete marker since.
 */
export function verifyChain(input: VerifyInput): VerifyReport {
  const problems: VerifyProblem[] = [];
  const links = [...input.links].sort((a, b) => a.seq - b.seq);
  const linked = new Set<string>();
  let redundantLinks = 0;
  let prev: ChainLink | undefined;
  let expectedSeq = 1;
  for (const link of links) {
    if (link.seq !== expectedSeq) {
      problems.push({ code: 'seq-gap', seq: link.seq, message: `links ${expectedSeq}..${link.seq - 1} are missing before link ${link.seq}` });
    }
    if (linkHash(link) !== link.hash || link.chain !== input.chain) {
      problems.push({ code: 'link-hash-mismatch', seq: link.seq, recordId: link.recordId, message: `link ${link.seq} does not hash to the value it carries (edited link)` });
    }
    const expectedPrev = prev && prev.seq === link.seq - 1 ? prev.hash : link.seq === 1 ? GENESIS_HASH : undefined;
    if (expectedPrev !== undefined && link.prevHash !== expectedPrev) {
      problems.push({ code: 'broken-chain', seq: link.seq, recordId: link.recordId, message: `link ${link.seq} does not point at link ${link.seq - 1}` });
    }
    if (linked.has(link.recordId)) {
      redundantLinks++;
    } else {
      linked.add(link.recordId);
      const record = input.records.get(link.recordId);
      if (!record) {
        problems.push({ code: 'missing-record', seq: link.seq, recordId: link.recordId, message: `record ${link.recordId} (link ${link.seq}) is missing` });
      } else if (sha256Hex(record.body) !== link.recordHash) {
        problems.push({ code: 'record-altered', seq: link.seq, recordId: link.recordId, message: `record ${link.recordId} (link ${link.seq}) differs from what its link committed to` });
      }
      if (input.wormRecords) {
        const copy = input.wormRecords.get(link.recordId);
        if (!copy) {
          problems.push({ code: 'worm-record-missing', seq: link.seq, recordId: link.recordId, message: `record ${link.recordId} (link ${link.seq}) has no WORM copy` });
        } else if (record && copy.body !== record.body) {
          problems.push({ code: 'worm-record-mismatch', seq: link.seq, recordId: link.recordId, message: `record ${link.recordId} (link ${link.seq}) in the table differs from its WORM copy (rewritten in the table)` });
        }
      }
    }
    const worm = input.wormLinks?.get(link.seq);
    if (input.wormLinks && (!worm || worm.hash !== link.hash || worm.recordHash !== link.recordHash)) {
      problems.push({ code: 'worm-mismatch', seq: link.seq, recordId: link.recordId, message: `link ${link.seq} differs from its WORM copy${worm ? '' : ' (no WORM copy)'}` });
    }
    prev = link;
    expectedSeq = link.seq + 1;
  }
  for (const [seq, worm] of input.wormLinks ?? []) {
    if (!links.some((l) => l.seq === seq)) {
      problems.push({ code: 'missing-link', seq, recordId: worm.recordId, message: `link ${seq} (record ${worm.recordId}) is in the WORM bucket but not in the table (removed)` });
    }
  }
  for (const id of input.chainRecordIds ?? []) {
    if (!linked.has(id)) problems.push({ code: 'unlinked-record', recordId: id, message: `record ${id} is in the table but no link names it (removed link, or a write still in progress)` });
  }
  for (const h of input.wormHistory ?? []) {
    const what = h.seq !== undefined ? `link ${h.seq}` : `record ${h.recordId ?? '?'}`;
    const at = { ...(h.seq !== undefined ? { seq: h.seq } : {}), ...(h.recordId ? { recordId: h.recordId } : {}), key: h.key };
    if (h.versions > 1) problems.push({ code: 'worm-overwritten', ...at, message: `WORM copy ${h.key} (${what}) has ${h.versions} versions: it was replaced after it was written once (its first version is compared)` });
    if (h.deleteMarkers > 0) problems.push({ code: 'worm-deleted', ...at, message: `WORM copy ${h.key} (${what}) has ${h.deleteMarkers} delete marker(s): it was deleted or hidden` });
  }
  problems.sort((a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity));
  const head = links.at(-1)?.hash ?? GENESIS_HASH;
  return { chain: input.chain, ok: problems.length === 0, length: links.length, head, problems, redundantLinks, wormVersionsChecked: input.wormHistory !== undefined };
}
