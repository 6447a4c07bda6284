import type { LedgerRecord, VerifyReport } from '../../lambdas/core/lineage';
import type { IngestOutcome } from '../../lambdas/ingest/ingest';
import type { GateVerdict } from '../../lambdas/shared/gate-report';

export interface LedgerReportInput {
  readonly stackName: string;
  readonly outcomes: readonly { label: string; outcome: IngestOutcome }[];
  readonly gates: readonly { gate: string; verdict: GateVerdict }[];
  readonly workflows?: readonly { name: string; input: string; shards: number; merged: boolean; detail: string }[];
  readonly pipelines?: readonly { name: string; input: string; outcome: string }[];
  readonly requests?: readonly EndpointRequest[];
  readonly reports: readonly VerifyReport[];
  readonly histories: readonly { chain: string; records: readonly LedgerRecord[] }[];
}

/** A request the local run sent to the endpoint over HTTP, and its answer. */
export interface EndpointRequest {
  readonly label: string;
  readonly status: number;
  readonly modelVersionId: string | null;
  /** The Lambda version that answered. */
  readonly version: string | null;
  readonly detail: string;
}

/** Text for a Markdown table cell ('|' would end the cell). */
const cell = (text: string): string => text.replace(/\|/g, '\\|');

/** The local run's report, as Markdown. */
export function renderLedgerReport(input: LedgerReportInput): string {
  const lines = [`# cdk-mlops local run — ${input.stackName}`, '', `Generated ${new Date().toISOString()}.`, '', '## Ingest', '', '| upload | record | result |', '|---|---|---|'];
  for (const { label, outcome } of input.outcomes) {
    lines.push(`| ${label} | \`${outcome.recordId}\` | ${outcome.duplicate ? 'duplicate event, no new record' : outcome.status === 'accepted' ? 'accepted' : `rejected: ${outcome.reason ?? ''}`} |`);
  }
  lines.push('', '## Gates', '', '| gate | dataset version | model version | verdict | report |', '|---|---|---|---|---|');
  for (const { gate, verdict } of input.gates) {
    lines.push(`| ${gate} | \`${verdict.datasetVersionId}\` | ${verdict.modelVersionId ? `\`${verdict.modelVersionId}\`` : ''} | ${verdict.passed ? 'passed' : `failed: ${cell(verdict.reasons.join('; '))}`} | ${verdict.reportUri} |`);
  }
  if (input.workflows?.length) {
    lines.push('', '## State machines (run locally from the template)', '', '| state machine | dataset version | shards | merged | detail |', '|---|---|---|---|---|');
    for (const w of input.workflows) lines.push(`| ${w.name} | \`${w.input}\` | ${w.shards} | ${w.merged ? 'yes' : 'no'} | ${cell(w.detail)} |`);
  }
  if (input.pipelines?.length) {
    lines.push('', '## Training pipelines (run locally from the template)', '', '| pipeline | dataset version | outcome |', '|---|---|---|');
    for (const p of input.pipelines) lines.push(`| ${p.name} | \`${p.input}\` | ${cell(p.outcome)} |`);
  }
  if (input.requests?.length) {
    lines.push('', '## Endpoint (the bundled handler over HTTP, as its Function URL)', '', '| request | status | model version | Lambda version | answer |', '|---|---|---|---|---|');
    for (const r of input.requests) lines.push(`| ${cell(r.label)} | ${r.status} | ${r.modelVersionId ? `\`${r.modelVersionId}\`` : ''} | ${r.version ?? ''} | ${cell(r.detail)} |`);
  }
  lines.push('', '## Ledger chains', '', '| chain | links | verified | head |', '|---|---|---|---|');
  for (const r of input.reports) lines.push(`| ${r.chain} | ${r.length} | ${r.ok ? 'yes' : `**no**: ${r.problems.map((p) => p.message).join('; ')}`} | \`${r.head.slice(0, 16)}\` |`);
  for (const h of input.histories) {
    lines.push('', `### ${h.chain}`, '', '| created | id | kind | status | sha256 | schema |', '|---|---|---|---|---|---|');
    for (const rec of h.records) {
      const d = rec.data as Partial<{ status: string; reason: string; sha256: string | null; schema: { fingerprint: string; columns: readonly unknown[] } }>;
      lines.push(`| ${rec.createdAt} | \`${rec.id}\` | ${rec.kind} | ${d.status ?? ''}${d.reason ? ` (${d.reason})` : ''} | \`${(d.sha256 ?? '').slice(0, 16)}\` | ${d.schema ? `${d.schema.columns.length} columns, \`${d.schema.fingerprint.slice(0, 12)}\`` : ''} |`);
    }
  }
  return lines.join('\n') + '\n';
}
