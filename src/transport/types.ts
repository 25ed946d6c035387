/**
 * The transport's contract with the rest of the agent (exporters, fallback
 * queue, rule poller, handler). Everything that moves data to the backend
 * speaks in `WireBatch`es: items already encoded to their wire JSON once, so
 * splitting by bytes, queueing in Redis and replaying never re-encode.
 */

/** Which ingest endpoint a batch goes to (`/api/v1/events` or `/api/v1/metrics`). */
export type BatchKind = 'events' | 'metrics';

/**
 * One request's worth of items, as it goes on the wire and as it is queued.
 * `batchId` is generated once (`{epochMillis}-{8 hex}`) and stays the same
 * across retries, queueing and replays, so the backend can deduplicate.
 */
export interface WireBatch {
  kind: BatchKind;
  batchId: string;
  /** Each item is one compact snake_case JSON object (output of the codec's `encodeEvent` / `encodeMetric`). */
  items: string[];
  /** Events only: the `idempotency_key` of each item, same order as `items`. Empty for metrics. */
  idempotencyKeys: string[];
  /** When the batch was first built (epoch millis); kept across replays. */
  createdAt: number;
  /** How many delivery attempts have been made over the batch's whole life (across queueing). */
  attempts?: number;
}

/** Why items were dropped on purpose. Every drop is counted under one of these. */
export type DropReason =
  | 'permanent_rejection' // 400 / 404 / 422
  | 'too_large' // 413 even as a single item, or one item larger than the body cap
  | 'queue_full'
  | 'queue_retention'
  | 'queue_unavailable'
  | 'redis_data_loss'
  | 'shutdown_timeout'
  | 'encoding_error'
  | 'sdk_queue_full'
  | 'agent_stopped'
  | 'disabled';

export interface DroppedItems {
  count: number;
  reason: DropReason;
}

/** The overall outcome of sending one batch (after its in-call retries). */
export type SendOutcome =
  | 'delivered' // every item accepted (or dropped for a permanent reason)
  | 'partial' // some sub-batches (413 halves) delivered, the rest pending
  | 'retry_later' // 5xx / network / 429 / success:false after the retry budget: all pending
  | 'auth_failed' // 401 / 403: pending, transport is in auth-failed mode (probes once a minute)
  | 'breaker_open' // not attempted: pending
  | 'rate_limited_locally'; // not attempted, the client-side token bucket is empty: pending

/**
 * What `sendBatch` reports. Nothing is ever silently lost: every item of the
 * input batch is either delivered, counted in `dropped`, or returned in
 * `pending` (to be queued and replayed later, keeping its batchId).
 */
export interface SendReport {
  outcome: SendOutcome;
  delivered: number;
  dropped: DroppedItems[];
  pending: WireBatch[];
  /** When the backend asked us to wait (Retry-After, success:false backoff, auth probe), ms from now. */
  retryAfterMs?: number;
  /** HTTP status of the last response, when there was one. */
  lastStatus?: number;
  /**
   * True when what is pending is pending only because the backend refused
   * this batch's kind with 2xx `success: false` (an events quota), now or
   * within that kind's backoff gate (`retryAfterMs`). The backend answered:
   * batches of the other kind can still be sent. Absent for a backend that
   * is down, erring, rate limiting or refusing the API key.
   */
  kindBackoff?: boolean;
}

export interface SendOptions {
  /** Absolute deadline (epoch ms): no retry sleep or request extends past it. */
  deadline?: number;
  /** Abort the send (e.g. shutdown): pending items are returned, not lost. */
  signal?: AbortSignal;
}

/** Result of `GET /api/v1/rules`. */
export type RulesFetchResult =
  | { status: 'ok'; body: unknown; etag?: string }
  | { status: 'not_modified' }
  | { status: 'none' } // 404 or empty: the backend has no rules for us
  | { status: 'error'; error: string; httpStatus?: number };

/** Transport counters (all cumulative), exposed through stats and status. */
export interface TransportStats {
  requestsSent: number;
  requestsFailed: number;
  failuresByClass: Record<string, number>;
  retries: number;
  bytesSent: number;
  batchesDelivered: number;
  itemsDelivered: number;
  dropped: Partial<Record<DropReason, number>>;
  /** Events delivered that the backend's reply says it dropped on its side (invalid timestamp): counted, not retried. */
  backendDroppedEvents: number;
  breakerState: 'CLOSED' | 'OPEN' | 'HALF_OPEN';
  authFailed: boolean;
  /** Last 2xx answer to any request (rules fetches and heartbeats included). */
  lastSuccessAt: number | null;
  /** Last events or metrics batch the backend accepted: what healthCheck() calls "accepted data". */
  lastDeliveryAt: number | null;
  lastFailureAt: number | null;
  lastStatus: number | null;
}
