import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { build } from '../../../src/solver/build.js';
import type { BuildOptions, BuildResult, ProgressEvent } from '../../../src/solver/types.js';
import { ensureDebianBase } from '../../helpers/base.js';

export const BASE = 'localhost/debian:bookworm';

/** What one build did, step by step (only steps that make snapshots: RUN, COPY, ADD, WORKDIR). */
export interface Outcome {
  result: BuildResult;
  steps: { stage: string; text: string; cached: boolean }[];
  /** Texts of the RUN/COPY/ADD steps that ran (were not cached). */
  ran: string[];
  cached: string[];
}

const SNAPSHOT_STEP = /^(RUN|COPY|ADD)\b/i;

export async function runBuild(opts: BuildOptions): Promise<Outcome> {
  const texts = new Map<string, string>();
  const steps: Outcome['steps'] = [];
  const user = opts.onProgress;
  const result = await build({
    // A fixed `created`, so equal inputs give equal manifest digests.
    sourceDateEpoch: 1700000000,
    ...opts,
    onProgress: (e: ProgressEvent) => {
      user?.(e);
      if (e.kind === 'step-start') texts.set(`${e.stage}#${e.step}`, e.text);
      if (e.kind === 'step-done') {
        const text = texts.get(`${e.stage}#${e.step}`) ?? '';
        if (SNAPSHOT_STEP.test(text)) steps.push({ stage: e.stage, text, cached: e.cached });
      }
    },
  });
  return {
    result,
    steps,
    ran: steps.filter((s) => !s.cached).map((s) => s.text),
    cached: steps.filter((s) => s.cached).map((s) => s.text),
  };
}

/** A store root with the Debian base tagged, plus a scratch area; `cleanup` removes both. */
export async function makeStore(prefix: string): Promise<{ root: string; work: string; cleanup: () => Promise<void> }> {
  const work = await mkdtemp(path.join(os.tmpdir(), `stratum-${prefix}-`));
  const root = path.join(work, 'root');
  await ensureDebianBase(root, BASE);
  return {
    root,
    work,
    cleanup: async () => {
      await rm(work, { recursive: true, force: true });
    },
  };
}

/** Writes files (path -> content) under dir, making parents. */
export async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, content);
  }
}

export async function readOut(dir: string, rel: string): Promise<string> {
  return readFile(path.join(dir, rel), 'utf8');
}
