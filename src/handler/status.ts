/**
 * Builds the heartbeat (`AgentStatus`, reference 2.5) from the agent's
 * counters. `events_sent`/`events_failed` are the RECENT window's security
 * events (metric records travel as `metrics_sent`/`metrics_failed`)
 * (fixing 11.17: lifetime counters kept one early outage "degraded"
 * forever); lifetime totals, drops and queue state travel as extra fields,
 * which the backend's model ignores and newer dashboards can read.
 */
import type { AgentStatus } from '../models/index.js';
import type { CounterTotals } from './recent-counters.js';
import { VERSION } from '../version.js';

export interface StatusInputs {
  now: Date;
  uptimeSeconds: number;
  recent: CounterTotals;
  totals: CounterTotals;
  breakerState: 'CLOSED' | 'OPEN' | 'HALF_OPEN';
  authFailed: boolean;
  queueDepthItems: number;
  queueRedis: boolean;
  bufferSize: number;
  lastFlush: Date | null;
  lastSuccessAt: number | null;
  projectId: string | null;
  sdkQueueDropped: number;
  dataLossDetected: number;
}

/** Above this share of failed items in the window, the agent reports itself degraded (the seed's 10%). */
export const FAILURE_RATE_DEGRADED = 0.1;

export function buildStatus(i: StatusInputs): AgentStatus {
  const errors: string[] = [];
  let status: AgentStatus['status'] = 'healthy';
  if (i.authFailed) {
    status = 'failed';
    errors.push('Authentication failed (401/403): check the API key and project id');
  }
  if (i.breakerState === 'OPEN') {
    if (status === 'healthy') status = 'degraded';
    errors.push('Transport circuit breaker is open');
  }
  const attempted = i.recent.sent + i.recent.failed;
  if (attempted > 0 && i.recent.failed / attempted > FAILURE_RATE_DEGRADED) {
    if (status === 'healthy') status = 'degraded';
    errors.push(`High failure rate: ${((i.recent.failed / attempted) * 100).toFixed(1)}%`);
  }
  if (i.recent.dropped > 0) {
    if (status === 'healthy') status = 'degraded';
    errors.push(`Dropped ${i.recent.dropped} item(s) recently`);
  }
  return {
    timestamp: i.now,
    status,
    uptime: i.uptimeSeconds,
    // Security events only, as the reference agent counts them; the failure rate above judges every kind.
    eventsSent: i.recent.eventsSent,
    eventsFailed: i.recent.eventsFailed,
    bufferSize: i.bufferSize,
    lastFlush: i.lastFlush,
    errors,
    extra: {
      project_id: i.projectId,
      agent_version: VERSION,
      window_seconds: 900,
      metrics_sent: i.recent.sent - i.recent.eventsSent,
      metrics_failed: i.recent.failed - i.recent.eventsFailed,
      events_sent_total: i.totals.eventsSent,
      events_failed_total: i.totals.eventsFailed,
      metrics_sent_total: i.totals.sent - i.totals.eventsSent,
      metrics_failed_total: i.totals.failed - i.totals.eventsFailed,
      dropped_total: i.totals.dropped,
      dropped_recent: i.recent.dropped,
      queue_depth: i.queueDepthItems,
      queue_backend: i.queueRedis ? 'redis' : 'memory',
      sdk_queue_dropped: i.sdkQueueDropped,
      redis_data_loss_detected: i.dataLossDetected,
      last_success: i.lastSuccessAt === null ? null : new Date(i.lastSuccessAt).toISOString(),
      breaker_state: i.breakerState,
    },
  };
}
