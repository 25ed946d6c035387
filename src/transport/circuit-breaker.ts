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
 * - The open window grows: `initialRecoveryTimeoutMs` the first time, doubled
 *   by each failed probe up to `recoveryTimeoutMs`, back to the start after a
 *   success. The Python agent always waits 60 s, so the queue a 5-s outage
 *   left waited up to a minute after the backend was back; a dead backend
 *   still sees one probe a minute.
 * - Thresholds are configurable and live-updatable; the clock is injectable.
 *
 * Protocol: `tryAcquire()` before a request; exactly one of `onSuccess()`,
 * `onFailure()`, `onNeutral()` after it, whenever `tryAcquire()` returned true.
 */
export class CircuitBreaker {
  private state: BreakerState = 'CLOSED';
  private consecutiveFailures = 0;
  private openedAt = 0;
  /** Times opened since the last success: sets the current window. */
  private opens = 0;
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
    if (this.state === 'OPEN' && this.now() - this.openedAt >= this.openWindowMs()) return 'HALF_OPEN';
    return this.state;
  }

  /** Ms the breaker stays open this time: the initial window doubled per open since the last success, capped. */
  private openWindowMs(): number {
    const max = this.options.recoveryTimeoutMs;
    const initial = Math.min(this.options.initialRecoveryTimeoutMs ?? max, max);
    return Math.min(max, initial * 2 ** Math.min(Math.max(0, this.opens - 1), 30));
  }

  getFailureCount(): number {
    return this.consecutiveFailures;
  }

  /** Ms until a probe may be attempted (0 when a request may go now). */
  msUntilProbe(): number {
    if (this.state === 'CLOSED') return 0;
    if (this.state === 'OPEN') return Math.max(0, this.openedAt + this.openWindowMs() - this.now());
    return this.probeInFlight ? this.openWindowMs() : 0;
  }

  /** May a request go out now? In HALF_OPEN this reserves the single probe slot. */
  tryAcquire(): boolean {
    if (this.state === 'CLOSED') return true;
    if (this.state === 'OPEN') {
      if (this.now() - this.openedAt < this.openWindowMs()) return false;
      this.state = 'HALF_OPEN';
      this.probeInFlight = false;
    }
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  onSuccess(): void {
    this.consecutiveFailures = 0;
    this.opens = 0;
    this.probeInFlight = false;
    this.state = 'CLOSED';
  }

  onFailure(): void {
    this.consecutiveFailures++;
    this.probeInFlight = false;
    if (this.state === 'HALF_OPEN' || this.consecutiveFailures >= this.options.failureThreshold) {
      // Late failures of requests sent before it opened (several lanes in flight) do not grow the window.
      if (this.state !== 'OPEN') this.opens++;
      this.state = 'OPEN';
      this.openedAt = this.now();
    }
  }

  /** The server answered but the answer says nothing about its health (429, 4xx): free the probe slot, change nothing else. */
  onNeutral(): void {
    this.probeInFlight = false;
  }
}
