import type { BreakerOptions } from '../config-types.js';

export type BreakerState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

/**
 * A consecutive-failure circuit breaker shared by every request of one
 * transport. Unlike the Python agent's (reference 4.3, 11.11):
 * - HALF_OPEN admits exactly ONE probe at a time; every other caller is
 *   short-circuited until the probe reports back.
 * - Only failures that say "the server is not answering properly" count (5xx,
 *   network, timeout): the caller reports 429 and permanent 4xx as `neutral`,
 *   because the server is alive and answering.
 * - Thresholds are configurable and live-updatable; the clock is injectable.
 *
 * Protocol: `tryAcquire()` before a request; exactly one of `onSuccess()`,
 * `onFailure()`, `onNeutral()` after it, whenever `tryAcquire()` returned true.
 */
export class CircuitBreaker {
  private state: BreakerState = 'CLOSED';
  private consecutiveFailures = 0;
  private openedAt = 0;
  private probeInFlight = false;
  private options: BreakerOptions;
  private readonly now: () => number;

  constructor(options: BreakerOptions, now: () => number = Date.now) {
    this.options = { ...options };
    this.now = now;
  }

  setOptions(options: BreakerOptions): void {
    this.options = { ...options };
  }

  /** Current state; an OPEN breaker whose recovery time has elapsed reads as HALF_OPEN. */
  getState(): BreakerState {
    if (this.state === 'OPEN' && this.now() - this.openedAt >= this.options.recoveryTimeoutMs) return 'HALF_OPEN';
    return this.state;
  }

  getFailureCount(): number {
    return this.consecutiveFailures;
  }

  /** Ms until a probe may be attempted (0 when a request may go now). */
  msUntilProbe(): number {
    if (this.state === 'CLOSED') return 0;
    if (this.state === 'OPEN') return Math.max(0, this.openedAt + this.options.recoveryTimeoutMs - this.now());
    return this.probeInFlight ? this.options.recoveryTimeoutMs : 0;
  }

  /** May a request go out now? In HALF_OPEN this reserves the single probe slot. */
  tryAcquire(): boolean {
    if (this.state === 'CLOSED') return true;
    if (this.state === 'OPEN') {
      if (this.now() - this.openedAt < this.options.recoveryTimeoutMs) return false;
      this.state = 'HALF_OPEN';
      this.probeInFlight = false;
    }
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  onSuccess(): void {
    this.consecutiveFailures = 0;
    this.probeInFlight = false;
    this.state = 'CLOSED';
  }

  onFailure(): void {
    this.consecutiveFailures++;
    this.probeInFlight = false;
    if (this.state === 'HALF_OPEN' || this.consecutiveFailures >= this.options.failureThreshold) {
      this.state = 'OPEN';
      this.openedAt = this.now();
    }
  }

  /** The server answered but the answer says nothing about its health (429, 4xx): free the probe slot, change nothing else. */
  onNeutral(): void {
    this.probeInFlight = false;
  }
}
