/**
 * Sliding-window rate limiting: the `SlidingWindowLimiter` contract and the
 * in-process `MemorySlidingWindow`.
 *
 * Algorithm (both the memory and the Redis limiter): the sliding-window
 * counter. Time is cut into fixed buckets of `windowMs`; a key keeps the count
 * of the current and the previous bucket, and the count over the last
 * `windowMs` is estimated as `previous * (1 - elapsedInCurrent / windowMs) +
 * current`. Two numbers per key instead of one timestamp per request, and no
 * burst of 2x at bucket edges as with a fixed window. A refused hit is not
 * counted, so a client that keeps retrying is let in again once its rate
 * drops under the limit.
 *
 * `hit()` returns synchronously for the memory limiter and a Promise for the
 * Redis one; the rule engine awaits only when it gets a Promise.
 */

export interface HitResult {
  allowed: boolean;
  /** 0 when allowed; otherwise how long until a hit would be allowed. */
  retryAfterMs: number;
  /** Estimated requests in the window, this one included when allowed. */
  count: number;
}

export interface SlidingWindowLimiter {
  hit(key: string, limit: number, windowMs: number, now?: number): HitResult | Promise<HitResult>;
}

export interface MemorySlidingWindowOptions {
  /** Keys kept at most; idle keys go first, then the least recently created. Default 100,000. */
  maxKeys?: number;
}

interface Entry {
  windowMs: number;
  /** Index of the current bucket: floor(now / windowMs). */
  bucket: number;
  current: number;
  previous: number;
}

/**
 * The sliding-window decision shared by both limiters (the Redis Lua script
 * mirrors it). Returns the retry delay in ms, 0 when the hit is allowed.
 */
export function slidingWindowRetryMs(previous: number, current: number, limit: number, windowMs: number, elapsed: number): number {
  const estimate = (previous * (windowMs - elapsed)) / windowMs + current;
  if (estimate + 1 <= limit) return 0;
  if (current + 1 > limit) {
    // Wait for the next bucket, then for `current` (then previous) to decay.
    const decay = current > 0 ? windowMs * (1 - (limit - 1) / current) : 0;
    return Math.max(1, Math.ceil(windowMs - elapsed + Math.max(0, decay)));
  }
  const needed = windowMs * (1 - (limit - 1 - current) / previous);
  return Math.max(1, Math.ceil(needed - elapsed));
}

export class MemorySlidingWindow implements SlidingWindowLimiter {
  private readonly entries = new Map<string, Entry>();
  private readonly maxKeys: number;
  private hits = 0;
  /** Keys dropped to keep memory bounded while they still held counts. */
  evicted = 0;

  constructor(options: MemorySlidingWindowOptions = {}) {
    const max = options.maxKeys;
    this.maxKeys = typeof max === 'number' && Number.isInteger(max) && max > 0 ? max : 100_000;
  }

  get size(): number {
    return this.entries.size;
  }

  hit(key: string, limit: number, windowMs: number, now: number = Date.now()): HitResult {
    const bucket = Math.floor(now / windowMs);
    let entry = this.entries.get(key);
    if (entry === undefined || entry.windowMs !== windowMs) {
      if (entry === undefined && this.entries.size >= this.maxKeys) this.makeRoom(now);
      entry = { windowMs, bucket, current: 0, previous: 0 };
      this.entries.set(key, entry);
    } else if (entry.bucket !== bucket) {
      entry.previous = entry.bucket === bucket - 1 ? entry.current : 0;
      entry.current = 0;
      entry.bucket = bucket;
    }
    // Amortised sweep so idle keys do not pile up below the cap either.
    if (++this.hits % 10_000 === 0) this.sweepIdle(now);
    const elapsed = now - bucket * windowMs;
    const retry = slidingWindowRetryMs(entry.previous, entry.current, limit, windowMs, elapsed);
    const estimate = (entry.previous * (windowMs - elapsed)) / windowMs + entry.current;
    if (retry > 0) return { allowed: false, retryAfterMs: retry, count: Math.ceil(estimate) };
    entry.current++;
    return { allowed: true, retryAfterMs: 0, count: Math.ceil(estimate + 1) };
  }

  /** Forgets every key (tests, rule changes). */
  clear(): void {
    this.entries.clear();
  }

  private sweepIdle(now: number): void {
    for (const [key, e] of this.entries) {
      // Two buckets old: both counts have decayed to nothing.
      if (Math.floor(now / e.windowMs) - e.bucket >= 2) this.entries.delete(key);
    }
  }

  private makeRoom(now: number): void {
    this.sweepIdle(now);
    // Still full: drop the oldest-created tenth (Map iterates in insertion order).
    if (this.entries.size >= this.maxKeys) {
      let drop = Math.max(1, Math.floor(this.maxKeys / 10));
      for (const key of this.entries.keys()) {
        if (drop-- <= 0) break;
        this.entries.delete(key);
        this.evicted++;
      }
    }
  }
}
