/**
 * Public types of the dev guard backend: its options, what it records about
 * each request, its counters, and the faults a test can inject.
 */

export interface DevBackendOptions {
  /** Accepted `X-API-Key` values. Default `['dev-api-key-0123456789']`. */
  apiKeys?: string[] | string;
  /** When set, `X-Project-ID` must equal it (401 otherwise). */
  projectId?: string;
  /** When set, `X-Payload-Signature: v1=<hex>` is required and verified. */
  signingSecret?: string;
  /**
   * What the HMAC covers: the gunzipped body (`'uncompressed'`, what the TS
   * port says the backend verifies) or the exact received bytes (`'wire'`,
   * what the Python agent signs). Default `'uncompressed'`.
   */
  signatureMode?: SignatureMode;
  /** URL-safe base64 of 32 bytes; enables `POST /api/v1/events/encrypted`. */
  encryptionKey?: string;
  /** Rules object (snake_case, served as is) or the path of a JSON file, reloaded when it changes. */
  rules?: object | string;
  /** How often a rules file is polled for changes, in ms. Default 250. */
  rulesPollMs?: number;
  /** Cap on the DECOMPRESSED body in bytes. Default 262144. */
  maxBodyBytes?: number;
  /** Append every accepted batch and status as one JSON line to this file. */
  recordFile?: string;
  /** Serve the `/__control/*` API. Default true. */
  controlApi?: boolean;
  /**
   * Keep every unique event object in `events`. Default true. With false,
   * `events` (and the control API's `idempotencyKeys`) stay empty and only
   * each event's key (about 53 bytes, for deduplication), the counts and
   * `hasEvent()` / `eventCount` remain: for runs of millions of events (the
   * chaos soak), where the objects would fill the heap.
   */
  keepEvents?: boolean;
}

export type SignatureMode = 'uncompressed' | 'wire';

export interface StartOptions {
  port?: number;
  host?: string;
}

export interface StartResult {
  url: string;
  port: number;
  host: string;
}

/** One record per POST to an API route that was read to its end (faulted ones included). */
export interface BatchRecord {
  path: string;
  /** `batch_id` of the body or envelope, when it could be read. */
  batchId: string | null;
  /** Request headers, names lower-case. */
  headers: Record<string, string>;
  /** events + metrics in the batch (0 for a status body or an unreadable batch). */
  itemCount: number;
  /** Bytes received on the wire. */
  rawBytes: number;
  /** Bytes after gunzip (equal to rawBytes without gzip; 0 when gunzip failed). */
  decodedBytes: number;
  gzip: boolean;
  encrypted: boolean;
  /** HTTP status sent; 0 when a `reset` fault destroyed the socket. */
  status: number;
  /** Epoch ms when the response was decided. */
  at: number;
}

/** Every request seen (API and unknown routes, not the control API). */
export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  at: number;
}

export interface AcceptedBatch {
  record: BatchRecord;
  events: WireObject[];
  metrics: WireObject[];
  /** Events of this batch whose idempotency_key had been seen before. */
  duplicates: number;
}

export interface DevBackendStats {
  /** HTTP requests to API or unknown routes (not the control API). */
  requests: number;
  /** Event items in accepted batches, duplicates included. */
  eventsReceived: number;
  /** Event items whose idempotency_key was already stored. */
  duplicateEvents: number;
  metricsReceived: number;
  statuses: number;
  /** 4xx and 5xx answers by status code; a reset socket counts under `'reset'`. */
  rejected: { byStatus: Record<string, number> };
}

/** A wire (snake_case) JSON object as received. */
export type WireObject = Record<string, unknown>;

interface FaultBase {
  /** How many matching requests this fault answers. Default 1; `Infinity` allowed. */
  times?: number;
  /** Path prefix the fault applies to. Default: every POST API route (events, metrics, encrypted, status). */
  path?: string;
  /** Wait this long before acting. */
  delayMs?: number;
}

export interface StatusFault extends FaultBase {
  kind: 'status';
  status: number;
  /** Response body: a string is sent as is, anything else as JSON. Default `{"detail":"<reason>"}`. */
  body?: string | object;
  headers?: Record<string, string>;
  /** Send `Retry-After` as an HTTP-date this many seconds after the response time. */
  retryAfterDateSeconds?: number;
}

export interface DelayFault extends FaultBase {
  kind: 'delay';
  /** Delay, then handle the request normally. */
  ms: number;
}

export interface ResetFault extends FaultBase {
  kind: 'reset';
}

export interface GarbageFault extends FaultBase {
  kind: 'garbage';
  /** Default `<html>maintenance</html>`. */
  body?: string;
}

export interface OversizedFault extends FaultBase {
  kind: 'oversized';
  bytes: number;
  /** Default 500. */
  status?: number;
}

export interface SuccessFalseFault extends FaultBase {
  kind: 'successFalse';
  errors?: string[];
}

/**
 * 413 for a batch with more than `max` items. Unlike the FIFO kinds it is a
 * standing limit: `times` (default Infinity) counts only the requests it
 * rejects, and smaller batches pass through it untouched.
 */
export interface MaxItemsFault extends FaultBase {
  kind: 'maxItems';
  max: number;
}

/** 503 for every API request until cleared or until `untilMs` (epoch ms). Default path: every `/api/v1` route. */
export interface DownFault extends Omit<FaultBase, 'times'> {
  kind: 'down';
  untilMs?: number;
}

export type Fault =
  | StatusFault
  | DelayFault
  | ResetFault
  | GarbageFault
  | OversizedFault
  | SuccessFalseFault
  | MaxItemsFault
  | DownFault;

export type FaultKind = Fault['kind'];
