/**
 * EventBatch (reference 2.6): the envelope of `POST /api/v1/events` and
 * `/api/v1/metrics`. On the wire a batch carries either events or metrics,
 * never both; the transport builds it from a `WireBatch` of pre-encoded items.
 */
import type { SecurityEvent } from './security-event.js';
import type { SecurityMetric } from './security-metric.js';

export interface EventBatch {
  projectId: string | null;
  events: SecurityEvent[];
  metrics: SecurityMetric[];
  batchId: string;
  createdAt: Date;
  /** Always false on the wire: the flag sits inside the (maybe gzipped) body, where it can only mislead. */
  compressed: false;
  agentVersion: string;
  guardVersion: string | null;
  guardCoreVersion: string | null;
}

/** What `encodeBatchBody` needs: the envelope fields plus the already-encoded items. */
export interface BatchEnvelope {
  projectId: string | null;
  kind: 'events' | 'metrics';
  items: string[];
  batchId: string;
  /** Epoch milliseconds. */
  createdAt: number;
  agentVersion: string;
  guardVersion: string | null;
  guardCoreVersion: string | null;
}
