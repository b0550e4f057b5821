/**
 * One self-contained HTML page for a bake run: what failed and where, dependency graph (layered DAG,
 * laid out in report-graph.ts), timeline of targets and their steps in parallel lanes, and image sizes per layer.
 * No scripts or external resources: it opens from a file, a CI artifact or a mail attachment.
 */
import type { BakeRun, StepRecord, TargetRecord } from './schedule.js';
import { humanDuration } from './summary.js';
import { humanSize } from '../util/size.js';
import { layoutGraph } from './report-graph.js';

export { layoutGraph, type GraphLayout } from './report-graph.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STATUS_FILL: Record<string, string> = { done: '#e3f4e6', 'up-to-date': '#e8f0fe', failed: '#fde2e1', skipped: '#eceff1', pending: '#eceff1', running: '#fff4d6' };
const STATUS_STROKE: Record<string, string> = { done: '#2e7d32', 'up-to-date': '#1a73e8', failed: '#c62828', skipped: '#90a4ae', pending: '#90a4ae', running: '#f9a825' };

function trunc(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

function graphSvg(run: BakeRun): string {
  const g = layoutGraph(run.targets);
  const rec = new Map(run.targets.map((t) => [t.name, t]));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" data-testid="graph" width="${g.width}" height="${g.height}" viewBox="0 0 ${g.width} ${g.height}" role="img" aria-label="dependency graph">`);
  parts.push('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#78909c"/></marker></defs>');
  for (const e of g.edges) parts.push(`<path class="edge" data-from="${esc(e.from)}" data-to="${esc(e.to)}" d="${e.d}" fill="none" stroke="#90a4ae" stroke-width="1.5" marker-end="url(#arrow)"/>`);
  for (const n of g.nodes) {
    const t = rec.get(n.name)!;
    const r = t.result;
    const sub = r ? `${humanDuration(t.durationMs ?? 0)} · ${r.stepsCached}/${r.stepsTotal} cached` : t.status;
    parts.push(
      `<g class="node" data-testid="graph-node" data-target="${esc(n.name)}" data-status="${t.status}"><title>${esc(n.name)}: ${esc(t.status)}${t.error ? ' — ' + esc(t.error) : ''}</title>` +
        `<rect x="${n.x}" y="${n.y}" width="${n.w}" height="${n.h}" rx="6" fill="${STATUS_FILL[t.status]}" stroke="${STATUS_STROKE[t.status]}" stroke-width="1.5"/>` +
        `<text x="${n.x + 10}" y="${n.y + 17}" font-size="13" font-weight="600" fill="#263238">${esc(trunc(n.name, 22))}</text>` +
        `<text x="${n.x + 10}" y="${n.y + 32}" font-size="11" fill="#546e7a">${esc(sub)}</text></g>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** Greedy interval partitioning: each target takes the first lane free at its start. */
export function assignLanes(targets: Pick<TargetRecord, 'name' | 'start' | 'end'>[]): Map<string, number> {
  const laneEnd: number[] = [];
  const lanes = new Map<string, number>();
  for (const t of [...targets].filter((x) => x.start !== undefined).sort((a, b) => a.start! - b.start!)) {
    let i = laneEnd.findIndex((e) => e <= t.start!);
    if (i < 0) i = laneEnd.push(0) - 1;
    laneEnd[i] = t.end ?? t.start!;
    lanes.set(t.name, i);
  }
  return lanes;
}

/** The steps of a failed target that never finished: the last one started is where it failed. */
function failedStep(t: TargetRecord): StepRecord | undefined {
  if (t.status !== 'failed') return undefined;
  return t.steps.filter((s) => s.end === undefined).at(-1);
}

function timelineSvg(run: BakeRun): string {
  const started = run.targets.filter((t) => t.start !== undefined);
  const lanes = assignLanes(run.targets);
  const nLanes = Math.max(1, ...[...lanes.values()].map((l) => l + 1));
  // Lane labels live in a gutter left of the plot, the axis above it: neither can cover the other.
  const GUTTER = 64;
  const WIDTH = 1000;
  const RIGHT = 40;
  const LANE_H = 58;
  const TOP = 28;
  const total = Math.max(1, run.durationMs, ...started.map((t) => t.end ?? 0));
  const x = (ms: number) => GUTTER + (ms / total) * WIDTH;
  const height = TOP + nLanes * LANE_H + 10;
  const full = GUTTER + WIDTH + RIGHT;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" data-testid="timeline" width="${full}" height="${height}" viewBox="0 0 ${full} ${height}" role="img" aria-label="timeline">`);
  parts.push('<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#cfd8dc"/><line x1="0" y1="0" x2="0" y2="6" stroke="#90a4ae" stroke-width="3"/></pattern></defs>');
  const tick = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600].map((s) => s * 1000).find((s) => total / s <= 10) ?? 3_600_000;
  const axis = [`<line x1="${GUTTER}" y1="${TOP - 4}" x2="${x(total)}" y2="${TOP - 4}" stroke="#b0bec5"/>`];
  for (let t = 0; t <= total; t += tick) {
    axis.push(`<line x1="${x(t)}" y1="${TOP - 8}" x2="${x(t)}" y2="${height - 6}" stroke="#eceff1"/>`, `<text x="${x(t)}" y="${TOP - 12}" font-size="10" fill="#78909c" text-anchor="middle">${esc(humanDuration(t))}</text>`);
  }
  parts.push(`<g data-testid="axis">${axis.join('')}</g>`);
  for (let l = 0; l < nLanes; l++) parts.push(`<text data-testid="lane-label" x="${GUTTER - 10}" y="${TOP + l * LANE_H + 29}" font-size="10" fill="#90a4ae" text-anchor="end">lane ${l + 1}</text>`);
  for (const t of started) {
    const lane = lanes.get(t.name)!;
    const y = TOP + lane * LANE_H + 6;
    const x1 = x(t.start!);
    const w = Math.max(2, x(t.end ?? t.start!) - x1);
    parts.push(
      `<g data-testid="timeline-bar" data-target="${esc(t.name)}" data-status="${t.status}" data-lane="${lane}"><title>${esc(t.name)} ${esc(humanDuration(t.durationMs ?? 0))} (${esc(t.status)})</title>` +
        `<rect x="${x1}" y="${y}" width="${w}" height="22" rx="3" fill="${STATUS_FILL[t.status]}" stroke="${STATUS_STROKE[t.status]}"/>` +
        `<text x="${x1 + 4}" y="${y + 15}" font-size="11" font-weight="600" fill="#263238">${esc(trunc(t.name, Math.max(3, Math.floor(w / 7))))}</text></g>`,
    );
    const failed = failedStep(t);
    for (const s of t.steps) {
      // the step it failed in ran until the target stopped
      const end = s.end ?? (s === failed ? t.end : undefined) ?? s.start;
      const sx = x(s.start);
      const sw = Math.max(1.5, x(end) - sx);
      const fill = s === failed ? STATUS_STROKE.failed : s.cached ? 'url(#hatch)' : '#5c6bc0';
      parts.push(
        `<rect data-testid="step" data-target="${esc(t.name)}" data-cached="${s.cached ? 'true' : 'false'}"${s === failed ? ' data-failed="true"' : ''} x="${sx}" y="${y + 26}" width="${sw}" height="12" fill="${fill}" stroke="#fff" stroke-width="0.5"><title>${esc(t.name)} ${esc(s.stage)} #${s.step}: ${esc(s.text)}${s.cached ? ' (cached)' : ''}${s === failed ? ' (failed)' : ''}${s.end !== undefined ? ` ${humanDuration(s.end - s.start)}` : ''}</title></rect>`,
      );
    }
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** Each failed target: the steps it ran, the one it failed in, and its whole error. */
function failuresHtml(run: BakeRun): string {
  return run.targets
    .filter((t) => t.status === 'failed')
    .map((t) => {
      const failed = failedStep(t);
      const steps = t.steps.map((s) => {
        const state = s === failed ? 'failed' : s.end === undefined ? 'stopped' : s.cached ? 'cached' : 'done';
        const took = s.end !== undefined ? humanDuration(s.end - s.start) : t.end !== undefined ? `after ${humanDuration(t.end - s.start)}` : '';
        const note = { failed: `failed ${took}`, stopped: 'stopped', cached: 'cached', done: took }[state];
        return `<li data-testid="failure-step" data-state="${state}" class="fs-${state}"><span class="mark">${{ failed: '✗', stopped: '■', cached: '✓', done: '✓' }[state]}</span> <code>[${esc(s.stage)} ${s.step}/${s.total}]</code> ${esc(s.text)} <span class="muted">${esc(note)}</span></li>`;
      });
      const where = !t.steps.length
        ? '<p class="muted">It failed before its first step.</p>'
        : failed
          ? ''
          : '<p class="muted">Every step finished; it failed after them (export, push or verify).</p>';
      return `<div class="failure" data-testid="failure" data-target="${esc(t.name)}">
<div><b>${esc(t.name)}</b> <span class="st-failed">failed</span>${t.durationMs !== undefined ? ` after ${esc(humanDuration(t.durationMs))}` : ''} <span class="muted">· log <code>${esc(t.logFile)}</code></span></div>
${steps.length ? `<ol class="fsteps">${steps.join('')}</ol>` : ''}${where}
<pre class="error" data-testid="failure-error">${esc(t.error ?? '(no error message)')}</pre></div>`;
    })
    .join('\n');
}

const LAYER_COLORS = ['#5c6bc0', '#26a69a', '#ffa726', '#ab47bc', '#42a5f5', '#ef5350', '#8d6e63', '#66bb6a', '#ec407a', '#78909c'];

function sizesHtml(run: BakeRun): string {
  const built = run.targets.filter((t) => t.result);
  if (!built.length) return '<p class="muted">No image was built.</p>';
  const max = Math.max(1, ...built.map((t) => t.result!.size));
  const rows = [...built].sort((a, b) => b.result!.size - a.result!.size).map((t) => {
    const r = t.result!;
    const segs = r.layers
      .map((l, i) => {
        const pct = (l.size / max) * 100;
        return `<span class="layer" data-testid="layer" data-size="${l.size}" style="width:${pct.toFixed(3)}%;background:${LAYER_COLORS[i % LAYER_COLORS.length]}" title="${esc(`${humanSize(l.size)} ${l.createdBy}`)}"></span>`;
      })
      .join('');
    const table = r.layers
      .map((l, i) => `<tr><td>${i + 1}</td><td class="num">${esc(humanSize(l.size))}</td><td><code>${esc(l.digest.replace(/^sha256:/, '').slice(0, 12))}</code></td><td class="cmd">${esc(trunc(l.createdBy, 140))}</td></tr>`)
      .join('');
    return `<div class="size-row" data-testid="size-row" data-target="${esc(t.name)}" data-size="${r.size}">
<div class="size-head"><b>${esc(t.name)}</b> <span class="size" data-testid="size-text">${esc(humanSize(r.size))}</span> <span class="muted">${r.layers.length} layer(s) · <code>${esc(r.manifestDigest.replace(/^sha256:/, '').slice(0, 12))}</code></span></div>
<div class="bar">${segs}</div>
<details><summary>layers</summary><table class="layers"><tr><th>#</th><th>size</th><th>digest</th><th>created by</th></tr>${table}</table></details></div>`;
  });
  return rows.join('\n');
}

/** Renders the run as one self-contained HTML document. */
export function renderReport(run: BakeRun): string {
  const count = (s: string) => run.targets.filter((t) => t.status === s).length;
  const totalSteps = run.targets.reduce((a, t) => a + (t.result?.stepsTotal ?? 0), 0);
  const cachedSteps = run.targets.reduce((a, t) => a + (t.result?.stepsCached ?? 0), 0);
  const rows = run.targets
    .map((t) => {
      const r = t.result;
      return `<tr data-testid="summary-row" data-target="${esc(t.name)}"><td>${esc(t.name)}</td><td class="st-${t.status}">${esc(t.status)}</td><td class="num">${t.durationMs !== undefined ? esc(humanDuration(t.durationMs)) : '-'}</td><td class="num">${r ? `${r.stepsCached}/${r.stepsTotal}` : '-'}</td><td class="num">${r ? esc(humanSize(r.size)) : '-'}</td><td class="num">${r ? r.layers.length : '-'}</td><td><code>${esc((r?.manifestDigest ?? t.upToDate?.digest ?? '').replace(/^sha256:/, '').slice(0, 12))}</code></td><td class="err">${esc(t.error?.split('\n')[0] ?? t.reason ?? '')}</td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stratum bake ${esc(run.runId)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#263238;margin:24px;background:#fafafa}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #e0e0e0;padding-bottom:4px}
.muted{color:#78909c} code{font:12px ui-monospace,Menlo,Consolas,monospace}
.card{background:#fff;border:1px solid #e0e0e0;border-radius:8px;padding:12px;overflow-x:auto}
table{border-collapse:collapse} td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #eceff1} .num{text-align:right}
.st-done{color:#2e7d32;font-weight:600} .st-failed{color:#c62828;font-weight:600} .st-skipped{color:#90a4ae} .st-up-to-date{color:#1a73e8;font-weight:600}
.err{color:#c62828;max-width:420px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.size-row{margin:10px 0} .bar{display:flex;height:16px;background:#eceff1;border-radius:3px;overflow:hidden;margin:4px 0}
.layer{display:block;height:100%;min-width:1px;border-right:1px solid #fff} .layers td{font-size:12px} .cmd{font:11px ui-monospace,monospace;color:#455a64}
.failure+.failure{margin-top:14px;border-top:1px solid #eceff1;padding-top:10px}
.fsteps{margin:6px 0;padding-left:22px} .fsteps li{margin:2px 0} .mark{display:inline-block;width:14px}
.fs-failed{color:#c62828;font-weight:600} .fs-stopped{color:#90a4ae} .fs-done .mark,.fs-cached .mark{color:#2e7d32}
pre.error{margin:6px 0 0;padding:8px 10px;background:#fff5f5;border:1px solid #f5c6c5;border-radius:4px;color:#b71c1c;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;overflow-wrap:anywhere;max-height:360px;overflow:auto}
.legend span{display:inline-block;margin-right:14px} .sw{display:inline-block;width:12px;height:10px;vertical-align:middle;margin-right:4px}
</style></head><body>
<h1>stratum bake <code>${esc(run.runId)}</code></h1>
<div class="muted" data-testid="overview">${run.ok ? 'succeeded' : 'FAILED'} · ${run.targets.length} targets: ${count('done')} built, ${count('up-to-date') ? `${count('up-to-date')} up to date, ` : ''}${count('failed')} failed, ${count('skipped')} skipped · ${esc(humanDuration(run.durationMs))} with up to ${run.jobs} in parallel · ${cachedSteps}/${totalSteps} steps from cache · started ${esc(new Date(run.startedAt).toISOString())}</div>
<h2>Targets</h2>
<div class="card"><table data-testid="summary"><tr><th>target</th><th>status</th><th>time</th><th>cached</th><th>size</th><th>layers</th><th>digest</th><th></th></tr>
${rows}
</table></div>
${count('failed') ? `<h2>Failures</h2>\n<div class="card" data-testid="failures">${failuresHtml(run)}</div>` : ''}
<h2>Dependency graph</h2>
<div class="card">${graphSvg(run)}</div>
<h2>Timeline</h2>
<div class="card"><div class="legend muted"><span><i class="sw" style="background:#5c6bc0"></i>step run</span><span><i class="sw" style="background:#b0bec5"></i>step from cache (hatched)</span><span><i class="sw" style="background:#c62828"></i>step that failed</span></div>
${timelineSvg(run)}</div>
<h2>Image sizes</h2>
<div class="card" data-testid="sizes">${sizesHtml(run)}</div>
</body></html>
`;
}
