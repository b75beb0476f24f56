// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) in the raw form ext4 uses: no pre/post inversion here.

/** Eight 256-entry tables for slice-by-8. */
const TABLES: Uint32Array[] = (() => {
  const t: Uint32Array[] = [];
  const t0 = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t0[i] = c >>> 0;
  }
  t.push(t0);
  for (let s = 1; s < 8; s++) {
    const prev = t[s - 1]!;
    const cur = new Uint32Array(256);
    for (let i = 0; i < 256; i++) cur[i] = (prev[i]! >>> 8) ^ t0[prev[i]! & 0xff]!;
    t.push(cur);
  }
  return t;
})();

/**
 * Continues a raw CRC-32C over `data[start, end)` from `crc` (ext4/e2fsprogs `ext2fs_crc32c_le` semantics:
 * the caller passes ~0 or a seed, and no final inversion is applied).
 */
export function crc32cRaw(crc: number, data: Uint8Array, start = 0, end = data.length): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let c = crc >>> 0;
  let i = start;
  while (i + 8 <= end) {
    const lo = (c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    c =
      t7[lo & 0xff]! ^
      t6[(lo >>> 8) & 0xff]! ^
      t5[(lo >>> 16) & 0xff]! ^
      t4[lo >>> 24]! ^
      t3[data[i + 4]!]! ^
      t2[data[i + 5]!]! ^
      t1[data[i + 6]!]! ^
      t0[data[i + 7]!]!;
    i += 8;
  }
  while (i < end) c = (c >>> 8) ^ t0[(c ^ data[i++]!) & 0xff]!;
  return c >>> 0;
}

/** Standard CRC-32C (init ~0, final inversion), e.g. 0xE3069283 for "123456789". */
export function crc32c(data: Uint8Array): number {
  return ~crc32cRaw(0xffffffff, data) >>> 0;
}

/** Raw CRC-32C continued over one little-endian 32-bit value (ext4 seeds checksums with inode/group numbers). */
export function crc32cU32(crc: number, value: number): number {
  const t0 = TABLES[0]!;
  let c = crc >>> 0;
  for (let i = 0; i < 4; i++) c = (c >>> 8) ^ t0[(c ^ (value >>> (8 * i))) & 0xff]!;
  return c >>> 0;
}
