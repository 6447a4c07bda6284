import { parquetMetadataAsync } from 'hyparquet';
import { DatasetParseError, InvalidEventError } from '../core/errors';
import type { LedgerRecord } from '../core/lineage';
import { mergeProfiles, type DatasetProfile, type DatasetProfileState } from '../core/profile/dataset-profile';
import { profileDelimited, profileJsonLines, profileParquet } from '../core/profile/readers';
import { firstRowEnd, isByteShard, isShardFailure, newShardScan, planByteShards, planRowGroupShards, shardReadStart, shardRows, shardsProblem, type Shard, type ShardOutcome, type ShardResult, type ShardScan } from '../core/profile/shards';
import { locate } from '../shared/dataset-reader';
import type { S3ObjectReader } from '../shared/s3-objects';

/*
 * Profiling one big dataset version in parallel shards, for a Step Functions
 * Distributed Map: `plan` splits it (byte ranges, or Parquet row groups),
 * `profile` profiles one shard and stores the shard's profile, `merge` checks
 * the shards and merges their profiles into the version's profile, stored where
 * the validation gate finds it. Whenever sharding cannot give the exact answer
 * (a small file, a rejected version, a shard that hit unreadable data, a quoted
 * newline across a boundary) the answer is "not sharded", with the reason, and
 * the validation gate profiles the file in one pass (and reports any parse
 * error with its true row).
 */

export interface ShardingSettings {
  /** Versions up to this size are not sharded. */
  readonly thresholdBytes: number;
  readonly shardBytes: number;
  readonly maxShards: number;
  readonly profilesPrefix: string;
}

export interface ProfilePlan {
  readonly datasetVersionId: string;
  readonly sharded: boolean;
  /** Why the version is not sharded. */
  readonly reason?: string;
  readonly format: string | null;
  /** CSV/TSV: the header row's text, with its line ending, for shards after the first. */
  readonly header: string | null;
  readonly shards: readonly Shard[];
}

export interface ShardEvent {
  readonly datasetVersionId: string;
  readonly header: string | null;
  readonly shard: Shard;
}

export type { ShardOutcome };

export interface MergeEvent {
  readonly datasetVersionId: string;
  readonly shards: readonly Shard[];
  readonly results: readonly ShardOutcome[];
}

export interface MergeOutcome {
  readonly datasetVersionId: string;
  readonly merged: boolean;
  readonly reason?: string;
  readonly profileUri?: string;
  readonly rows?: number;
}

export interface ShardingDeps {
  readonly ledger: { get(id: string): Promise<LedgerRecord | undefined> };
  readonly objects: Pick<S3ObjectReader, 'openFrom' | 'randomAccess'>;
  readonly artifacts: { getText(key: string): Promise<string | undefined>; putJson(key: string, value: unknown): Promise<string> };
}

const HEADER_PROBE_BYTES = 1024 * 1024;

async function datasetVersion(deps: ShardingDeps, id: unknown): Promise<LedgerRecord<'DatasetVersion'>> {
  if (typeof id !== 'string' || id === '') throw new InvalidEventError('datasetVersionId: expected a non-empty string');
  const record = await deps.ledger.get(id);
  if (!record || record.kind !== 'DatasetVersion') throw new InvalidEventError(`datasetVersionId: no DatasetVersion '${id}' in the ledger`);
  return record as LedgerRecord<'DatasetVersion'>;
}

/** Splits a dataset version into shards, or says why it is profiled in one pass. */
export async function planProfile(event: { datasetVersionId?: unknown }, deps: ShardingDeps, settings: ShardingSettings): Promise<ProfilePlan> {
  const dsv = await datasetVersion(deps, event.datasetVersionId);
  const { format, size } = dsv.data;
  const single = (reason: string): ProfilePlan => ({ datasetVersionId: dsv.id, sharded: false, reason, format, header: null, shards: [] });
  if (dsv.data.status !== 'accepted') return single('the version was rejected at ingest');
  if (size <= settings.thresholdBytes) return single(`${size} bytes: not above the sharding threshold (${settings.thresholdBytes} bytes)`);
  const { ref } = locate(dsv);
  let shards: Shard[];
  let header: string | null = null;
  switch (format) {
    case 'csv':
    case 'tsv': {
      header = await headerRow(deps, dsv);
      if (header === null) return single(`no complete header row in the first ${HEADER_PROBE_BYTES} bytes`);
      shards = planByteShards(size, settings.shardBytes, settings.maxShards);
      break;
    }
    case 'jsonl':
      shards = planByteShards(size, settings.shardBytes, settings.maxShards);
      break;
    case 'parquet': {
      try {
        const metadata = await parquetMetadataAsync(deps.objects.randomAccess(ref, size));
        shards = planRowGroupShards(metadata.row_groups.map((g) => ({ rows: Number(g.num_rows), bytes: Number(g.total_compressed_size ?? g.total_byte_size) })), settings.shardBytes, settings.maxShards);
      } catch {
        return single('the Parquet footer cannot be read');
      }
      break;
    }
    default:
      return single(`format '${String(format)}' is not sharded`);
  }
  if (shards.length < 2) return single('one shard would cover the whole version');
  return { datasetVersionId: dsv.id, sharded: true, format, header, shards };
}

/** The header row's exact text (with its line ending), or null when it does not end in the probe. */
async function headerRow(deps: ShardingDeps, dsv: LedgerRecord<'DatasetVersion'>): Promise<string | null> {
  const bytes = new Uint8Array(await deps.objects.randomAccess(locate(dsv).ref, dsv.data.size).slice(0, Math.min(dsv.data.size, HEADER_PROBE_BYTES)));
  // leading blank lines come along: the shard's reader skips them as the one-pass reader does
  const end = firstRowEnd(bytes);
  return end < 0 ? null : new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, end));
}

async function* prepend(first: Uint8Array, rest: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield first;
  yield* rest;
}

/** Profiles one shard and stores its profile; a shard that hits unreadable data reports it instead. */
export async function profileShard(event: ShardEvent, deps: ShardingDeps, settings: ShardingSettings): Promise<ShardOutcome> {
  const dsv = await datasetVersion(deps, event.datasetVersionId);
  const shard = event.shard;
  const { ref, file } = locate(dsv);
  const where = isByteShard(shard) ? `bytes ${shard.start}–${shard.end}` : `rows ${shard.rowStart + 1}–${shard.rowEnd}`;
  const name = `${file} (shard ${shard.index}: ${where})`;
  let profile: DatasetProfile;
  let scan: ShardScan | undefined;
  try {
    if (isByteShard(shard)) {
      const body = await deps.objects.openFrom(ref, shardReadStart(shard));
      if (!body) throw new DatasetParseError({ file }, 'the object version no longer exists');
      scan = newShardScan(shard);
      const format = dsv.data.format;
      if (format === 'jsonl') profile = await profileJsonLines(shardRows(body, shard, false, scan), { file: name });
      else {
        if (event.header === null) throw new InvalidEventError(`header: a ${String(format)} shard needs the header row`);
        const rows = shardRows(body, shard, true, scan);
        profile = await profileDelimited(shard.start === 0 ? rows : prepend(new TextEncoder().encode(event.header), rows), { file: name, delimiter: format === 'tsv' ? '\t' : ',' });
      }
    } else {
      profile = await profileParquet(deps.objects.randomAccess(ref, dsv.data.size), { file: name }, shard);
    }
  } catch (err) {
    if (err instanceof DatasetParseError) return { index: shard.index, error: err.message, ...(scan ? { scan } : {}) };
    throw err;
  }
  const key = `${settings.profilesPrefix}shards/${dsv.data.dataset}/${dsv.id}/${isByteShard(shard) ? `bytes-${shard.start}-${shard.end}` : `rows-${shard.rowStart}-${shard.rowEnd}`}.json`;
  await deps.artifacts.putJson(key, profile.toJSON());
  return { index: shard.index, key, rows: profile.rows, ...(scan ? { scan } : {}) };
}

/** Checks the shards and merges their profiles into the version's profile (where the validation gate reads it). */
export async function mergeShards(event: MergeEvent, deps: ShardingDeps, settings: ShardingSettings): Promise<MergeOutcome> {
  const dsv = await datasetVersion(deps, event.datasetVersionId);
  const notMerged = (reason: string): MergeOutcome => ({ datasetVersionId: dsv.id, merged: false, reason });
  if (!Array.isArray(event.shards) || !Array.isArray(event.results) || event.shards.length === 0) throw new InvalidEventError('shards, results: expected the plan and the results of its shards');
  if (event.results.length !== event.shards.length) return notMerged(`${event.results.length} results for ${event.shards.length} shards`);
  const problem = shardsProblem(event.shards, event.results);
  if (problem) return notMerged(problem);
  const results = event.results.filter((r: ShardOutcome): r is ShardResult => !isShardFailure(r));
  const states: DatasetProfileState[] = [];
  for (const r of [...results].sort((a, b) => a.index - b.index)) {
    const text = await deps.artifacts.getText(r.key);
    if (text === undefined) return notMerged(`shard ${r.index}: profile ${r.key} is missing`);
    states.push(JSON.parse(text) as DatasetProfileState);
  }
  const merged = mergeProfiles(states);
  const profileUri = await deps.artifacts.putJson(`${settings.profilesPrefix}${dsv.data.dataset}/${dsv.id}.json`, merged.toJSON());
  return { datasetVersionId: dsv.id, merged: true, profileUri, rows: merged.rows };
}
