// Test image fixtures: the Debian multi-layer OCI image, big synthetic layers, tree descriptions and comparison.
//
// Usage (all fixtures are generated once per machine and cached under fixtureCacheRoot(); treat them as read-only):
//
//   import { debianImage, expectedTree, compareTrees } from '../helpers/images.js';
//   import { missingNeeds } from '../helpers/capabilities.js';
//   const skip = missingNeeds({ root: true, commands: ['debootstrap', 'umoci', 'skopeo'] });
//   describe.skipIf(skip)('…', () => {
//     it('…', async () => {
//       const img = await debianImage();        // first call: debootstrap (~1 min) + umoci (~25 s); then instant
//       img.ref                                 // 'oci:<layoutDir>:latest'  (4 gzip layers, see below)
//       img.prefixRef(2)                        // 'oci:<layoutDir>:prefix-2' (first 2 layers only)
//       img.layers[i].uncompressedTarPath       // gunzipped layer i, plus digest/size/mediaType/diffId
//       const root = await img.unpackedRoot(2); // `umoci unpack` of prefix-2 (per process, temp); no argument: all layers (cached)
//       const diffs = compareTrees(await expectedTree(root), await expectedTree(mountPoint));
//       expect(diffs).toEqual([]);
//     });
//   });
//
// debianImage() throws an Error starting with 'SKIP:' when not root or a tool is missing; gate with missingNeeds().
// Layers of the Debian image (details in ./images/debian-layers.ts):
//   1 debootstrap --variant=minbase bookworm, trimmed (umoci repack; ~6650 entries, ~120 MB tar)
//   2 /opt/turbo (hand-made tar): 8 MiB seeded random file, seq.txt, 200 small files, symlinks (fast, slow, dangling),
//     a hardlink within the layer and one to the LOWER-layer /usr/bin/env, xattrs, setuid, uid/gid 1000 and 100000/200000,
//     fifo, char and block devices, sticky dir, a pax path > 100 bytes, a 255-byte name, files to delete later
//   3 umoci repack: per-file whiteouts (.wh.delete-me.txt, usr/bin/.wh.apt-cdrom, opaque-dir/.wh.old*.txt), a recreated
//     directory, an appended hardlinked file (written as file + `h` entry)
//   4 hand-made: opaque whiteout opt/turbo/opaque-target/.wh..wh..opq + after-opaque.txt
// Big synthetic layers (no root needed; each { tarPath, gzPath, expectation }): manySmallFilesLayer (100k files),
// wideDirectoryLayer (50k entries in one dir), sparseFileLayer (5 GiB old-GNU sparse), hugeFileLayer (> 4 GiB, PAX sparse
// 1.0); hugeStreamedLayer is a NON-sparse > 4 GiB file kept only as a ~7 MB gzip (stream it: the tar is 4 GiB).
export { DEBIAN_LAYER_COUNT, blobPath, debianImage, pushToRegistry, readLayoutManifest } from './images/debian-image.js';
export type { DebianImage, FixtureLayer } from './images/debian-image.js';
export { DEEP_DIR, FIXTURE_EPOCH, LONG_NAME, LOWER_HARDLINK_TARGET, SMALL_FILE_COUNT } from './images/debian-layers.js';
export { DEFAULT_DEBIAN_MIRROR, debianMirror, mirrorFromAptSources } from './images/debian-rootfs.js';
export type { AptSourcesFile } from './images/debian-rootfs.js';
export { compareTrees, expectedTree } from './images/tree.js';
export { withFixtureLock } from './images/fixture-lock.js';
export type { CompareOptions, TreeEntry } from './images/tree.js';
export { seededBytes, seededText, sequenceText } from './images/content.js';
export { TarFileWriter, tarBytes, writeTarFile } from './images/tar-writer.js';
export type { TarEntrySpec, TarEntryType } from './images/tar-writer.js';
export { HUGE_STREAMED_SIZE, hugeFileLayer, hugeStreamedLayer, manySmallFilesLayer, smallFileContent, sparseFileLayer, wideDirectoryLayer, wideEntryName } from './images/big-layers.js';
export type { DataRegion, ExpectedFile, LayerExpectation, LayerFixture, StreamedLayerFixture } from './images/big-layers.js';
