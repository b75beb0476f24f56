// Per-layer progress bars on a terminal (stderr): bytes, MB/s and ETA, redrawn in place at most 10 times a second.
import type { WriteStream } from 'node:tty';

import type { LayerProgress } from '../../indexer/pipeline/build-index.js';
import { PROGRESS_REDRAW_MS } from '../defaults.js';

const BAR_WIDTH = 24;

interface Row {
  label: string;
  bytes: number;
  total: number;
  started: number;
  /** When the layer finished (the rate stops there). */
  ended: number | undefined;
  done: boolean;
}

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Live bars for the layers being read; `stop()` leaves the final state on screen. */
export class ProgressBars {
  readonly #out: WriteStream;
  readonly #rows = new Map<string, Row>();
  #drawn = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(out: WriteStream) {
    this.#out = out;
  }

  /** Records a progress report (drawn on the next tick). */
  update(p: LayerProgress): void {
    const key = `${p.position}:${p.digest}`;
    let row = this.#rows.get(key);
    if (!row) this.#rows.set(key, (row = { label: `layer ${p.position} ${p.digest.slice(7, 19)}`, bytes: 0, total: p.total, started: performance.now(), ended: undefined, done: false }));
    row.bytes = p.bytes;
    row.done = p.state === 'done';
    if (row.done) row.ended ??= performance.now();
    this.#timer ??= setInterval(() => this.#draw(), PROGRESS_REDRAW_MS).unref();
  }

  #line(r: Row): string {
    const fraction = r.total > 0 ? Math.min(1, r.bytes / r.total) : 1;
    const filled = Math.round(fraction * BAR_WIDTH);
    const seconds = ((r.ended ?? performance.now()) - r.started) / 1000;
    const rate = seconds > 0 ? r.bytes / seconds : 0;
    const eta = r.done ? 'done' : rate > 0 ? `ETA ${Math.ceil((r.total - r.bytes) / rate)}s` : 'ETA -';
    return `${r.label} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${mib(r.bytes)}/${mib(r.total)} ${(rate / 1e6).toFixed(1)} MB/s ${eta}`;
  }

  #draw(): void {
    let text = this.#drawn > 0 ? `\x1b[${this.#drawn}A` : '';
    for (const r of this.#rows.values()) text += `\x1b[2K${this.#line(r)}\n`;
    this.#drawn = this.#rows.size;
    this.#out.write(text);
  }

  /** Draws the final state and stops redrawing. */
  stop(): void {
    if (this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#draw();
    }
  }
}
