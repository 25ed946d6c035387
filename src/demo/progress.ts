/**
 * Traffic progress on stderr: a bar redrawn in place on a terminal, plain
 * lines every few seconds otherwise (so CI logs stay readable).
 */
import type { TrafficTally } from './traffic-driver.js';

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const BAR_WIDTH = 24;

/** `200 412 · 401 40 · ...`: answers by status, in status order. */
export function formatStatuses(byStatus: Record<string, number>): string {
  const entries = Object.entries(byStatus).sort(([a], [b]) => Number(a) - Number(b));
  return entries.length ? entries.map(([s, n]) => `${s} ${n}`).join(' · ') : 'no answers yet';
}

/** One progress line (without the bar). */
export function formatProgressLine(t: TrafficTally, now = Date.now()): string {
  const seconds = (((t.finishedAt ?? now) - t.startedAt) / 1000).toFixed(1);
  const failed = t.failed ? ` · failed ${t.failed}` : '';
  return `${t.sent}/${t.planned} sent · ${formatStatuses(t.byStatus)}${failed} · ${seconds}s`;
}

export function formatBar(t: TrafficTally): string {
  const done = t.planned ? Math.min(1, t.sent / t.planned) : 0;
  const filled = Math.round(done * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(Math.round(done * 100)).padStart(3)}%`;
}

export class ProgressReporter {
  private timer: NodeJS.Timeout | undefined;
  private readonly tty: boolean;

  constructor(
    private readonly stream: ProgressStream,
    private readonly tally: TrafficTally,
    private readonly plainEveryMs = 2000,
  ) {
    this.tty = stream.isTTY === true;
  }

  start(): void {
    this.timer = setInterval(() => this.draw(), this.tty ? 100 : this.plainEveryMs);
    this.timer.unref();
  }

  /** Draws the final state and ends the line. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.draw();
    if (this.tty) this.stream.write('\n');
  }

  private draw(): void {
    if (this.tty) {
      let line = `traffic ${formatBar(this.tally)} ${formatProgressLine(this.tally)}`;
      const width = this.stream.columns ?? 100;
      if (line.length > width - 1) line = line.slice(0, width - 1);
      this.stream.write(`\r\x1b[2K${line}`);
    } else {
      this.stream.write(`traffic: ${formatProgressLine(this.tally)}\n`);
    }
  }
}
