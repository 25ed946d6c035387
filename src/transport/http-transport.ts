import { diag } from '@opentelemetry/api';
import type { AgentConfig } from '../config-types.js';
import type { AgentStatus, SecurityEvent, SecurityMetric } from '../models/index.js';
import { batchOverheadBytes, encodeBatchBodyBytes, encodeEncryptedPlaintext, encodeEvent, encodeMetric, encodeStatus } from '../models/codec.js';
import { USER_AGENT, VERSION } from '../version.js';
import { buildBatches, generateBatchId, splitInHalves } from './batch-builder.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { encryptedPayloadLength, PayloadEncryptor } from './encryption.js';
import { createHttpClient, type HttpClient } from './http-client.js';
import { resolveInstallId } from './install-id.js';
import { TokenBucketRateLimiter } from './rate-limiter.js';
import { SecretRedactor, safeUrl } from './redact.js';
import { rejectedItemIndices } from './rejected-items.js';
import { type ExchangeResult, RequestExecutor } from './request-executor.js';
import { backendDroppedEvents, parseJson, summarizeBody } from './response.js';
import { TransportStatsRecorder } from './stats.js';
import type { BatchKind, DropReason, RulesFetchResult, SendOptions, SendReport, TransportStats, WireBatch } from './types.js';
import { prepareWireBody } from './wire-body.js';

export const PATHS = {
  events: '/api/v1/events',
  metrics: '/api/v1/metrics',
  encrypted: '/api/v1/events/encrypted',
  status: '/api/v1/status',
  rules: '/api/v1/rules',
} as const;

/** Longest partial-failure (success:false) gate, as the reference's streak backoff (6.5). */
export const MAX_PARTIAL_GATE_MS = 300_000;

/** Bytes of `{"events":[],"metrics":[]}`: the encrypted plaintext around its items. */
const ENCRYPTED_PLAINTEXT_WRAPPER_BYTES = encodeEncryptedPlaintext('events', []).length;

const RULES_FINAL_STATUSES: ReadonlySet<number> = new Set([304, 404]);
/**
 * Cap on a rules response kept in memory. Other answers are capped at 64 KiB
 * (an error page must not cost memory); a ruleset is data: the sanitizer
 * takes up to 100,000 entries per list, a few MB of JSON.
 */
export const MAX_RULES_RESPONSE_BYTES = 8 * 1024 * 1024;

export interface HTTPTransportOptions {
  /** Where `.guard-agent/install-id` lives (tests); default the user's home. */
  installIdHomeDir?: string;
  /** Jitter source (tests pin it). */
  random?: () => number;
  /** Clock for the breaker, limiter, auth probes and gates (tests move it). */
  now?: () => number;
  /** Replace the HTTP client (benchmarks); default the pooled undici client. */
  httpClient?: HttpClient;
}

/**
 * Sends WireBatches, status heartbeats and rule fetches to the guard backend
 * (reference sections 3 and 4, with section 11's fixes). Every item handed to
 * `sendBatch` ends up delivered, counted as dropped with a reason, or returned
 * in `pending` for the caller to queue. Never throws after construction; the
 * constructor throws only `EncryptionConfigError` for a bad encryption key.
 */
export class HTTPTransport {
  private config: AgentConfig;
  private endpoint: string;
  private installId: string;
  private encryptor: PayloadEncryptor | null;
  private readonly installIdHomeDir: string | undefined;
  private readonly now: () => number;
  private readonly client: HttpClient;
  private readonly breaker: CircuitBreaker;
  private readonly limiter: TokenBucketRateLimiter;
  private readonly stats = new TransportStatsRecorder();
  private lastBackendDropWarnAt = -Infinity;
  private readonly redactor = new SecretRedactor();
  private readonly executor: RequestExecutor;
  /**
   * The success:false streak and gate, per kind (reference 6.5: events and
   * metrics back off independently). An events quota refusal must not hold
   * metrics back, and a metrics success must not reset the events streak.
   */
  private readonly partial: Record<BatchKind, { streak: number; gateUntil: number }> = {
    events: { streak: 0, gateUntil: 0 },
    metrics: { streak: 0, gateUntil: 0 },
  };
  private closed = false;

  constructor(config: AgentConfig, opts: HTTPTransportOptions = {}) {
    this.config = config;
    this.now = opts.now ?? Date.now;
    this.installIdHomeDir = opts.installIdHomeDir;
    this.encryptor = config.projectEncryptionKey ? new PayloadEncryptor(config.projectEncryptionKey) : null;
    this.endpoint = normalizeEndpoint(config.endpoint);
    this.installId = resolveInstallId({ override: config.installId, homeDir: opts.installIdHomeDir });
    this.redactor.setSecrets([config.apiKey, config.payloadSigningSecret, config.projectEncryptionKey]);
    this.client = opts.httpClient ?? createHttpClient();
    this.breaker = new CircuitBreaker(config.breaker, this.now);
    this.limiter = new TokenBucketRateLimiter(config.rateLimit, this.now);
    this.executor = new RequestExecutor({
      client: this.client,
      breaker: this.breaker,
      limiter: this.limiter,
      stats: this.stats,
      redactor: this.redactor,
      settings: () => ({
        endpoint: this.endpoint,
        timeoutMs: this.config.timeout * 1000,
        retryAttempts: this.config.retryAttempts,
        backoffBaseMs: this.config.backoffFactor * 1000,
        backoffCapMs: this.config.maxBackoff * 1000,
      }),
      baseHeaders: () => this.baseHeaders(),
      now: this.now,
      random: opts.random ?? Math.random,
    });
  }

  // ---------------------------------------------------------------- batches

  async sendBatch(batch: WireBatch, opts: SendOptions = {}): Promise<SendReport> {
    try {
      if (batch.items.length === 0) return { outcome: 'delivered', delivered: 0, dropped: [], pending: [] };
      if (this.closed) return pendingReport(batch, 'retry_later');
      const gate = this.partial[batch.kind].gateUntil - this.now();
      if (gate > 0) return { ...pendingReport(batch, 'retry_later'), retryAfterMs: gate, kindBackoff: true };
      return await this.sendOne(batch, opts);
    } catch (err) {
      // A bug must not lose data or reach the host app: hand the batch back.
      diag.error(`guard-agent: unexpected transport error; batch kept pending: ${this.redactor.redact(String((err as Error)?.stack ?? err))}`);
      return pendingReport(batch, 'retry_later');
    }
  }

  async sendEvents(events: readonly SecurityEvent[], opts: SendOptions = {}): Promise<SendReport> {
    const items: string[] = [];
    const keys: string[] = [];
    let encodingErrors = 0;
    for (const e of events) {
      try {
        items.push(encodeEvent(e, { maxEventBytes: this.config.maxEventBytes }));
        keys.push(e.idempotencyKey);
      } catch (err) {
        encodingErrors++;
        diag.warn(`guard-agent: could not encode an event; dropped: ${this.redactor.redact(String((err as Error)?.message ?? err))}`);
      }
    }
    return this.sendItems('events', items, keys, encodingErrors, opts);
  }

  async sendMetrics(metrics: readonly SecurityMetric[], opts: SendOptions = {}): Promise<SendReport> {
    const items: string[] = [];
    let encodingErrors = 0;
    for (const m of metrics) {
      try {
        items.push(encodeMetric(m));
      } catch (err) {
        encodingErrors++;
        diag.warn(`guard-agent: could not encode a metric; dropped: ${this.redactor.redact(String((err as Error)?.message ?? err))}`);
      }
    }
    return this.sendItems('metrics', items, [], encodingErrors, opts);
  }

  /** Splits already-encoded items by bytes and sends each batch in order, merging the reports. */
  async sendItems(kind: BatchKind, items: string[], keys: string[], encodingErrors = 0, opts: SendOptions = {}): Promise<SendReport> {
    const reports: SendReport[] = [];
    if (encodingErrors > 0) {
      this.stats.drop('encoding_error', encodingErrors);
      reports.push(dropReport('encoding_error', encodingErrors));
    }
    let tooLarge = 0;
    const { limit, envelopeBytes } = this.batchBudget(kind);
    const batches = buildBatches(kind, items, keys, limit, this.now(), {
      envelopeBytes,
      onTooLarge: (n) => (tooLarge = n),
    });
    if (tooLarge > 0) {
      this.stats.drop('too_large', tooLarge);
      this.fireOnError('transport_send', new Error(`${tooLarge} ${kind} item(s) exceed the ${this.config.maxBodyBytes}-byte body cap on their own`), {
        dataType: kind,
        itemCount: tooLarge,
      });
      reports.push(dropReport('too_large', tooLarge));
    }
    for (const b of batches) reports.push(await this.sendBatch(b, opts));
    return mergeReports(reports);
  }

  // ---------------------------------------------------------------- status and rules

  /** `POST /api/v1/status` (never encrypted; gzipped and signed like any body). True when accepted. */
  async sendStatus(status: AgentStatus): Promise<boolean> {
    try {
      if (this.closed) return false;
      const json = Buffer.from(encodeStatus(status), 'utf8');
      const body = await prepareWireBody(json, this.config);
      const r = await this.executor.exchange({ method: 'POST', path: PATHS.status, body: body.bytes, headers: body.headers });
      if (r.kind === 'response' && r.cls === 'success') return true;
      this.logFinal('status', PATHS.status, r);
      return false;
    } catch (err) {
      diag.error(`guard-agent: unexpected error sending status: ${this.redactor.redact(String((err as Error)?.message ?? err))}`);
      return false;
    }
  }

  /**
   * `GET /api/v1/rules` with `If-None-Match`. 404 or an empty body means "no
   * rules". A 401/403 here is an error of the rules fetch only (as for the
   * Python agent): an API key refused for rules (ingest-only, or a plan
   * without rules) must not stop events; a key refused outright is found by
   * the next events or metrics request.
   */
  async fetchRules(etag?: string): Promise<RulesFetchResult> {
    try {
      if (this.closed) return { status: 'error', error: 'transport closed' };
      const headers: Record<string, string> = {};
      if (etag) headers['If-None-Match'] = etag;
      const r = await this.executor.exchange({ method: 'GET', path: PATHS.rules, headers, finalStatuses: RULES_FINAL_STATUSES, maxResponseBytes: MAX_RULES_RESPONSE_BYTES, refusalIsLocal: true });
      if (r.kind === 'response') {
        const { res } = r;
        if (res.status === 304) return { status: 'not_modified' };
        if (res.status === 404) return { status: 'none' };
        if (r.cls === 'success' && res.truncated) {
          return { status: 'error', error: `rules response larger than ${MAX_RULES_RESPONSE_BYTES} bytes: not applied (the last good rules stay)`, httpStatus: res.status };
        }
        if (r.cls === 'success') {
          const body = parseJson(res.body);
          if (body === undefined && res.body.length > 0) {
            return { status: 'error', error: `rules response is not JSON: ${this.safeSummary(res.body)}`, httpStatus: res.status };
          }
          if (body === undefined || body === null || (isPlainObject(body) && Object.keys(body).length === 0)) return { status: 'none' };
          const newEtag = res.headers['etag'];
          return { status: 'ok', body, ...(typeof newEtag === 'string' ? { etag: newEtag } : {}) };
        }
        return {
          status: 'error',
          error: `rules request failed with ${res.status}: ${this.safeSummary(res.body)}`,
          httpStatus: res.status,
        };
      }
      if (r.kind === 'error') return { status: 'error', error: `rules request failed (${r.failure}): ${r.message}` };
      return { status: 'error', error: `rules request not sent: ${r.reason}`, ...(r.lastStatus ? { httpStatus: r.lastStatus } : {}) };
    } catch (err) {
      return { status: 'error', error: this.redactor.redact(String((err as Error)?.message ?? err)) };
    }
  }

  // ---------------------------------------------------------------- lifecycle and introspection

  /**
   * Applies a new configuration live: endpoint, API key (clears auth-failed
   * mode), retry/backoff, timeouts, compression, signing, breaker and limiter
   * options. A new encryption key is verified first; if it fails, the
   * `EncryptionConfigError` is thrown and the previous configuration stays.
   */
  updateConfig(config: AgentConfig): void {
    let encryptor = this.encryptor;
    if (config.projectEncryptionKey !== this.config.projectEncryptionKey) {
      encryptor = config.projectEncryptionKey ? new PayloadEncryptor(config.projectEncryptionKey) : null;
    }
    const keyChanged = config.apiKey !== this.config.apiKey;
    if (config.installId !== this.config.installId) {
      this.installId = resolveInstallId({ override: config.installId, homeDir: this.installIdHomeDir });
    }
    this.encryptor = encryptor;
    this.config = config;
    this.endpoint = normalizeEndpoint(config.endpoint);
    this.redactor.setSecrets([config.apiKey, config.payloadSigningSecret, config.projectEncryptionKey]);
    this.breaker.setOptions(config.breaker);
    this.limiter.setOptions(config.rateLimit);
    if (keyChanged) this.executor.clearAuthFailed();
  }

  getStats(): TransportStats {
    return this.stats.snapshot(this.breaker.getState(), this.executor.isAuthFailed());
  }

  /** False while the API key is refused or the breaker is open. */
  isHealthy(): boolean {
    return !this.executor.isAuthFailed() && this.breaker.getState() !== 'OPEN';
  }

  getInstallId(): string {
    return this.installId;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.executor.close();
    try {
      await this.client.close();
    } catch (err) {
      diag.debug(`guard-agent: closing the HTTP client: ${String((err as Error)?.message ?? err)}`);
    }
  }

  // ---------------------------------------------------------------- internals

  /** `resent`: the batch is what was left after a 422 named its bad items; a second 422 drops it whole. */
  private async sendOne(batch: WireBatch, opts: SendOptions, resent = false): Promise<SendReport> {
    const n = batch.items.length;
    const { path, json } = this.encodeBody(batch);

    // Enforce the body cap before sending: a queued batch may come from an older, larger cap.
    if (json.length > this.config.maxBodyBytes) {
      if (n === 1) return this.dropTooLarge(batch, `encoded body is ${json.length} bytes`);
      return this.sendHalves(batch, opts);
    }

    const body = await prepareWireBody(json, this.config);
    const r = await this.executor.exchange({
      method: 'POST',
      path,
      body: body.bytes,
      headers: body.headers,
      deadline: opts.deadline,
      signal: opts.signal,
    });
    const tried: WireBatch = r.attempts > 0 ? { ...batch, attempts: (batch.attempts ?? 0) + r.attempts } : batch;

    if (r.kind === 'not_sent') {
      const outcome = r.reason === 'breaker_open' || r.reason === 'rate_limited_locally' || r.reason === 'auth_failed' ? r.reason : 'retry_later';
      return withExtras(pendingReport(tried, outcome), r.retryAfterMs, r.lastStatus);
    }
    if (r.kind === 'error') {
      this.logFinal(batch.kind, path, r);
      return withExtras(pendingReport(tried, 'retry_later'), r.retryAfterMs, undefined);
    }

    const status = r.res.status;
    switch (r.cls) {
      case 'success':
        this.partial[batch.kind] = { streak: 0, gateUntil: 0 };
        this.stats.delivered(n, this.now());
        if (batch.kind === 'events') this.noteBackendDrops(r.res.body, n);
        return { outcome: 'delivered', delivered: n, dropped: [], pending: [], lastStatus: status };
      case 'partial': {
        const p = this.partial[batch.kind];
        p.streak++;
        const gate = Math.min(this.config.flushInterval * 1000 * 2 ** (p.streak - 1), MAX_PARTIAL_GATE_MS);
        p.gateUntil = this.now() + gate;
        if (p.streak === 1) {
          diag.warn(
            `guard-agent: the backend refused a ${batch.kind} batch of ${n} item(s) (${this.safeSummary(r.res.body)}); ` +
              `kept pending, backing off up to ${Math.round(gate / 1000)} s between attempts`,
          );
        }
        return { ...withExtras(pendingReport(tried, 'retry_later'), gate, status), kindBackoff: true };
      }
      case 'permanent': {
        const detail = this.safeSummary(r.res.body);
        const rejected = status === 422 && !resent ? rejectedItemIndices(r.res.body, batch.kind, n) : null;
        if (rejected && rejected.length < n) return this.resendWithout(batch, rejected, status, detail, opts);
        diag.warn(`guard-agent: dropping ${batch.kind} batch of ${n} item(s); permanently rejected (${status}): ${detail}`);
        this.stats.drop('permanent_rejection', n);
        this.fireOnError('transport_send', new Error(`Permanent client error ${status}: ${detail}`), {
          dataType: batch.kind,
          itemCount: n,
          status,
        });
        return { ...dropReport('permanent_rejection', n), lastStatus: status };
      }
      case 'too_large':
        if (n === 1) return this.dropTooLarge(batch, `413 from the backend: ${this.safeSummary(r.res.body)}`, status);
        return this.sendHalves(batch, opts);
      case 'auth':
        this.fireOnError('transport_send', new Error(`Authentication failed: ${status}`), { dataType: batch.kind, itemCount: n, status });
        return withExtras(pendingReport(tried, 'auth_failed'), r.retryAfterMs, status);
      default:
        // 429, 5xx or an unexpected status after the retry budget.
        this.logFinal(batch.kind, path, r);
        return withExtras(pendingReport(tried, 'retry_later'), r.retryAfterMs, status);
    }
  }

  /**
   * 422 naming some items: only those are dropped (counted), and the others,
   * which the backend refused only because it validates the request whole,
   * go once more under a fresh batch id.
   */
  private async resendWithout(batch: WireBatch, rejected: number[], status: number, detail: string, opts: SendOptions): Promise<SendReport> {
    const n = batch.items.length;
    const bad = new Set(rejected);
    const keep = (_: string, i: number) => !bad.has(i);
    const rest: WireBatch = {
      ...batch,
      batchId: generateBatchId(this.now()),
      items: batch.items.filter(keep),
      idempotencyKeys: batch.idempotencyKeys.length === n ? batch.idempotencyKeys.filter(keep) : [],
    };
    diag.warn(`guard-agent: dropping ${bad.size} of ${n} ${batch.kind} item(s) the backend rejected (${status}): ${detail}; sending the other ${rest.items.length} again`);
    this.stats.drop('permanent_rejection', bad.size);
    this.fireOnError('transport_send', new Error(`Permanent client error ${status}: ${detail}`), { dataType: batch.kind, itemCount: bad.size, status });
    return mergeReports([{ ...dropReport('permanent_rejection', bad.size), lastStatus: status }, await this.sendOne(rest, opts, true)]);
  }

  /** 413 (or over the cap): halves with fresh batch ids, each sent on its own; only failing halves split further. */
  private async sendHalves(batch: WireBatch, opts: SendOptions): Promise<SendReport> {
    const [left, right] = splitInHalves(batch, this.now());
    const a = await this.sendOne(left, opts);
    const b = await this.sendOne(right, opts);
    return mergeReports([a, b]);
  }

  private dropTooLarge(batch: WireBatch, detail: string, status?: number): SendReport {
    const n = batch.items.length;
    diag.warn(`guard-agent: dropping ${batch.kind} batch of ${n} item; payload exceeds the size cap even as a single item: ${detail}`);
    this.stats.drop('too_large', n);
    this.fireOnError('transport_send', new Error(`Payload too large: ${detail}`), {
      dataType: batch.kind,
      itemCount: n,
      ...(status !== undefined ? { status } : {}),
    });
    return { ...dropReport('too_large', n), ...(status !== undefined ? { lastStatus: status } : {}) };
  }

  /** The JSON body and path of a batch: the EventBatch, or the encrypted envelope. */
  private encodeBody(batch: WireBatch): { path: string; json: Buffer } {
    if (this.encryptor) {
      const plaintext = encodeEncryptedPlaintext(batch.kind, batch.items);
      const envelope =
        '{"encrypted_payload":' + JSON.stringify(this.encryptor.encrypt(plaintext)) +
        ',"batch_id":' + JSON.stringify(batch.batchId) +
        ',"agent_version":' + JSON.stringify(VERSION) +
        ',"guard_version":' + JSON.stringify(this.config.guardVersion ?? null) +
        ',"guard_core_version":' + JSON.stringify(this.config.guardCoreVersion ?? null) +
        '}';
      return { path: PATHS.encrypted, json: Buffer.from(envelope, 'utf8') };
    }
    const json = encodeBatchBodyBytes({
      projectId: this.config.projectId,
      kind: batch.kind,
      items: batch.items,
      batchId: batch.batchId,
      createdAt: batch.createdAt,
      agentVersion: VERSION,
      guardVersion: this.config.guardVersion,
      guardCoreVersion: this.config.guardCoreVersion,
    });
    return { path: PATHS[batch.kind], json };
  }

  /**
   * The byte budget handed to `buildBatches` so the final body fits
   * maxBodyBytes: the EventBatch envelope measured exactly, or, when
   * encrypting, the plaintext budget left after the envelope and the base64
   * expansion of nonce || ciphertext || tag. Public so callers that build
   * WireBatches themselves (the exporters' delivery) size them the same way:
   * `buildBatches(kind, items, keys, limit, now, { envelopeBytes })`.
   */
  /** How many batches of one export the exporters send at once (`exportConcurrency`; follows updateConfig). */
  sendConcurrency(): number {
    return this.config.exportConcurrency ?? 1;
  }

  batchBudget(kind: BatchKind): { limit: number; envelopeBytes: number } {
    const cap = this.config.maxBodyBytes;
    if (this.encryptor) {
      const emptyEnvelope = Buffer.byteLength(
        '{"encrypted_payload":"","batch_id":"0000000000000-00000000","agent_version":' + JSON.stringify(VERSION) +
          ',"guard_version":' + JSON.stringify(this.config.guardVersion ?? null) +
          ',"guard_core_version":' + JSON.stringify(this.config.guardCoreVersion ?? null) + '}',
      );
      // Largest plaintext P with emptyEnvelope + encryptedPayloadLength(P) <= cap.
      let plaintext = Math.floor(((cap - emptyEnvelope) / 4) * 3) - 28;
      while (plaintext > 0 && emptyEnvelope + encryptedPayloadLength(plaintext) > cap) plaintext--;
      return { limit: Math.max(0, plaintext), envelopeBytes: ENCRYPTED_PLAINTEXT_WRAPPER_BYTES };
    }
    const overhead = batchOverheadBytes({
      projectId: this.config.projectId,
      kind,
      batchId: '0000000000000-00000000',
      createdAt: this.now(),
      agentVersion: VERSION,
      guardVersion: this.config.guardVersion,
      guardCoreVersion: this.config.guardCoreVersion,
    });
    return { limit: cap, envelopeBytes: overhead };
  }

  private baseHeaders(): Record<string, string> {
    const h: Record<string, string> = {
      'User-Agent': USER_AGENT,
      'Content-Type': 'application/json',
      'X-API-Key': this.config.apiKey,
      'X-Agent-Install-Id': this.installId,
    };
    if (this.config.projectId) h['X-Project-ID'] = this.config.projectId;
    return h;
  }

  /**
   * A success reply that says the backend dropped some events on its side
   * (`events_dropped_invalid_timestamp`): counted in `backendDroppedEvents`
   * and warned about (at most once a minute). Not retried: the backend
   * would drop them again.
   */
  private noteBackendDrops(body: Buffer, items: number): void {
    const dropped = Math.min(backendDroppedEvents(body), items);
    if (dropped === 0) return;
    this.stats.backendDropped(dropped);
    const now = this.now();
    if (now - this.lastBackendDropWarnAt < 60_000) return;
    this.lastBackendDropWarnAt = now;
    diag.warn(`guard-agent: the backend accepted a batch but dropped ${dropped} event(s) for an invalid timestamp (counted in transport.backendDroppedEvents); check the host's clock`);
  }

  private logFinal(what: string, path: string, r: ExchangeResult): void {
    const url = safeUrl(this.endpoint + path);
    let detail: string;
    if (r.kind === 'response') detail = `${r.res.status}: ${this.safeSummary(r.res.body)}`;
    else if (r.kind === 'error') detail = `${r.failure}: ${r.message}`;
    else detail = `not sent (${r.reason})`;
    diag.warn(`guard-agent: ${what} to ${url} failed after ${r.attempts} attempt(s); kept for retry: ${detail}`);
  }

  private safeSummary(body: Buffer): string {
    return this.redactor.redact(summarizeBody(body));
  }

  private fireOnError(stage: string, error: Error, context: Record<string, unknown>): void {
    const hook = this.config.onError;
    if (!hook) return;
    try {
      error.message = this.redactor.redact(error.message);
      hook(stage, error, context);
    } catch (err) {
      diag.debug(`guard-agent: onError hook threw: ${String((err as Error)?.message ?? err)}`);
    }
  }
}

/** Strips trailing `/` and a trailing `/api/v1` (the paths are appended to the base). */
export function normalizeEndpoint(endpoint: string): string {
  let e = endpoint.trim().replace(/\/+$/, '');
  if (e.endsWith('/api/v1')) e = e.slice(0, -'/api/v1'.length).replace(/\/+$/, '');
  return e;
}

function pendingReport(batch: WireBatch, outcome: SendReport['outcome']): SendReport {
  return { outcome, delivered: 0, dropped: [], pending: [batch] };
}

function dropReport(reason: DropReason, count: number): SendReport {
  return { outcome: 'delivered', delivered: 0, dropped: [{ count, reason }], pending: [] };
}

function withExtras(report: SendReport, retryAfterMs: number | undefined, lastStatus: number | undefined): SendReport {
  if (retryAfterMs !== undefined) report.retryAfterMs = retryAfterMs;
  if (lastStatus !== undefined) report.lastStatus = lastStatus;
  return report;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Merges sub-reports (byte-split batches, 413 halves). Delivered counts and
 * drops add up; pending batches are kept; the outcome is 'delivered' when
 * nothing is pending, 'partial' when some items got through and some are
 * pending, else the first pending sub-report's reason. `kindBackoff` holds
 * when every sub-report with pending items says so.
 */
export function mergeReports(reports: SendReport[]): SendReport {
  const merged: SendReport = { outcome: 'delivered', delivered: 0, dropped: [], pending: [] };
  const drops = new Map<DropReason, number>();
  let firstPendingOutcome: SendReport['outcome'] | null = null;
  let kindBackoff = true;
  for (const r of reports) {
    if (r.pending.length > 0 && r.kindBackoff !== true) kindBackoff = false;
    merged.delivered += r.delivered;
    for (const d of r.dropped) drops.set(d.reason, (drops.get(d.reason) ?? 0) + d.count);
    merged.pending.push(...r.pending);
    if (r.pending.length > 0 && firstPendingOutcome === null) firstPendingOutcome = r.outcome === 'partial' ? 'retry_later' : r.outcome;
    if (r.retryAfterMs !== undefined) merged.retryAfterMs = Math.max(merged.retryAfterMs ?? 0, r.retryAfterMs);
    if (r.lastStatus !== undefined) merged.lastStatus = r.lastStatus;
  }
  merged.dropped = [...drops].map(([reason, count]) => ({ reason, count }));
  if (merged.pending.length > 0) {
    merged.outcome = merged.delivered > 0 ? 'partial' : (firstPendingOutcome ?? 'retry_later');
    if (kindBackoff) merged.kindBackoff = true;
  }
  return merged;
}
