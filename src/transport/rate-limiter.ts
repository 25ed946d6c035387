import type { RateLimitOptions } from '../config-types.js';

/**
 * Client-side token bucket: capacity `maxCalls`, refilled continuously at
 * `maxCalls / windowMs` tokens per ms. It keeps one agent from hammering the
 * backend (e.g. a 413 split cascade or a replaying queue); a request that
 * finds the bucket empty is not sent and its batch stays pending.
 */
export class TokenBucketRateLimiter {
  private options: RateLimitOptions;
  private tokens: number;
  private lastRefill: number;
  private readonly now: () => number;

  constructor(options: RateLimitOptions, now: () => number = Date.now) {
    this.options = { ...options };
    this.now = now;
    this.tokens = options.maxCalls;
    this.lastRefill = now();
  }

  /** Live update; the current fill level is kept (capped at the new capacity). */
  setOptions(options: RateLimitOptions): void {
    this.refill();
    this.options = { ...options };
    this.tokens = Math.min(this.tokens, options.maxCalls);
  }

  /** Take one token if there is one. */
  tryAcquire(): boolean {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Ms until one whole token is available (0 if one is available now). */
  msUntilToken(): number {
    this.refill();
    if (this.tokens >= 1) return 0;
    const rate = this.ratePerMs();
    if (rate <= 0) return this.options.windowMs;
    return Math.ceil((1 - this.tokens) / rate);
  }

  availableTokens(): number {
    this.refill();
    return this.tokens;
  }

  private ratePerMs(): number {
    return this.options.windowMs > 0 ? this.options.maxCalls / this.options.windowMs : Number.POSITIVE_INFINITY;
  }

  private refill(): void {
    const t = this.now();
    const elapsed = Math.max(0, t - this.lastRefill);
    this.lastRefill = t;
    const rate = this.ratePerMs();
    this.tokens = rate === Number.POSITIVE_INFINITY ? this.options.maxCalls : Math.min(this.options.maxCalls, this.tokens + elapsed * rate);
  }
}
