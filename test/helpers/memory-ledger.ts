import { buildRecord, type LedgerRecord, type RecordDraft } from '../../lambdas/core/lineage';

/**
 * An in-memory ledger with the store's record rules (ids, idempotent appends,
 * derivations, ancestors), for unit tests of code that only reads and appends.
 * Record times are 2026-12-01T00:00:00Z plus one second per record, unless
 * `clock` says otherwise.
 */
export class MemoryLedger {
  readonly records: LedgerRecord[] = [];
  private n = 0;

  constructor(private readonly clock?: () => Date) {}

  async get(id: string): Promise<LedgerRecord | undefined> {
    return this.records.find((r) => r.id === id);
  }

  async append<K extends LedgerRecord['kind']>(draft: RecordDraft<K>): Promise<{ record: LedgerRecord }> {
    const existing = this.records.find((r) => r.id === draft.id);
    if (existing) return { record: existing };
    const record = buildRecord(draft, this.clock?.() ?? new Date(Date.UTC(2026, 11, 1, 0, 0, this.n++)), () => `r${this.n++}`);
    this.records.push(record);
    return { record };
  }

  async history(subject: string): Promise<LedgerRecord[]> {
    return this.records.filter((r) => r.subject === subject);
  }

  async derivedFrom(id: string): Promise<LedgerRecord[]> {
    return this.records.filter((r) => r.parents.includes(id));
  }

  async ancestors(id: string): Promise<LedgerRecord[]> {
    const out = new Map<string, LedgerRecord>();
    const visit = (rid: string): void => {
      for (const p of this.records.find((r) => r.id === rid)?.parents ?? []) {
        const rec = this.records.find((r) => r.id === p);
        if (rec && !out.has(p)) {
          out.set(p, rec);
          visit(p);
        }
      }
    };
    visit(id);
    return [...out.values()];
  }
}
