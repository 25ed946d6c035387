/**
 * Windowed view of cumulative counters: the status heartbeat and health
 * check judge the recent past (default: the last 15 minutes), so an outage
 * long gone does not leave the agent "degraded" forever (reference 11.17).
 * Snapshots of the cumulative totals are taken at most once a `resolutionMs`;
 * a delta is "now minus the oldest snapshot inside the window".
 */
export interface CounterTotals {
  /** Items (events and metric records) delivered, and queued after a failed send. */
  sent: number;
  failed: number;
  dropped: number;
  /** Of `sent` and `failed`, the security events (the heartbeat's events_sent / events_failed). */
  eventsSent: number;
  eventsFailed: number;
}

interface Snapshot extends CounterTotals {
  at: number;
}

export class RecentCounters {
  private snapshots: Snapshot[] = [];

  constructor(
    private readonly windowMs = 15 * 60_000,
    private readonly resolutionMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records the current totals (cheap to call often: keeps one snapshot per resolution step). */
  observe(totals: CounterTotals): void {
    const t = this.now();
    const last = this.snapshots[this.snapshots.length - 1];
    if (!last || t - last.at >= this.resolutionMs) this.snapshots.push({ ...totals, at: t });
    const horizon = t - this.windowMs;
    while (this.snapshots.length > 1 && this.snapshots[1].at <= horizon) this.snapshots.shift();
  }

  /** What changed within the window, given the current totals. */
  delta(totals: CounterTotals): CounterTotals {
    this.observe(totals);
    const base = this.snapshots[0];
    return {
      sent: totals.sent - base.sent,
      failed: totals.failed - base.failed,
      dropped: totals.dropped - base.dropped,
      eventsSent: totals.eventsSent - base.eventsSent,
      eventsFailed: totals.eventsFailed - base.eventsFailed,
    };
  }
}
