// A lazily served layer: which indexed image, index and layer position a committed snapshot stands for, and its label encoding.

/** containerd's remote-snapshotter target label (snapshots.TargetSnapshotLabel, containerd v1.6). */
export const TARGET_SNAPSHOT_LABEL = 'containerd.io/snapshot.ref';

/** CRI's per-layer snapshot labels (containerd v1.6 pkg/snapshotters AppendInfoHandlerWrapper). */
export const CRI_LABELS = {
  imageRef: 'containerd.io/snapshot/cri.image-ref',
  manifestDigest: 'containerd.io/snapshot/cri.manifest-digest',
  layerDigest: 'containerd.io/snapshot/cri.layer-digest',
} as const;

/** turbo.ociv1 layer annotation keys (docs/format.md "Layer annotations v1"), forwarded by containerd as Prepare labels: discovery step 2. */
export { LAYER_ANNOTATION as TURBO_LAYER_LABELS } from '../format/artifact/layer-annotations.js';

/** Our labels: on a Prepare they pin the index (discovery step 1); on a lazy committed snapshot they record what serves it. */
export const LAZY_LABELS = {
  imageRef: 'dev.turbo-oci/image-ref',
  indexDigest: 'dev.turbo-oci/index-digest',
  layerIndex: 'dev.turbo-oci/layer-index',
  layerCount: 'dev.turbo-oci/layer-count',
} as const;

/** One layer of an indexed image, served from the image's ext4 device instead of being unpacked. */
export interface LazyLayer {
  /** Image reference the serve-nbd daemon opens (registry ref, by digest when known). */
  imageRef: string;
  /** Digest of the index artifact chosen for the image. */
  indexDigest: string;
  /** Position of the layer in the image (0 = base). */
  layerIndex: number;
  /** Number of layers of the indexed image. */
  layerCount: number;
}

/** The lazy layer recorded in `labels`, or undefined when they do not name one completely. */
export function lazyLayerOf(labels: Record<string, string>): LazyLayer | undefined {
  const imageRef = labels[LAZY_LABELS.imageRef];
  const indexDigest = labels[LAZY_LABELS.indexDigest];
  const layerIndex = Number(labels[LAZY_LABELS.layerIndex]);
  const layerCount = Number(labels[LAZY_LABELS.layerCount]);
  if (!imageRef || !indexDigest || !Number.isInteger(layerIndex) || !Number.isInteger(layerCount) || layerIndex < 0 || layerIndex >= layerCount) return undefined;
  return { imageRef, indexDigest, layerIndex, layerCount };
}

/** The labels that record `layer`. */
export function lazyLabels(layer: LazyLayer): Record<string, string> {
  return {
    [LAZY_LABELS.imageRef]: layer.imageRef,
    [LAZY_LABELS.indexDigest]: layer.indexDigest,
    [LAZY_LABELS.layerIndex]: String(layer.layerIndex),
    [LAZY_LABELS.layerCount]: String(layer.layerCount),
  };
}
