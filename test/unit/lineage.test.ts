import { describe, expect, it } from 'vitest';
import { InvalidRecordError } from '../../lambdas/core/errors';
import {
  buildRecord,
  canonicalJson,
  deterministicId,
  GENESIS_HASH,
  linkHash,
  nextLink,
  sealRecord,
  sha256Hex,
  verifyChain,
  type ChainLink,
  type LedgerRecord,
  type StoredRecord,
} from '../../lambdas/core/lineage';

const NOW = new Date('2026-01-02T03:04:05.000Z');
let counter = 0;
const ids = (): string => `id${++counter}`;

function incident(n: number): LedgerRecord<'Incident'> {
  return buildRecord({ kind: 'Incident', subject: 'endpoint/e', id: `inc-${n}`, data: { type: 'drift', reason: `r${n}` } }, NOW, ids);
}

/** A chain of n records, as the store would hold it. */
function chainOf(n: number): { links: ChainLink[]; records: Map<string, StoredRecord>; worm: Map<number, ChainLink> } {
  const links: ChainLink[] = [];
  const records = new Map<string, StoredRecord>();
  for (let i = 1; i <= n; i++) {
    const { body, hash } = sealRecord(incident(i));
    links.push(nextLink('endpoint/e', links.at(-1), `inc-${i}`, hash));
    records.set(`inc-${i}`, { id: `inc-${i}`, body });
  }
  return { links, records, worm: new Map(links.map((l) => [l.seq, l])) };
}

describe('records', () => {
  it('canonicalizes JSON per RFC 8785 (sorted keys, no spaces)', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 1, y: 2 } })).toBe('{"a":[true,null,"x"],"b":1,"c":{"y":2,"z":1}}');
  });

  it('hashes with SHA-256 (FIPS 180-2 vector)', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('builds a full record with defaults: chain = subject, parents deduplicated', () => {
    const r = buildRecord({ kind: 'GateReport', subject: 'pipeline/p', parents: ['a', 'a', 'b'], data: { gate: 'validation', passed: true, metrics: {}, thresholds: {}, reasons: [] } }, NOW, () => 'x');
    expect(r).toMatchObject({ schemaVersion: 1, id: 'gr-x', kind: 'GateReport', subject: 'pipeline/p', chain: 'pipeline/p', createdAt: '2026-01-02T03:04:05.000Z', parents: ['a', 'b'] });
  });

  it('seals a record as the hash of its canonical body, independent of key order', () => {
    const r = incident(1);
    const shuffled = Object.fromEntries(Object.entries(r).reverse()) as unknown as LedgerRecord;
    expect(sealRecord(shuffled)).toEqual(sealRecord(r));
    expect(sealRecord(r).hash).toBe(sha256Hex(sealRecord(r).body));
  });

  it('derives stable ids from identifying parts', () => {
    expect(deterministicId('dsv', 'b', 'k', 'v')).toBe(`dsv-${sha256Hex('b\u0000k\u0000v').slice(0, 32)}`);
    expect(deterministicId('dsv', 'b', 'k', 'v')).not.toBe(deterministicId('dsv', 'b', 'k', 'w'));
  });

  it.each([
    [{ kind: 'Nope', subject: 's', data: {} }, "kind: 'Nope' is not one of"],
    [{ kind: 'Incident', subject: '', data: {} }, "subject: '' must match"],
    [{ kind: 'Incident', subject: 's', id: 'has space', data: {} }, "id: 'has space' must match"],
    [{ kind: 'Incident', subject: 's', chain: '../x', data: {} }, "chain: '../x' must match"],
    [{ kind: 'Incident', subject: 's', parents: ['ok', 'b a d'], data: {} }, "parents: 'b a d' is not a record id"],
  ])('rejects a bad draft: %j', (draft, message) => {
    expect(() => buildRecord(draft as never, NOW, ids)).toThrow(InvalidRecordError);
    expect(() => buildRecord(draft as never, NOW, ids)).toThrow(message);
  });
});

describe('links', () => {
  it('starts at seq 1 after the genesis hash and chains each link to the previous', () => {
    const first = nextLink('c', undefined, 'r1', 'h1');
    const second = nextLink('c', first, 'r2', 'h2');
    expect(first).toMatchObject({ seq: 1, prevHash: GENESIS_HASH });
    expect(second).toMatchObject({ seq: 2, prevHash: first.hash });
    // hand-computed: the hash of the canonical JSON of the link's fields
    expect(first.hash).toBe(sha256Hex(`{"chain":"c","prevHash":"${GENESIS_HASH}","recordHash":"h1","recordId":"r1","seq":1}`));
    expect(linkHash(second)).toBe(second.hash);
  });
});

describe('verifyChain', () => {
  it('passes an intact chain', () => {
    const { links, records, worm } = chainOf(5);
    const report = verifyChain({ chain: 'endpoint/e', links: [...links].reverse(), records, wormLinks: worm, chainRecordIds: [...records.keys()] });
    expect(report).toMatchObject({ ok: true, length: 5, head: links[4]!.hash, problems: [], redundantLinks: 0 });
  });

  it('passes the empty chain', () => {
    expect(verifyChain({ chain: 'x', links: [], records: new Map() })).toMatchObject({ ok: true, length: 0, head: GENESIS_HASH });
  });

  it('catches an edited record', () => {
    const { links, records } = chainOf(3);
    const body = records.get('inc-2')!.body.replace('"r2"', '"r2 (edited)"');
    records.set('inc-2', { id: 'inc-2', body });
    expect(verifyChain({ chain: 'endpoint/e', links, records }).problems).toEqual([expect.objectContaining({ code: 'record-altered', seq: 2, recordId: 'inc-2' })]);
  });

  it('catches a removed record', () => {
    const { links, records } = chainOf(3);
    records.delete('inc-3');
    expect(verifyChain({ chain: 'endpoint/e', links, records }).problems).toEqual([expect.objectContaining({ code: 'missing-record', seq: 3 })]);
  });

  it('catches a removed link in the middle (gap, and the next link no longer chains)', () => {
    const { links, records } = chainOf(4);
    const codes = verifyChain({ chain: 'endpoint/e', links: links.filter((l) => l.seq !== 2), records }).problems.map((p) => p.code);
    expect(codes).toContain('seq-gap');
  });

  it('catches a removed last link only through the WORM copies', () => {
    const { links, records, worm } = chainOf(3);
    const truncated = links.slice(0, 2);
    expect(verifyChain({ chain: 'endpoint/e', links: truncated, records }).ok).toBe(true); // undetectable without WORM
    const report = verifyChain({ chain: 'endpoint/e', links: truncated, records, wormLinks: worm });
    expect(report.problems).toEqual([expect.objectContaining({ code: 'missing-link', seq: 3, recordId: 'inc-3' })]);
  });

  it('catches an edited link, and a rewritten link that no longer matches its WORM copy', () => {
    const { links, records, worm } = chainOf(3);
    const forged = { ...links[1]!, recordHash: 'f'.repeat(64) };
    const edited = verifyChain({ chain: 'endpoint/e', links: [links[0]!, forged, links[2]!], records });
    expect(edited.problems.map((p) => p.code)).toEqual(['link-hash-mismatch', 'record-altered']);
    // an attacker who also recomputes every later hash still differs from the WORM copies
    const rehashed: ChainLink[] = [links[0]!];
    for (const l of links.slice(1)) rehashed.push(nextLink('endpoint/e', rehashed.at(-1), l.recordId, l.seq === 2 ? 'f'.repeat(64) : l.recordHash));
    const report = verifyChain({ chain: 'endpoint/e', links: rehashed, records, wormLinks: worm });
    expect(report.problems.filter((p) => p.code === 'worm-mismatch').map((p) => p.seq)).toEqual([2, 3]);
  });

  it('flags a record that no link names', () => {
    const { links, records } = chainOf(2);
    expect(verifyChain({ chain: 'endpoint/e', links, records, chainRecordIds: ['inc-1', 'inc-2', 'orphan'] }).problems).toEqual([expect.objectContaining({ code: 'unlinked-record', recordId: 'orphan' })]);
  });

  it('counts, but does not flag, a redundant link to an already linked record', () => {
    const { links, records } = chainOf(2);
    const again = nextLink('endpoint/e', links[1], 'inc-1', links[0]!.recordHash);
    const report = verifyChain({ chain: 'endpoint/e', links: [...links, again], records });
    expect(report).toMatchObject({ ok: true, length: 3, redundantLinks: 1 });
  });

  it('checks the table against the WORM record copies: a record and its link rewritten together in the table is caught', () => {
    // Prepare: the attacker rewrites record 2 and re-links 2 and 3 so that the table is consistent with itself
    const { links, records, worm } = chainOf(3);
    const wormRecords = new Map(records);
    const edited = buildRecord({ kind: 'Incident', subject: 'endpoint/e', id: 'inc-2', data: { type: 'drift', reason: 'r2 (rewritten)' } }, NOW, ids);
    const tableRecords = new Map(records).set('inc-2', { id: 'inc-2', body: sealRecord(edited).body });
    const rehashed: ChainLink[] = [links[0]!];
    for (const l of links.slice(1)) rehashed.push(nextLink('endpoint/e', rehashed.at(-1), l.recordId, l.seq === 2 ? sealRecord(edited).hash : l.recordHash));
    expect(verifyChain({ chain: 'endpoint/e', links: rehashed, records: tableRecords }).ok).toBe(true); // the table alone proves nothing
    // Act
    const report = verifyChain({ chain: 'endpoint/e', links: rehashed, records: tableRecords, wormLinks: worm, wormRecords });
    // Assess
    expect(report.problems.map((p) => [p.code, p.seq])).toEqual([
      ['worm-record-mismatch', 2],
      ['worm-mismatch', 2],
      ['worm-mismatch', 3],
    ]);
  });

  it('reports a linked record with no WORM copy', () => {
    const { links, records, worm } = chainOf(2);
    const wormRecords = new Map(records);
    wormRecords.delete('inc-1');
    expect(verifyChain({ chain: 'endpoint/e', links, records, wormLinks: worm, wormRecords }).problems).toEqual([expect.objectContaining({ code: 'worm-record-missing', seq: 1, recordId: 'inc-1' })]);
  });

  it('names a replaced WORM copy and a delete marker as tampering, and says whether versions were read at all', () => {
    const { links, records, worm } = chainOf(2);
    const base = { chain: 'endpoint/e', links, records, wormLinks: worm, wormRecords: new Map(records) };
    expect(verifyChain(base)).toMatchObject({ ok: true, wormVersionsChecked: false });
    expect(verifyChain({ ...base, wormHistory: [] })).toMatchObject({ ok: true, wormVersionsChecked: true });
    const report = verifyChain({
      ...base,
      wormHistory: [
        { key: 'ledger/records/inc-1.json', versions: 2, deleteMarkers: 0, recordId: 'inc-1' },
        { key: 'ledger/chains/endpoint%2Fe/000000000002.json', versions: 1, deleteMarkers: 1, seq: 2, recordId: 'inc-2' },
      ],
    });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({ code: 'worm-deleted', seq: 2, key: 'ledger/chains/endpoint%2Fe/000000000002.json', message: expect.stringContaining('1 delete marker(s)') }),
      expect.objectContaining({ code: 'worm-overwritten', recordId: 'inc-1', message: expect.stringContaining('has 2 versions') }),
    ]);
  });
});
