// Child process for images.test.ts: tags N names in a shared store.
import { ContentStore } from '../../../src/store/content.js';
import { ImageStore } from '../../../src/store/images.js';
import { MediaTypes } from '../../../src/store/types.js';

const [root, prefix, n, digest] = process.argv.slice(2) as [string, string, string, string];
const images = new ImageStore(new ContentStore(root));
for (let i = 0; i < Number(n); i++) {
  await images.tag(`${prefix}-${i}`, { mediaType: MediaTypes.manifest, digest, size: 15 });
}
