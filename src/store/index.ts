export { ContentStore, digestHex, sha256, type BlobInfo } from './content.js';
export { ImageStore } from './images.js';
export { MemberIndex, type MemberPlace } from './members.js';
export { normalizeRef, LOCAL_REGISTRY, type ParsedRef } from './reference.js';
export { withFileLock } from './lock.js';
export { secureStoreRoot } from './root.js';
export { atomicWrite, fsyncDir, uniqueName } from './fsutil.js';
export * from './types.js';
export { checkManifest, checkIndex, checkImageConfig } from './validate.js';
export {
  storeLock,
  withStoreLock,
  tryExclusive,
  recoverStore,
  sweepTmp,
  storeUsage,
  prune,
  checkStore,
  clearLeftovers,
  diskUsage,
  parseSize,
  parseDuration,
  type LockMode,
  type LockOptions,
  type Release,
  type UsageEntry,
  type PruneOptions,
  type PruneReport,
  type Problem,
  type CheckOptions,
} from './gc.js';
