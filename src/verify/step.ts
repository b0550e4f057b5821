import type { PostExportStep } from '../solver/types.js';
import { StratumError } from '../util/errors.js';
import { formatReport, verifyImage, type VerifyReport } from './image.js';

/**
 * `stratum verify` as a step of a build (`build --verify`, `bake --verify`): it runs on the stored image before
 * it is tagged, written out or pushed, so an image that fails is never published under its name.
 */
export function verifyStep(o: { allow?: string[]; onReport?: (r: VerifyReport) => void } = {}): PostExportStep {
  return {
    name: 'verify',
    async run(image) {
      const r = await verifyImage({ root: image.root, image: { name: image.tags[0] ?? image.manifest.digest, manifest: image.manifest }, allow: o.allow ?? [] });
      o.onReport?.(r);
      if (r.findings.length > 0) throw new StratumError(`verify failed:\n${formatReport(r).trimEnd()}`);
    },
  };
}
