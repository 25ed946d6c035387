/**
 * The shape of the agent's configuration. Defaults, `GUARD_AGENT_*`
 * environment variables and validation live in `config.ts`; this file is the
 * type only, so every module can depend on it without pulling the loader in.
 *
 * Field names are the reference's (section 2.1) in camelCase, plus the
 * options this agent adds (breaker, limiter, body cap, queue, ...).
 */

/** Hook called, best effort, when the agent drops or fails something. Never throws into the app. */
export type OnErrorHook = (stage: string, error: Error, context: Record<string, unknown>) => void;

export type SignatureMode = 'uncompressed' | 'wire';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  failureThreshold: number;
  /** Longest the breaker stays open before one half-open probe, in milliseconds. Default 60000. */
  recoveryTimeoutMs: number;
  /**
   * How long the breaker stays open the first time, in milliseconds; each
   * failed probe doubles it, up to `recoveryTimeoutMs`, and a success starts
   * over. Default 5000 (a short outage is over in seconds, not a minute). Set it
   * to `recoveryTimeoutMs` for a fixed window, as the Python agent has.
   * Unset (a breaker built directly): the window is `recoveryTimeoutMs`.
   */
  initialRecoveryTimeoutMs?: number;
}

export interface RateLimitOptions {
  /** Requests allowed per window (token bucket capacity). Default 100. */
  maxCalls: number;
  /** Window in milliseconds over which `maxCalls` refill. Default 60000. */
  windowMs: number;
}

/** The fallback queue's bounds and Redis behaviour (see src/queue/). */
export interface QueueOptions {
  /** Redis key prefix; keys are `{prefix}:{<projectId>}:...` (one Cluster slot per project). Default `guard_agent`. */
  prefix: string;
  /** Most batches this instance holds in Redis (drop-oldest beyond, counted `queue_full`). Default 10000. */
  maxEntries: number;
  /** Most bytes (batch JSON) this instance holds in Redis. Default 256 MiB. */
  maxBytes: number;
  /** Queued batches older than this are dropped (`queue_retention`). Default 7 days. */
  retentionMs: number;
  /** An instance silent (no heartbeat) longer than this is dead; a sibling takes its entries over. Default 30000. */
  leaseMs: number;
  /** Longest any call waits for Redis. Default 500. */
  commandTimeoutMs: number;
  /** Bound of the in-memory queue (the whole queue without Redis; the fallback while Redis is down), batches. Default 1000. */
  memoryMaxBatches: number;
  /** Same bound in bytes. Default 16 MiB. */
  memoryMaxBytes: number;
  /** Most queued batches replayed per drain tick (the replay rate bound). Default 5. */
  drainBatchesPerTick: number;
  /** Milliseconds between drain ticks. Default 1000. */
  drainIntervalMs: number;
}

/**
 * `batch` (default): records are safe once their batch is exported or queued;
 * a SIGKILL loses what the SDK batch processor holds (up to one flush interval).
 * `emit`: each event is also journaled to Redis when emitted, so a SIGKILL
 * loses nothing Redis acknowledged (needs Redis).
 */
export type DurabilityMode = 'batch' | 'emit';

export interface AgentConfig {
  /** Required. Sent as `X-API-Key`. At least 10 characters. */
  apiKey: string;
  /** Backend base URL. Default `https://api.guard-core.com`; trailing `/` and `/api/v1` are stripped. */
  endpoint: string;
  projectId: string | null;
  /** Seed: per-kind capacity of the seed-API `EventBuffer`. Default 100. */
  bufferSize: number;
  /** Seconds between flushes (the batch processor's scheduled delay / metric export interval). Default 30. */
  flushInterval: number;
  /** Seconds between rule polls, >= 60. Default 300. */
  dynamicRuleInterval: number;
  /** Seconds between status heartbeats, >= 60. Default 300. */
  statusInterval: number;
  highWatermarkRatio: number;
  maxConcurrentFlushes: number;
  bufferOverflowPolicy: 'drop' | 'block' | 'raise';
  enableMetrics: boolean;
  enableEvents: boolean;
  /** Retries after the first attempt (total attempts = retryAttempts + 1). Default 3. */
  retryAttempts: number;
  /** Per-request timeout in seconds. Default 30. */
  timeout: number;
  /** Base delay of the exponential backoff, seconds. Default 1.0. */
  backoffFactor: number;
  /** Cap of one backoff sleep, seconds. Default 60. */
  maxBackoff: number;
  /** Header-like keys redacted (`[REDACTED]`) from event metadata and metric tags. */
  sensitiveHeaders: string[];
  /** Seed field kept for compatibility (unused by the seed); here: max bytes of one item's metadata value strings. Default 1024. */
  maxPayloadSize: number;
  /** URL-safe base64 of 32 bytes: events and metrics go encrypted to `/api/v1/events/encrypted`. */
  projectEncryptionKey: string | null;
  guardVersion: string | null;
  guardCoreVersion: string | null;
  compressionEnabled: boolean;
  /** Bytes of UTF-8 JSON at or above which the body is gzipped. Default 1024. */
  compressionThreshold: number;
  installId: string | null;
  payloadSigningSecret: string | null;
  /** What the HMAC covers: the uncompressed JSON (default, as the TS port and the backend code it cites) or the exact wire bytes (the Python agent). */
  signatureMode: SignatureMode;
  onError: OnErrorHook | null;

  // --- added by this agent ---
  /** One event's encoded size cap; larger events have their metadata truncated with a marker. Default 65536. */
  maxEventBytes: number;
  /** Body cap before compression; batches are split by bytes to stay under it. Default 262144. */
  maxBodyBytes: number;
  /** Records the SDK batch processor holds (its maxQueueSize) before it drops the newest, counted. Default 16384. */
  maxQueueSize: number;
  /** Records per export (the SDK processor's maxExportBatchSize). Default 2048. */
  maxExportBatchSize: number;
  /** Requests one export may have in flight at once (its records are split by bytes into several). Default 4. */
  exportConcurrency: number;
  breaker: BreakerOptions;
  rateLimit: RateLimitOptions;
  /** `redis://` or `rediss://` URL of the fallback queue's Redis. */
  redisUrl: string | null;
  /**
   * Seed nodes of a Redis Cluster, `redis://[user[:password]@]host:port` or
   * `rediss://...` each (one scheme for all). Empty: no cluster. Exclusive
   * with `redisUrl`.
   */
  redisClusterNodes: string[];
  queue: QueueOptions;
  durability: DurabilityMode;
  /**
   * Owner of this process's queue and journal entries in Redis. A restart
   * with the same id replays its own unacknowledged entries at once; with
   * another id they are taken over by a sibling after `queue.leaseMs`.
   * Default: install id + host + a per-worker value (see queue/instance-id.ts).
   */
  instanceId: string | null;
}

/** What users pass: everything optional but `apiKey` (which can also come from `GUARD_AGENT_API_KEY`). */
export type AgentConfigInput = Partial<Omit<AgentConfig, 'breaker' | 'rateLimit' | 'queue'>> & {
  breaker?: Partial<BreakerOptions>;
  rateLimit?: Partial<RateLimitOptions>;
  queue?: Partial<QueueOptions>;
  [extra: string]: unknown;
};
