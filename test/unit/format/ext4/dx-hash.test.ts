// dx name hashes (legacy, half_md4, tea; signed and unsigned) equal debugfs's dx_hash for ASCII and high-bit names.
import { describe, expect, it } from 'vitest';
import { dxNameHash } from '../../../../src/format/ext4/dx-hash.js';
import { missingNeeds } from '../../../helpers/capabilities.js';
import { run } from '../../../helpers/images/run.js';
import { SeededRandom } from '../../../helpers/random.js';

// debugfs 1.47 knows only the signed names; numeric versions 0..5 select every variant.
const ALGS = ['legacy', 'half_md4', 'tea', 'legacy_unsigned', 'half_md4_unsigned', 'tea_unsigned'];

describe.skipIf(missingNeeds({ commands: ['debugfs'] }))('dxNameHash', { timeout: 300_000 }, () => {
  it('matches debugfs dx_hash for every hash version, with and without a seed', async () => {
    const rng = new SeededRandom('dx-hash');
    const names: Buffer[] = [Buffer.from('a'), Buffer.from('lost+found'), Buffer.from('x'.repeat(255))];
    for (let i = 0; i < 12; i++) {
      const len = 1 + rng.int(i < 6 ? 40 : 200);
      // Printable bytes plus high-bit bytes (where signed and unsigned variants differ); no spaces or quotes.
      names.push(Buffer.from(Array.from({ length: len }, () => (rng.int(3) === 0 ? 0x80 + rng.int(0x7f) : 0x30 + rng.int(0x4a)))));
    }
    const seeds = ['', '48326f55-fe62-4f2c-a143-dff30b2c592b'];
    const commands: string[] = [];
    for (const seed of seeds) for (const alg of ALGS) for (const n of names) commands.push(`dx_hash -h ${ALGS.indexOf(alg)}${seed ? ` -s ${seed}` : ''} ${n.toString('latin1')}`);
    const out = await run('debugfs', ['-f', '-'], { input: Buffer.from(commands.join('\n') + '\n', 'latin1') });
    const hashes = [...out.matchAll(/Hash of .* is 0x([0-9a-f]+)/g)].map((m) => parseInt(m[1]!, 16));
    expect(hashes.length).toBe(commands.length);
    let k = 0;
    for (const seed of seeds) {
      const words = new Uint32Array(4);
      if (seed) {
        const hex = Buffer.from(seed.replace(/-/g, ''), 'hex');
        for (let i = 0; i < 4; i++) words[i] = hex.readUInt32LE(4 * i);
      }
      for (let v = 0; v < ALGS.length; v++) for (const n of names) expect(dxNameHash(n, v, words), `${ALGS[v]} ${seed} ${n.toString('hex')}`).toBe(hashes[k++]);
    }
  });

  it('returns undefined for unknown hash versions', () => {
    expect(dxNameHash(Buffer.from('a'), 6, new Uint32Array(4))).toBeUndefined();
  });
});
