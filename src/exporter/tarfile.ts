import { createReadStream, promises as fsp } from 'node:fs';
import { encodeHeader, padding, ZERO_BLOCKS } from './tar.js';

/** Writes a plain tar archive of files (no directories needed by readers of OCI/docker archives). */
export class TarFileWriter {
  readonly #fh: fsp.FileHandle;
  readonly #mtime: number;
  readonly #dirs = new Set<string>();
  private constructor(fh: fsp.FileHandle, mtime: number) {
    this.#fh = fh;
    this.#mtime = mtime;
  }
  static async create(file: string, mtime = 0): Promise<TarFileWriter> {
    return new TarFileWriter(await fsp.open(file, 'wx', 0o644), mtime);
  }
  async #write(b: Buffer): Promise<void> {
    let off = 0;
    while (off < b.length) off += (await this.#fh.write(b, off, b.length - off)).bytesWritten;
  }
  async #parents(name: string): Promise<void> {
    const parts = name.split('/');
    parts.pop();
    let cur = '';
    for (const p of parts) {
      cur = cur ? `${cur}/${p}` : p;
      if (this.#dirs.has(cur)) continue;
      this.#dirs.add(cur);
      await this.#write(encodeHeader({ path: cur + '/', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: this.#mtime }));
    }
  }
  async addBytes(name: string, data: Buffer | string): Promise<void> {
    const b = typeof data === 'string' ? Buffer.from(data) : data;
    await this.#parents(name);
    await this.#write(encodeHeader({ path: name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: b.length, mtime: this.#mtime }));
    await this.#write(b);
    await this.#write(Buffer.alloc(padding(b.length)));
  }
  async addFile(name: string, src: string): Promise<void> {
    const st = await fsp.stat(src);
    await this.#parents(name);
    await this.#write(encodeHeader({ path: name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: st.size, mtime: this.#mtime }));
    let n = 0;
    for await (const c of createReadStream(src, { highWaterMark: 1 << 20 })) {
      await this.#write(c as Buffer);
      n += (c as Buffer).length;
    }
    if (n !== st.size) throw new Error(`${src} changed size while being archived`);
    await this.#write(Buffer.alloc(padding(st.size)));
  }
  async close(): Promise<void> {
    await this.#write(ZERO_BLOCKS);
    await this.#fh.sync();
    await this.#fh.close();
  }
  async abort(): Promise<void> {
    await this.#fh.close().catch(() => undefined);
  }
}
