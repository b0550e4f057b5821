import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

type Table = Record<string, Record<string, string[]>>;

/**
 * Remembers in which repositories of which registry a blob was seen (pulled from or pushed to), so a
 * push to a sibling repository can ask the registry to mount the blob instead of uploading it again.
 * It is a hint: a stale entry only costs one refused mount, followed by a normal upload.
 */
export class BlobOrigins {
  private table: Table = {};
  private dirty = false;
  /** Repositories kept per blob: the most recent ones are the likeliest to still hold it. */
  static readonly PER_BLOB = 4;

  /** `file` undefined keeps the record in memory only. */
  constructor(readonly file?: string) {}

  private loading: Promise<void> | undefined;

  /** Loads the file once; concurrent callers share the one read. */
  private load(): Promise<void> {
    this.loading ??= (async () => {
      if (!this.file) return;
      try {
        const j = JSON.parse(await fs.readFile(this.file, 'utf8')) as unknown;
        if (j && typeof j === 'object' && !Array.isArray(j)) this.table = j as Table;
      } catch {
        /* missing or unreadable: start empty, it is only a hint */
      }
    })();
    return this.loading;
  }

  async record(registry: string, repository: string, digest: string): Promise<void> {
    await this.load();
    const reg = (this.table[registry] ??= {});
    const list = (reg[digest] ?? []).filter((r) => r !== repository);
    list.unshift(repository);
    reg[digest] = list.slice(0, BlobOrigins.PER_BLOB);
    this.dirty = true;
  }

  /** Other repositories of `registry` known to hold `digest`, most recent first. */
  async sources(registry: string, digest: string, except: string): Promise<string[]> {
    await this.load();
    return (this.table[registry]?.[digest] ?? []).filter((r) => r !== except);
  }

  /** Writes the record if it changed (atomically: temp file then rename). */
  async save(): Promise<void> {
    if (!this.file || !this.dirty) return;
    // Merge with what another process may have written meanwhile.
    await this.load();
    const mine = this.table;
    this.table = {};
    this.loading = undefined;
    await this.load();
    for (const [reg, digests] of Object.entries(mine)) {
      const t = (this.table[reg] ??= {});
      for (const [d, repos] of Object.entries(digests)) {
        t[d] = [...new Set([...repos, ...(t[d] ?? [])])].slice(0, BlobOrigins.PER_BLOB);
      }
    }
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(this.table));
    await fs.rename(tmp, this.file);
    this.dirty = false;
  }
}
