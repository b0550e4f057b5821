/** End-of-run outputs: the summary table and the --metadata-file JSON. */
import fs from 'node:fs';
import path from 'node:path';
import type { BakeRun } from './schedule.js';

import { humanSize } from '../util/size.js';

export { humanSize };

export function humanDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

/** A plain-text table: target, status, time, steps cached/total, size, layers, digest. */
export function summaryTable(run: BakeRun): string {
  const head = ['TARGET', 'STATUS', 'TIME', 'CACHED', 'SIZE', 'LAYERS', 'DIGEST'];
  const rows = run.targets.map((t) => {
    const r = t.result;
    const there = t.upToDate?.digest;
    return [
      t.name,
      t.status === 'done' ? 'ok' : t.status,
      t.durationMs !== undefined ? humanDuration(t.durationMs) : '-',
      r ? `${r.stepsCached}/${r.stepsTotal}` : '-',
      r ? humanSize(r.size) : '-',
      r ? String(r.layers.length) : '-',
      (r?.manifestDigest ?? there)?.replace(/^sha256:/, '').slice(0, 12) ?? '-',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  const done = run.targets.filter((t) => t.status === 'done').length;
  const upToDate = run.targets.filter((t) => t.status === 'up-to-date').length;
  const lines = [fmt(head), ...rows.map(fmt)];
  lines.push(`${done}/${run.targets.length} built${upToDate ? `, ${upToDate} up to date` : ''} in ${humanDuration(run.durationMs)}${run.ok ? '' : ' — FAILED'}; logs: ${path.join(run.runDir, 'logs')}`);
  for (const t of run.targets) for (const p of t.pushed ?? []) lines.push(`${t.name} pushed ${p}`);
  for (const t of run.targets.filter((x) => x.upToDate)) {
    lines.push(`${t.name} skipped: up to date in ${t.upToDate!.ref}`);
    for (const tag of t.upToDate!.retagged) lines.push(`${t.name} tagged ${tag}@${t.upToDate!.digest}`);
  }
  for (const t of run.targets.filter((x) => x.status === 'failed')) lines.push(`${t.name} failed: ${(t.error ?? '').split('\n')[0]} (log: ${t.logFile})`);
  return lines.join('\n') + '\n';
}

/** buildx-shaped metadata: per target `containerimage.digest`, `image.name`, plus stratum's own keys. */
export function metadata(run: BakeRun): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const t of run.targets) {
    const m: Record<string, unknown> = { 'stratum.status': t.status };
    if (t.result) {
      m['containerimage.digest'] = t.result.manifestDigest;
      m['containerimage.config.digest'] = t.result.configDigest;
      if (t.result.tags.length) m['image.name'] = t.result.tags.join(',');
      m['stratum.size'] = t.result.size;
      m['stratum.layers'] = t.result.layers.length;
      m['stratum.steps.total'] = t.result.stepsTotal;
      m['stratum.steps.cached'] = t.result.stepsCached;
    }
    if (t.upToDate) {
      // the image the registry already had: what a build would have pushed
      m['containerimage.digest'] = t.upToDate.digest;
      if (t.tags.length) m['image.name'] = t.tags.join(',');
      m['stratum.upToDate'] = t.upToDate.ref;
    }
    if (t.inputs) m['stratum.inputs.digest'] = t.inputs;
    if (t.durationMs !== undefined) m['stratum.durationMs'] = t.durationMs;
    if (t.error) m['stratum.error'] = t.error;
    if (t.reason) m['stratum.reason'] = t.reason;
    m['stratum.log'] = t.logFile;
    out[t.name] = m;
  }
  return out;
}

export function writeMetadata(run: BakeRun, file: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(tmp, JSON.stringify(metadata(run), null, 2) + '\n');
  fs.renameSync(tmp, file);
}
