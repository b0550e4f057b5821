import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { ContentStore } from '../store/content.js';
import { normalizeRef } from '../store/reference.js';
import type { Descriptor } from '../store/types.js';
import { StratumError } from '../util/errors.js';
import { openLayerStream } from './layer-stream.js';
import { writeOutput } from './atomic.js';
import { readManifest } from './image.js';
import { TarFileWriter } from './tarfile.js';

/**
 * Writes a `docker load`-able archive: manifest.json, the config, and each layer uncompressed (as docker-archive
 * readers expect), stored by diffID under blobs/sha256/.
 */
export async function exportDockerArchive(store: ContentStore, manifest: Descriptor, destFile: string, repoTags: string[]): Promise<void> {
  const tags = repoTags.map((t) => {
    const r = normalizeRef(t);
    if (r.digest || !r.tag) throw new StratumError(`docker archive tags need name:tag, got ${t}`, 2);
    return `${r.registry ? r.registry + '/' : ''}${r.repository}:${r.tag}`;
  });
  const { manifest: m, config } = await readManifest(store, manifest);
  const diffIDs = config.rootfs?.diff_ids ?? [];
  if (diffIDs.length !== m.layers.length) throw new StratumError(`${manifest.digest}: config has ${diffIDs.length} diff_ids for ${m.layers.length} layers`);
  await writeOutput(destFile, 'file', async (tmp) => {
    const w = await TarFileWriter.create(tmp);
    try {
      const layerPaths: string[] = [];
      for (let i = 0; i < m.layers.length; i++) {
        const l = m.layers[i]!;
        const diffID = diffIDs[i]!;
        const name = `blobs/sha256/${diffID.slice(7)}`;
        layerPaths.push(name);
        const plain = store.tempPath('docker-layer-');
        try {
          const { stream } = await openLayerStream(store.blobPath(l.digest));
          const h = createHash('sha256');
          const fh = await fsp.open(plain, 'wx', 0o600);
          try {
            for await (const c of stream) {
              h.update(c);
              let off = 0;
              while (off < c.length) off += (await fh.write(c, off, c.length - off)).bytesWritten;
            }
          } finally {
            await fh.close();
          }
          if ('sha256:' + h.digest('hex') !== diffID) throw new StratumError(`layer ${l.digest} does not match its diffID ${diffID}`);
          await w.addFile(name, plain);
        } finally {
          await fsp.rm(plain, { force: true });
        }
      }
      const cfgName = `blobs/sha256/${m.config.digest.slice(7)}`;
      await w.addBytes(cfgName, await store.readBytes(m.config.digest));
      await w.addBytes('manifest.json', JSON.stringify([{ Config: cfgName, RepoTags: tags, Layers: layerPaths }]) + '\n');
      await w.close();
    } catch (e) {
      await w.abort();
      throw e;
    }
  });
}
