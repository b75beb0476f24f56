// ext4 directory-index name hash: half-MD4 (signed- and unsigned-char variants), per
// Documentation/filesystems/ext4 "Hash Tree Directories" and e2fsprogs 1.47 lib/ext2fs/dirhash.c.

const K2 = 0o13240474631;
const K3 = 0o15666365641;

function rol(x: number, s: number): number {
  return ((x << s) | (x >>> (32 - s))) >>> 0;
}

function F(x: number, y: number, z: number): number {
  return z ^ (x & (y ^ z));
}

function G(x: number, y: number, z: number): number {
  return ((x & y) + ((x ^ y) & z)) >>> 0;
}

function H(x: number, y: number, z: number): number {
  return x ^ y ^ z;
}

function halfMd4Transform(buf: Uint32Array, inp: Uint32Array): void {
  let a = buf[0]!;
  let b = buf[1]!;
  let c = buf[2]!;
  let d = buf[3]!;
  const f = inp;
  a = rol((a + F(b, c, d) + f[0]!) >>> 0, 3);
  d = rol((d + F(a, b, c) + f[1]!) >>> 0, 7);
  c = rol((c + F(d, a, b) + f[2]!) >>> 0, 11);
  b = rol((b + F(c, d, a) + f[3]!) >>> 0, 19);
  a = rol((a + F(b, c, d) + f[4]!) >>> 0, 3);
  d = rol((d + F(a, b, c) + f[5]!) >>> 0, 7);
  c = rol((c + F(d, a, b) + f[6]!) >>> 0, 11);
  b = rol((b + F(c, d, a) + f[7]!) >>> 0, 19);
  a = rol((a + G(b, c, d) + f[1]! + K2) >>> 0, 3);
  d = rol((d + G(a, b, c) + f[3]! + K2) >>> 0, 5);
  c = rol((c + G(d, a, b) + f[5]! + K2) >>> 0, 9);
  b = rol((b + G(c, d, a) + f[7]! + K2) >>> 0, 13);
  a = rol((a + G(b, c, d) + f[0]! + K2) >>> 0, 3);
  d = rol((d + G(a, b, c) + f[2]! + K2) >>> 0, 5);
  c = rol((c + G(d, a, b) + f[4]! + K2) >>> 0, 9);
  b = rol((b + G(c, d, a) + f[6]! + K2) >>> 0, 13);
  a = rol((a + H(b, c, d) + f[3]! + K3) >>> 0, 3);
  d = rol((d + H(a, b, c) + f[7]! + K3) >>> 0, 9);
  c = rol((c + H(d, a, b) + f[2]! + K3) >>> 0, 11);
  b = rol((b + H(c, d, a) + f[6]! + K3) >>> 0, 15);
  a = rol((a + H(b, c, d) + f[1]! + K3) >>> 0, 3);
  d = rol((d + H(a, b, c) + f[5]! + K3) >>> 0, 9);
  c = rol((c + H(d, a, b) + f[0]! + K3) >>> 0, 11);
  b = rol((b + H(c, d, a) + f[4]! + K3) >>> 0, 15);
  buf[0] = (buf[0]! + a) >>> 0;
  buf[1] = (buf[1]! + b) >>> 0;
  buf[2] = (buf[2]! + c) >>> 0;
  buf[3] = (buf[3]! + d) >>> 0;
}

/** Packs up to num*4 name bytes into 32-bit words the way str2hashbuf does. */
function str2hashbuf(name: Uint8Array, start: number, len: number, out: Uint32Array, num: number, signed: boolean): void {
  let pad = (len | (len << 8)) >>> 0;
  pad = (pad | (pad << 16)) >>> 0;
  let val = pad;
  let o = 0;
  const n = Math.min(len, num * 4);
  for (let i = 0; i < n; i++) {
    const byte = signed && name[start + i]! >= 0x80 ? name[start + i]! - 256 : name[start + i]!;
    val = (byte + ((val << 8) >>> 0)) >>> 0;
    if (i % 4 === 3) {
      out[o++] = val;
      val = pad;
      num--;
    }
  }
  if (--num >= 0) out[o++] = val;
  while (--num >= 0) out[o++] = pad;
}

const MD4_INIT = new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]);
const BUF = new Uint32Array(4);
const INP = new Uint32Array(8);

/** Major/minor hash of a directory entry name. */
export interface DirHash {
  hash: number;
  minor: number;
}

/**
 * half_md4 hash of `name` with the 4-word `seed` (all-zero seed means the MD4 default); `signed` selects the
 * signed-char variant (superblock flag EXT2_FLAGS_SIGNED_HASH) instead of the unsigned one.
 */
export function halfMd4Hash(name: Uint8Array, seed: Uint32Array, signed = false): DirHash {
  const buf = BUF;
  if (seed[0] || seed[1] || seed[2] || seed[3]) buf.set(seed.subarray(0, 4));
  else buf.set(MD4_INIT);
  const inp = INP;
  let len = name.length;
  let p = 0;
  while (len > 0) {
    str2hashbuf(name, p, len, inp, 8, signed);
    halfMd4Transform(buf, inp);
    len -= 32;
    p += 32;
  }
  let hash = buf[1]! & ~1;
  if (hash >>> 0 === 0xfffffffe) hash = 0xfffffffc;
  return { hash: hash >>> 0, minor: buf[2]! };
}
