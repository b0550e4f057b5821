/**
 * buildctl --progress rawjson → stratum's progress events. buildctl writes one SolveStatus JSON object per
 * update (indented or not, so objects are split by brace depth, not by line); anything else it prints (its
 * final "error: …") is kept as text for the failure message.
 */
import type { ProgressEvent } from './types.js';

interface Vertex {
  digest: string;
  name?: string;
  started?: string;
  completed?: string;
  cached?: boolean;
  error?: string;
}
interface SolveStatus {
  vertexes?: Vertex[];
  logs?: { vertex: string; data?: string }[];
}

interface Step {
  stage: string;
  step: number;
  total: number;
  started: number;
  done: boolean;
}

/** "[stage-1 2/3] RUN x" or "[2/3] COPY a /a": the Dockerfile steps; "[internal] …" and the rest are not. */
const STEP = /^\[(?:(\S+) )?(\d+)\/(\d+)\] ([\s\S]*)$/;

export class RawJsonProgress {
  private buf = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;
  private readonly steps = new Map<string, Step>();
  private readonly exports = new Set<string>();
  /** What buildctl printed outside its JSON objects. */
  text = '';
  stepsTotal = 0;
  stepsCached = 0;

  constructor(private readonly emit: (e: ProgressEvent) => void) {}

  write(chunk: string): void {
    const base = this.buf.length;
    this.buf += chunk;
    for (let i = base; i < this.buf.length; i++) {
      const c = this.buf[i]!;
      if (this.depth === 0) {
        if (c === '{') {
          this.start = i;
          this.depth = 1;
        } else this.text += c;
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
      } else if (c === '"') this.inString = true;
      else if (c === '{') this.depth++;
      else if (c === '}' && --this.depth === 0) {
        this.status(this.buf.slice(this.start, i + 1));
        this.buf = this.buf.slice(i + 1);
        i = -1;
      }
    }
    if (this.depth === 0) this.buf = '';
  }

  private status(json: string): void {
    let s: SolveStatus;
    try {
      s = JSON.parse(json) as SolveStatus;
    } catch {
      this.text += json;
      return;
    }
    const now = Date.now();
    for (const v of s.vertexes ?? []) {
      const m = v.name ? STEP.exec(v.name) : null;
      if (!m) {
        // the exporter's vertexes ("exporting to image", "pushing layers") read as the local engine's export lines
        if (v.completed && v.name && /^(exporting|pushing|naming|writing)/.test(v.name) && !this.exports.has(v.name)) {
          this.exports.add(v.name);
          this.emit({ kind: 'export', what: v.name, time: now });
        }
        continue;
      }
      let st = this.steps.get(v.digest);
      if (!st && (v.started || v.completed)) {
        st = { stage: m[1] ?? 'build', step: Number(m[2]), total: Number(m[3]), started: v.started ? Date.parse(v.started) : now, done: false };
        this.steps.set(v.digest, st);
        this.stepsTotal++;
        this.emit({ kind: 'step-start', stage: st.stage, step: st.step, total: st.total, text: m[4]!, time: now });
      }
      if (st && v.completed && !st.done) {
        st.done = true;
        if (v.cached) this.stepsCached++;
        const end = Date.parse(v.completed);
        this.emit({ kind: 'step-done', stage: st.stage, step: st.step, cached: !!v.cached, time: now, durationMs: Math.max(0, (Number.isNaN(end) ? now : end) - st.started) });
      }
    }
    for (const l of s.logs ?? []) {
      const st = this.steps.get(l.vertex);
      if (st && l.data) this.emit({ kind: 'step-log', stage: st.stage, step: st.step, data: Buffer.from(l.data, 'base64').toString('utf8'), time: now });
    }
  }
}
