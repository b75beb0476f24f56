// ext4 directory-index name hash for every hash version: legacy (dx_hack_hash), half-MD4 and TEA, each in
// signed- and unsigned-char variants. Per Linux fs/ext4/hash.c (kernel 6.x) and e2fsprogs 1.47 dirhash.c.
import { halfMd4Hash } from './dir-hash.js';

/** dx hash version: legacy (dx_hack_hash), signed chars. Versions +3 are the unsigned-char variants. */
export const DX_HASH_LEGACY = 0;
/** dx hash version: half-MD4, signed chars. */
export const DX_HASH_HALF_MD4 = 1;
/** dx hash version: TEA, signed chars. */
export const DX_HASH_TEA = 2;
/** dx hash version: legacy, unsigned chars (superblock flag EXT2_FLAGS_UNSIGNED_HASH). */
export const DX_HASH_LEGACY_UNSIGNED = 3;
/** dx hash version: half-MD4, unsigned chars. */
export const DX_HASH_HALF_MD4_UNSIGNED = 4;
/** dx hash version: TEA, unsigned chars. */
export const DX_HASH_TEA_UNSIGNED = 5;

function charAt(name: Uint8Array, i: number, signed: boolean): number {
  const c = name[i]!;
  return signed && c >= 0x80 ? c - 256 : c;
}

function legacyHash(name: Uint8Array, signed: boolean): number {
  let h0 = 0x12a3fe2d;
  let h1 = 0x37abe8f9;
  for (let i = 0; i < name.length; i++) {
    let h = (h1 + ((h0 ^ Math.imul(charAt(name, i, signed), 7152373)) >>> 0)) >>> 0;
    if (h & 0x80000000) h = (h - 0x7fffffff) >>> 0;
    h1 = h0;
    h0 = h;
  }
  return (h0 << 1) >>> 0;
}

/** str2hashbuf: packs up to num*4 name bytes into words, padded with the length byte pattern. */
function str2hashbuf(name: Uint8Array, start: number, len: number, num: number, signed: boolean): Uint32Array {
  const out = new Uint32Array(num);
  let pad = (len | (len << 8)) >>> 0;
  pad = (pad | (pad << 16)) >>> 0;
  let val = pad;
  let o = 0;
  let left = num;
  const n = Math.min(len, num * 4);
  for (let i = 0; i < n; i++) {
    val = (charAt(name, start + i, signed) + ((val << 8) >>> 0)) >>> 0;
    if (i % 4 === 3) {
      out[o++] = val;
      val = pad;
      left--;
    }
  }
  if (--left >= 0) out[o++] = val;
  while (--left >= 0) out[o++] = pad;
  return out;
}

function teaTransform(buf: Uint32Array, inp: Uint32Array): void {
  let sum = 0;
  let b0 = buf[0]!;
  let b1 = buf[1]!;
  const [a, b, c, d] = [inp[0]!, inp[1]!, inp[2]!, inp[3]!];
  for (let n = 0; n < 16; n++) {
    sum = (sum + 0x9e3779b9) >>> 0;
    b0 = (b0 + ((((b1 << 4) + a) >>> 0) ^ ((b1 + sum) >>> 0) ^ (((b1 >>> 5) + b) >>> 0))) >>> 0;
    b1 = (b1 + ((((b0 << 4) + c) >>> 0) ^ ((b0 + sum) >>> 0) ^ (((b0 >>> 5) + d) >>> 0))) >>> 0;
  }
  buf[0] = (buf[0]! + b0) >>> 0;
  buf[1] = (buf[1]! + b1) >>> 0;
}

function teaHash(name: Uint8Array, seed: Uint32Array, signed: boolean): number {
  const buf = new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]);
  if (seed[0] || seed[1] || seed[2] || seed[3]) buf.set(seed.subarray(0, 4));
  for (let p = 0, len = name.length; len > 0; p += 16, len -= 16) teaTransform(buf, str2hashbuf(name, p, len, 4, signed));
  return buf[0]!;
}

/** The major hash (low bit clear) of `name` for hash `version` (0..5) and the superblock's 4-word seed. */
export function dxNameHash(name: Uint8Array, version: number, seed: Uint32Array): number | undefined {
  let hash: number;
  switch (version) {
    case DX_HASH_LEGACY:
    case DX_HASH_LEGACY_UNSIGNED:
      hash = legacyHash(name, version === DX_HASH_LEGACY);
      break;
    case DX_HASH_HALF_MD4:
    case DX_HASH_HALF_MD4_UNSIGNED:
      return halfMd4Hash(name, seed, version === DX_HASH_HALF_MD4).hash;
    case DX_HASH_TEA:
    case DX_HASH_TEA_UNSIGNED:
      hash = teaHash(name, seed, version === DX_HASH_TEA);
      break;
    default:
      return undefined;
  }
  hash = (hash & ~1) >>> 0;
  return hash === 0xfffffffe ? 0xfffffffc : hash;
}
