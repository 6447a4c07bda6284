import type { LedgerRecord, VerifyReport } from '../../lambdas/core/lineage';
import type { MonitorResult } from '../../lambdas/drift-monitor/monitor';
import type { GateVerdict } from '../../lambdas/shared/gate-report';
import type { ServingLineage } from '../../lambdas/shared/serving-lineage';
import type { EndpointRequest } from './report';

/*
 * The local run's report as one self-contained HTML page (no scripts, no
 * fetched assets: it opens offline): what serves now and why as a lineage
 * graph, drift per feature over the monitor's runs as a chart, the gates, the
 * pipelines, the alarms and what they did, and the ledger's chains.
 */

export interface HtmlReportInput {
  readonly stackName: string;
  readonly gates: readonly { gate: string; verdict: GateVerdict }[];
  readonly pipelines: readonly { name: string; input: string; outcome: string }[];
  readonly requests: readonly EndpointRequest[];
  readonly driftRuns: readonly { phase: string; result: MonitorResult }[];
  readonly alarmLog: readonly string[];
  /** The drift monitor's PSI threshold, drawn on the chart. */
  readonly psiThreshold: number;
  readonly lineage?: ServingLineage;
  readonly reports: readonly VerifyReport[];
  readonly histories: readonly { chain: string; records: readonly LedgerRecord[] }[];
}

const esc = (s: unknown): string => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** One line describing a record in the graph. */
function caption(r: LedgerRecord): string {
  switch (r.kind) {
    case 'DatasetVersion': {
      const d = (r as LedgerRecord<'DatasetVersion'>).data;
      return `${d.dataset} (${d.status})`;
    }
    case 'TrainingRun': {
      const d = (r as LedgerRecord<'TrainingRun'>).data;
      return `${d.pipeline} ${d.status}${d.trigger ? ` (${d.trigger.type})` : ''}`;
    }
    case 'ModelVersion': {
      const d = (r as LedgerRecord<'ModelVersion'>).data;
      return `${d.format}, accuracy ${(d.metrics['validation:accuracy'] ?? Number.NaN).toFixed(3)}`;
    }
    case 'GateReport': {
      const d = (r as LedgerRecord<'GateReport'>).data;
      return `${d.gate} ${d.passed ? 'passed' : 'FAILED'}`;
    }
    case 'Deployment': {
      const d = (r as LedgerRecord<'Deployment'>).data;
      return `${d.reason} ${d.status}`;
    }
    case 'Incident':
      return (r as LedgerRecord<'Incident'>).data.type;
  }
}

/**
 * What serves and why, as a layered graph: every record the serving release
 * derives from (data, runs, models, earlier releases, incidents) and the
 * gates of the serving model, each in the column of its longest path from a
 * root, edges from parent to child.
 */
export function lineageSvg(lineage: ServingLineage): string {
  const nodes = new Map<string, LedgerRecord>();
  for (const r of [...lineage.why, ...lineage.gates, lineage.serving]) nodes.set(r.id, r);
  const layer = new Map<string, number>();
  const depth = (id: string, seen = new Set<string>()): number => {
    const known = layer.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0;
    seen.add(id);
    const parents = nodes.get(id)!.parents.filter((p) => nodes.has(p));
    const d = parents.length === 0 ? 0 : 1 + Math.max(...parents.map((p) => depth(p, seen)));
    layer.set(id, d);
    return d;
  };
  for (const id of nodes.keys()) depth(id);
  const [w, h, gapX, gapY] = [200, 44, 46, 16];
  const pos = new Map<string, { x: number; y: number }>();
  const rows = new Map<number, number>();
  for (const r of [...nodes.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt))) {
    const c = layer.get(r.id)!;
    const i = rows.get(c) ?? 0;
    rows.set(c, i + 1);
    pos.set(r.id, { x: 10 + c * (w + gapX), y: 10 + i * (h + gapY) });
  }
  const width = 20 + (Math.max(...layer.values()) + 1) * (w + gapX);
  const height = 20 + Math.max(...rows.values()) * (h + gapY);
  const edges: string[] = [];
  for (const r of nodes.values()) {
    for (const p of r.parents) {
      const [a, b] = [pos.get(p), pos.get(r.id)];
      if (!a || !b) continue;
      edges.push(`<path d="M${a.x + w},${a.y + h / 2} C${a.x + w + gapX},${a.y + h / 2} ${b.x - gapX},${b.y + h / 2} ${b.x},${b.y + h / 2}" fill="none" stroke="#999" marker-end="url(#arrow)"/>`);
    }
  }
  const fill = (r: LedgerRecord): string => {
    if (r.id === lineage.serving.id) return '#c8ecc8';
    if (r.kind === 'Incident') return '#fde2c8';
    if (r.kind === 'GateReport') return (r.data as { passed?: boolean }).passed ? '#e3eefc' : '#fbd5d5';
    if (r.kind === 'Deployment') return '#edf7ed';
    return '#f4f4f4';
  };
  const boxes = [...nodes.values()].map((r) => {
    const p = pos.get(r.id)!;
    return `<g><title>${esc(JSON.stringify(r.data, null, 1).slice(0, 1500))}</title><rect x="${p.x}" y="${p.y}" width="${w}" height="${h}" rx="6" fill="${fill(r)}" stroke="#555"/><text x="${p.x + 8}" y="${p.y + 18}" font-size="12" font-weight="bold">${esc(r.kind)} ${esc(r.id.slice(0, 11))}</text><text x="${p.x + 8}" y="${p.y + 35}" font-size="11">${esc(caption(r).slice(0, 32))}</text></g>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#999"/></marker></defs>${edges.join('')}${boxes.join('')}</svg>`;
}

/** PSI per feature and the prediction shift over the monitor's runs, with the PSI threshold. */
export function driftSvg(runs: readonly { phase: string; result: MonitorResult }[], psiThreshold: number): string {
  const judged = runs.filter((r): r is { phase: string; result: Extract<MonitorResult, { report: unknown }> } => r.result.status !== 'no-model');
  if (judged.length === 0) return '<p>No drift-monitor runs.</p>';
  const series = new Map<string, (number | null)[]>();
  judged.forEach((r, i) => {
    for (const f of r.result.report.features) {
      if (!series.has(`PSI ${f.feature}`)) series.set(`PSI ${f.feature}`, new Array<number | null>(judged.length).fill(null));
      series.get(`PSI ${f.feature}`)![i] = f.psi;
      if (!series.has(`JS ${f.feature}`)) series.set(`JS ${f.feature}`, new Array<number | null>(judged.length).fill(null));
      series.get(`JS ${f.feature}`)![i] = f.jsDistance;
    }
    if (!series.has('prediction shift')) series.set('prediction shift', new Array<number | null>(judged.length).fill(null));
    series.get('prediction shift')![i] = r.result.report.prediction.shift;
  });
  const values = [...series.values()].flat().filter((v): v is number => v !== null);
  const top = Math.max(psiThreshold * 1.5, ...values) * 1.1;
  const [W, H, L, R, B] = [760, 300, 110, 110, 70];
  const x = (i: number): number => L + (judged.length === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (judged.length - 1));
  const y = (v: number): number => H - B - (v / top) * (H - B - 20);
  const lines = [...series].map(([name, vs], k) => {
    const pts = vs.map((v, i) => (v === null ? null : `${x(i)},${y(v)}`)).filter((p): p is string => p !== null);
    const color = COLORS[k % COLORS.length];
    return `<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>${vs.map((v, i) => (v === null ? '' : `<circle cx="${x(i)}" cy="${y(v)}" r="3.5" fill="${color}"><title>${esc(name)}: ${v.toFixed(4)}</title></circle>`)).join('')}<text x="${W - R + 10}" y="${20 + k * 15}" font-size="12" fill="${color}">${esc(name)}</text>`;
  });
  const ticks = [0, top / 2, top].map((v) => `<text x="${L - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${v.toFixed(2)}</text><line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
  const labels = judged.map((r, i) => `<text x="${x(i)}" y="${H - B + 16}" font-size="11" text-anchor="middle">run ${i + 1}</text><text x="${x(i)}" y="${H - B + 30}" font-size="10" text-anchor="middle" fill="#555">${esc(r.phase.slice(0, 30))}</text>`);
  const threshold = `<line x1="${L}" x2="${W - R}" y1="${y(psiThreshold)}" y2="${y(psiThreshold)}" stroke="#d62728" stroke-dasharray="5,4"/><text x="${L + 4}" y="${y(psiThreshold) - 4}" font-size="11" fill="#d62728">PSI threshold ${psiThreshold}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">${ticks.join('')}${threshold}${lines.join('')}${labels.join('')}</svg>`;
}

function releaseRow(r: LedgerRecord): string[] {
  const head = [esc(r.createdAt), `<code>${esc(r.id)}</code>`, esc(r.kind)];
  if (r.kind === 'Incident') {
    const d = (r as LedgerRecord<'Incident'>).data;
    return [...head, '', esc(d.type), esc(d.reason.slice(0, 400))];
  }
  if (r.kind === 'Deployment') {
    const d = (r as LedgerRecord<'Deployment'>).data;
    return [...head, `<code>${esc(d.modelVersionId)}</code>`, esc(d.status), esc(`${d.reason}${d.detail ? `: ${d.detail}` : ''}`.slice(0, 400))];
  }
  return [...head, '', '', ''];
}

export function renderHtmlReport(input: HtmlReportInput): string {
  const l = input.lineage;
  const table = (head: readonly string[], rows: readonly (readonly string[])[]): string => `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</table>`;
  const releases = l ? l.releases : [];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cdk-mlops local run — ${esc(input.stackName)}</title>
<style>body{font-family:sans-serif;max-width:1300px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}code{font-size:12px}.ok{color:#1a7f37}.bad{color:#c62828}</style></head>
<body>
<h1>cdk-mlops local run — ${esc(input.stackName)}</h1>
<p>Generated ${esc(new Date().toISOString())}. Everything below ran from the synthesized template on local emulators.</p>
<h2>What serves now, and why</h2>
${l ? `<p>Endpoint <b>${esc(l.endpoint)}</b> serves model <code>${esc(l.serving.data.modelVersionId)}</code> since ${esc(l.serving.createdAt)} (${esc(l.serving.data.reason)}, ${esc(l.serving.data.strategy)}, Lambda version ${esc(l.serving.data.functionVersion ?? '-')}). Hover a box for its record.</p>${lineageSvg(l)}` : '<p>Nothing serves.</p>'}
<h3>Releases and incidents of the endpoint</h3>
${table(['time', 'record', 'kind', 'model', 'status / type', 'why'], releases.map((r) => releaseRow(r)))}
<h2>Drift per feature over time</h2>
${driftSvg(input.driftRuns, input.psiThreshold)}
${table(['run', 'phase', 'model', 'rows', 'features', 'prediction shift', 'verdict'], input.driftRuns.map((r, i) => r.result.status === 'no-model' ? [String(i + 1), esc(r.phase), '', '', '', '', esc(r.result.reason)] : [String(i + 1), esc(r.phase), `<code>${esc(r.result.modelVersionId)}</code>`, String(r.result.report.rows), esc(r.result.report.features.map((f) => `${f.feature}: PSI ${f.psi?.toFixed(3) ?? '-'}, JS ${f.jsDistance?.toFixed(3) ?? '-'}`).join('; ')), esc(r.result.report.prediction.shift?.toFixed(3) ?? '-'), r.result.report.drifted ? `<span class="bad">drift</span>: ${esc(r.result.report.reasons.join('; '))}` : '<span class="ok">no drift</span>']))}
<h2>Alarms, and what their rules did</h2>
<pre>${esc(input.alarmLog.join('\n') || 'no alarm changed state')}</pre>
<h2>Gates</h2>
${table(['gate', 'dataset version', 'model version', 'verdict', 'report'], input.gates.map(({ gate, verdict }) => [esc(gate), `<code>${esc(verdict.datasetVersionId)}</code>`, verdict.modelVersionId ? `<code>${esc(verdict.modelVersionId)}</code>` : '', verdict.passed ? '<span class="ok">passed</span>' : `<span class="bad">failed</span>: ${esc(verdict.reasons.join('; '))}`, `<code>${esc(verdict.reportUri)}</code>`]))}
${l ? `<h3>Gates of the serving model and its data</h3>${table(['gate', 'on', 'verdict', 'metrics', 'thresholds'], l.gates.map((g) => [esc(g.data.gate), g.parents.map((p) => `<code>${esc(p)}</code>`).join(' '), g.data.passed ? '<span class="ok">passed</span>' : `<span class="bad">failed</span>: ${esc(g.data.reasons.join('; '))}`, esc(Object.entries(g.data.metrics).filter(([, v]) => v !== null).slice(0, 12).map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toFixed(4) : v}`).join(', ')), esc(Object.entries(g.data.thresholds).map(([k, v]) => `${k}=${v}`).join(', '))]))}` : ''}
<h2>Training pipelines</h2>
${table(['pipeline', 'dataset version', 'outcome'], input.pipelines.map((p) => [esc(p.name), `<code>${esc(p.input)}</code>`, esc(p.outcome)]))}
<h2>Requests to the endpoint</h2>
${table(['request', 'status', 'model', 'Lambda version', 'answer'], input.requests.map((r) => [esc(r.label), String(r.status), r.modelVersionId ? `<code>${esc(r.modelVersionId)}</code>` : '', esc(r.version ?? ''), esc(r.detail)]))}
<h2>Ledger</h2>
${table(['chain', 'records', 'verified', 'head'], input.reports.map((r) => [esc(r.chain), String(r.length), r.ok ? '<span class="ok">yes</span>' : `<span class="bad">no</span>: ${esc(r.problems.map((p) => p.message).join('; '))}`, `<code>${esc(r.head.slice(0, 16))}</code>`]))}
</body></html>
`;
}
