// Platform selection from an image index (image-spec 1.1 image-index.md "platform"), defaulting to the host.
import { ImageError } from '../../errors.js';
import type { Descriptor, ImageIndex, Platform } from './manifest.js';

/** Go/OCI architecture names for Node's `process.arch` values. */
const GO_ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** Builds a platform from Node's `process.platform`/`process.arch` names. */
export function platformFromNode(platform: string, arch: string): Platform {
  const p: Platform = { os: platform === 'win32' ? 'windows' : platform, architecture: GO_ARCH[arch] ?? arch };
  if (p.architecture === 'arm64') p.variant = 'v8';
  return p;
}

/** Parses `os/arch[/variant]`, e.g. `linux/arm64/v8`; throws INVALID_ARGUMENT. */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new ImageError('INVALID_ARGUMENT', `invalid platform ${JSON.stringify(text)}`, { hint: 'use os/architecture[/variant], e.g. linux/amd64' });
  }
  const p: Platform = { os: parts[0]!, architecture: parts[1]! };
  if (parts[2] !== undefined) p.variant = parts[2];
  return p;
}

function variantMatches(want: Platform, have: Platform): boolean {
  if (want.variant === undefined || have.variant === undefined) return true;
  return want.variant === have.variant;
}

/** Picks the manifest of `index` for `want`: exact variant first, then any variant of the os/architecture. NOT_FOUND otherwise. */
export function selectPlatform(index: ImageIndex, want: Platform): Descriptor {
  const candidates = index.manifests.filter((d) => d.platform && d.platform.os === want.os && d.platform.architecture === want.architecture);
  const exact = candidates.find((d) => d.platform!.variant === want.variant);
  const chosen = exact ?? candidates.find((d) => variantMatches(want, d.platform!));
  if (!chosen) {
    const offered = index.manifests.map((d) => (d.platform ? [d.platform.os, d.platform.architecture, d.platform.variant].filter(Boolean).join('/') : '?')).join(', ');
    throw new ImageError('NOT_FOUND', `no manifest for platform ${[want.os, want.architecture, want.variant].filter(Boolean).join('/')}`, {
      details: { offered },
    });
  }
  return chosen;
}
