// OCI image-spec 1.1 and Docker image-manifest v2 schema 2 media types, and the Accept lists built from them.

/** OCI image manifest (image-spec 1.1 manifest.md). */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** OCI image index (image-spec 1.1 image-index.md). */
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** OCI image config (image-spec 1.1 config.md). */
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** OCI empty descriptor media type: the 2-byte blob `{}` (image-spec 1.1 manifest.md "Guidance for an Empty Descriptor"). */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
/** OCI gzip layer. */
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
/** OCI uncompressed layer. */
export const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
/** OCI zstd layer. */
export const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
/** Docker schema 2 manifest. */
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
/** Docker schema 2 manifest list. */
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** Docker image config. */
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
/** Docker gzip layer. */
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** Media types of manifests that list layers (single platform). */
export const IMAGE_MANIFEST_TYPES: readonly string[] = [OCI_MANIFEST, DOCKER_MANIFEST];
/** Media types of indexes (multi platform). */
export const INDEX_TYPES: readonly string[] = [OCI_INDEX, DOCKER_MANIFEST_LIST];
/** Every manifest media type we read; sent as Accept (distribution 2.8 answers 404 to OCI manifests not accepted). */
export const MANIFEST_TYPES: readonly string[] = [...IMAGE_MANIFEST_TYPES, ...INDEX_TYPES];

/** The empty JSON blob `{}` used as config of artifacts (image-spec 1.1). */
export const EMPTY_JSON_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

/** True when `mediaType` names an index or manifest list. */
export function isIndexType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && INDEX_TYPES.includes(mediaType);
}

/** True when `mediaType` names a single-platform image manifest. */
export function isImageManifestType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && IMAGE_MANIFEST_TYPES.includes(mediaType);
}
