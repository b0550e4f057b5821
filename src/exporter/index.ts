export { writeLayer, layerMediaType, layerMemoKey, parseLayerMemoKey, treeDiffID, LAYER_FORMAT, OPAQUE_MARKER, WHITEOUT_PREFIX, type Compression, type LayerInfo, type WriteLayerOptions } from './layer.js';
export { applyLayer, openLayerStream, verifyLayerBlob, type ApplyOptions, type LayerBlob } from './apply.js';
export { writeImage, collectBlobs, readManifest, pickPlatform } from './image.js';
export { exportOciLayout, importOciLayout } from './oci.js';
export { exportDockerArchive } from './docker.js';
export { exportRootfs } from './rootfs.js';
export { importTarball, type ImportTarballOptions } from './tarball.js';
export { writeOutput } from './atomic.js';
export { TarReader, encodeHeader, type TarEntry, type TarHeader } from './tar.js';
