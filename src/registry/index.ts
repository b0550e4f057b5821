/**
 * OCI distribution client: reference parsing, pull/push with auth (docker config, Basic, bearer
 * tokens), TLS with custom CAs, insecure registries, retries, resumable transfers, and tag pinning.
 */
export {
  parseReference,
  formatReference,
  repositoryName,
  manifestReference,
  registryEndpoint,
  normalizeRegistryHost,
  isLoopbackHost,
  namesLocalStore,
  DEFAULT_REGISTRY,
  type ImageReference,
} from './reference.js';
export { RegistryClient, mapLimit, formatPlatform, type RegistryClientOptions, type PushResult, type PulledImage } from './client.js';
export {
  dockerConfigPath,
  readDockerConfig,
  credentialsFor,
  saveCredentials,
  removeCredentials,
  parseWWWAuthenticate,
  repositoryScope,
  type Credentials,
  type Challenge,
  type DockerConfigFile,
} from './auth.js';
export { RegistryError } from './errors.js';
export { BlobOrigins } from './origins.js';
export { DEFAULT_RETRY, backoffDelay, parseRetryAfter, isRetryableError, isRetryableStatus, refusedOnLoopback, type RetryPolicy } from './retry.js';
export { pinYaml, imageReferenceIn, type PinChange, type PinResult, type DigestResolver } from './pin.js';
export { pinFile, pinKind } from './pin-file.js';
export { pinDockerfile, pinBake } from './pin-text.js';
export {
  MediaTypes,
  MANIFEST_ACCEPT,
  isIndexMediaType,
  isManifestMediaType,
  type Descriptor,
  type Platform,
  type ImageManifest,
  type ImageIndex,
  type BlobSource,
  type BlobSink,
  type BlobStore,
  type RegistryEvent,
} from './types.js';
export { createRegistryClient, collect, pullAndTag, parsePlatform, registryImageResolver, type RegistryFlags, type TagStore } from './setup.js';
