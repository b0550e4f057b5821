import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../src/util/exec.js';

/** A git repository with deterministic commits (fixed identity and dates). */
export class FixtureRepo {
  private tick = 0;
  constructor(readonly dir: string) {}

  static async create(parent: string, name: string, branch = 'main'): Promise<FixtureRepo> {
    const dir = join(parent, name);
    await run('git', ['init', '-q', '-b', branch, dir]);
    return new FixtureRepo(dir);
  }

  get url(): string {
    return `file://${this.dir}`;
  }

  async git(...args: string[]): Promise<string> {
    const date = `2024-01-01T00:00:${String(this.tick).padStart(2, '0')}Z`;
    const env = {
      ...process.env,
      GIT_AUTHOR_NAME: 'Fixture',
      GIT_AUTHOR_EMAIL: 'fixture@example.invalid',
      GIT_COMMITTER_NAME: 'Fixture',
      GIT_COMMITTER_EMAIL: 'fixture@example.invalid',
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
      GIT_CONFIG_NOSYSTEM: '1',
      HOME: this.dir,
    };
    return (await run('git', ['-C', this.dir, ...args], { env })).stdout.trim();
  }

  /** Commits one file change; returns the new commit hash. */
  async commit(file: string, content: string, message = `change ${file}`): Promise<string> {
    this.tick++;
    await writeFile(join(this.dir, file), content);
    await this.git('add', file);
    await this.git('commit', '-q', '-m', message);
    return this.git('rev-parse', 'HEAD');
  }
}

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `stratum-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
