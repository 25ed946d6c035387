/**
 * Exponential backoff with FULL jitter (AWS architecture blog, "Exponential
 * Backoff And Jitter"): each sleep is uniform in [0, min(cap, base * 2^attempt)].
 * Full jitter spreads a fleet of agents that failed together, so they do not
 * retry in lockstep (the Python agent had no jitter at all, reference 11.11).
 */

export interface BackoffOptions {
  /** Base delay in ms (the config's `backoffFactor` seconds * 1000). */
  baseMs: number;
  /** Cap of one sleep in ms (the config's `maxBackoff` seconds * 1000). */
  capMs: number;
  /** Uniform [0, 1) source; injectable so tests can pin the extremes. */
  random?: () => number;
}

/** The jitter-free ceiling for `attempt` (0-based): min(cap, base * 2^attempt). */
export function backoffCeilingMs(attempt: number, baseMs: number, capMs: number): number {
  const exp = baseMs * Math.pow(2, Math.max(0, attempt));
  // Large attempts overflow to Infinity; the cap still bounds the result.
  return Math.max(0, Math.min(capMs, Number.isFinite(exp) ? exp : capMs));
}

/** One full-jitter delay in ms for `attempt` (0-based), within [0, ceiling]. */
export function fullJitterDelayMs(attempt: number, opts: BackoffOptions): number {
  const ceiling = backoffCeilingMs(attempt, opts.baseMs, opts.capMs);
  const r = (opts.random ?? Math.random)();
  // Clamp in case an injected source returns exactly 1 or slightly outside [0, 1).
  const u = Math.min(1, Math.max(0, r));
  return u * ceiling;
}
