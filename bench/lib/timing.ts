/**
 * Timing helpers for benches on a shared, noisy machine: variants are run
 * in interleaved rounds (so a change in load hits them all alike), after a
 * warm-up, and each variant's figure is the median of its rounds.
 */
import { setImmediate as tick } from 'node:timers/promises';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nanoseconds since an arbitrary origin, as a number. */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

export interface Variant {
  name: string;
  /** Runs one round and returns its measurement (lower or higher is better: the caller knows). */
  round(): Promise<number> | number;
}

export interface InterleaveOptions {
  rounds: number;
  /** Unmeasured rounds per variant before the measured ones. */
  warmupRounds?: number;
  /** Called between rounds (e.g. a GC) so one variant's garbage is not collected on another's clock. */
  between?: () => Promise<void> | void;
}

/** Runs the variants round-robin and returns every sample per variant. */
export async function interleave(variants: readonly Variant[], opts: InterleaveOptions): Promise<Record<string, number[]>> {
  const samples: Record<string, number[]> = {};
  for (const v of variants) samples[v.name] = [];
  const warm = opts.warmupRounds ?? 1;
  for (let r = 0; r < warm + opts.rounds; r++) {
    // Alternate the order so neither variant always runs right after the other's garbage.
    const order = r % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      await opts.between?.();
      const x = await v.round();
      if (r >= warm) samples[v.name].push(x);
    }
  }
  return samples;
}

/** A full GC when the process runs with --expose-gc, then one event-loop turn. */
export async function settle(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
  await tick();
}

export function ratio(a: number, b: number): number {
  return b === 0 ? NaN : a / b;
}

export function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1e5) return n.toFixed(0);
  if (abs >= 100) return n.toFixed(Math.min(digits, 1));
  return n.toFixed(digits);
}

/** `"1.23 (1.20, 1.23, 1.31)"`: the median and the sorted samples. */
export function describeSamples(xs: readonly number[], digits = 2): string {
  return `${fmt(median(xs), digits)} (${[...xs].sort((a, b) => a - b).map((x) => fmt(x, digits)).join(', ')})`;
}

/** Polls `cond` every `everyMs` until it holds; throws after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 30_000, what = 'condition', everyMs = 1): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
