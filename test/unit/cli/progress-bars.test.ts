// ProgressBars: one line per layer with bytes, MB/s and ETA, redrawn in place; stop() leaves the final state.
import type { WriteStream } from 'node:tty';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';

import { ProgressBars } from '../../../src/cli/progress-bars.js';

describe('ProgressBars', () => {
  it('draws a bar per layer, moves the cursor back up to redraw, and ends with every layer done', async () => {
    let out = '';
    const bars = new ProgressBars({ write: (s: string) => ((out += s), true) } as unknown as WriteStream);
    const digest = (c: string): string => `sha256:${c.repeat(64)}`;
    bars.update({ position: 0, digest: digest('a'), bytes: 0, total: 4 << 20, state: 'reading' });
    bars.update({ position: 1, digest: digest('b'), bytes: 1 << 20, total: 2 << 20, state: 'reading' });
    await sleep(250);
    expect(out).toMatch(/layer 0 aaaaaaaaaaaa \[-{24}\] 0\.0 MiB\/4\.0 MiB [\d.]+ MB\/s ETA/);
    expect(out).toMatch(/layer 1 bbbbbbbbbbbb \[#{12}-{12}\] 1\.0 MiB\/2\.0 MiB/);
    expect(out).toContain('\x1b[2A');
    bars.update({ position: 0, digest: digest('a'), bytes: 4 << 20, total: 4 << 20, state: 'done' });
    bars.update({ position: 1, digest: digest('b'), bytes: 2 << 20, total: 2 << 20, state: 'done' });
    out = '';
    bars.stop();
    expect(out.match(/\[#{24}\] .* done/g)).toHaveLength(2);
    const after = out.length;
    await sleep(250);
    expect(out.length).toBe(after);
  });
});
