import { diag } from '@opentelemetry/api';
import { fullJitterDelayMs } from './backoff.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { type HttpClient, HttpRequestError, type HttpResponse } from './http-client.js';
import type { TokenBucketRateLimiter } from './rate-limiter.js';
import { safeUrl, type SecretRedactor } from './redact.js';
import {
  type ResponseClass,
  classifyResponse,
  countsTowardBreaker,
  failureClassOf,
  failureClassOfError,
  summarizeBody,
} from './response.js';
import { parseRetryAfterMs } from './retry-after.js';
import type { TransportStatsRecorder } from './stats.js';
import { linkSignals } from './linked-signal.js';

/** How long auth-failed mode waits between probes (reference 11.10: 401/403 are not retried). */
export const AUTH_PROBE_INTERVAL_MS = 60_000;

/** What the executor reads from the live config on every attempt. */
export interface ExecutorSettings {
  endpoint: string;
  timeoutMs: number;
  retryAttempts: number;
  backoffBaseMs: number;
  backoffCapMs: number;
}

export interface ExchangeRequest {
  method: 'GET' | 'POST';
  path: string;
  /** Exact wire bytes (already compressed/signed); the same on every retry. */
  body?: Buffer;
  /** Per-request headers (Content-Encoding, signature, If-None-Match). */
  headers?: Record<string, string>;
  /** Statuses that end the exchange as they are (e.g. 304 and 404 for GET /rules). */
  finalStatuses?: ReadonlySet<number>;
  deadline?: number;
  signal?: AbortSignal;
  /** Cap on the response body kept (default: the client's, 64 KiB). */
  maxResponseBytes?: number;
  /**
   * A 401/403 refuses this resource alone, not the API key (GET /rules: an
   * ingest-only key or a plan without rules): the exchange ends with it and
   * the transport does not enter auth-failed mode, so events keep flowing.
   */
  refusalIsLocal?: boolean;
}

export type NotSentReason = 'breaker_open' | 'rate_limited_locally' | 'auth_failed' | 'aborted' | 'deadline' | 'closed';

export type ExchangeResult =
  | { kind: 'response'; cls: ResponseClass; res: HttpResponse; attempts: number; retryAfterMs?: number }
  | { kind: 'error'; failure: 'network' | 'timeout'; message: string; attempts: number; retryAfterMs?: number }
  | { kind: 'not_sent'; reason: NotSentReason; attempts: number; retryAfterMs?: number; lastStatus?: number };

export interface ExecutorDeps {
  client: HttpClient;
  breaker: CircuitBreaker;
  limiter: TokenBucketRateLimiter;
  stats: TransportStatsRecorder;
  redactor: SecretRedactor;
  settings: () => ExecutorSettings;
  /** Headers sent on every request (User-Agent, X-API-Key, ...), read per attempt so a new key applies at once. */
  baseHeaders: () => Record<string, string>;
  now: () => number;
  random: () => number;
}

/**
 * One logical request with its retry policy: local token bucket, circuit
 * breaker, auth-failed mode, then up to `retryAttempts` retries for transient
 * failures with full-jitter backoff, 429s waiting for Retry-After, all within
 * the caller's deadline. Final answers (2xx, 400/404/422, 401/403, 413) end it
 * at once. Never throws.
 */
export class RequestExecutor {
  private authFailed = false;
  private nextAuthProbeAt = 0;
  private closed = false;
  /**
   * Aborted by close(): a request still in flight (a status heartbeat or a rules fetch, which nothing else
   * aborts) ends at once, instead of holding the HTTP client's close, and stop(), for up to its timeout.
   */
  private readonly closing = new AbortController();

  constructor(private readonly deps: ExecutorDeps) {}

  isAuthFailed(): boolean {
    return this.authFailed;
  }

  /** A new API key: the old verdict no longer applies. */
  clearAuthFailed(): void {
    this.authFailed = false;
    this.nextAuthProbeAt = 0;
  }

  msUntilAuthProbe(): number {
    return this.authFailed ? Math.max(0, this.nextAuthProbeAt - this.deps.now()) : 0;
  }

  close(): void {
    this.closed = true;
    this.closing.abort();
  }

  async exchange(req: ExchangeRequest): Promise<ExchangeResult> {
    const link = linkSignals([req.signal, this.closing.signal]);
    try {
      return await this.attempts(req, link.signal);
    } finally {
      link.dispose();
    }
  }

  /** The attempts of one exchange; `signal` aborts on the caller's signal or close(). */
  private async attempts(req: ExchangeRequest, signal: AbortSignal): Promise<ExchangeResult> {
    const { breaker, limiter, stats, now } = this.deps;
    const url = this.deps.settings().endpoint + req.path;
    let attempts = 0;
    let lastStatus: number | undefined;

    for (let attempt = 0; ; attempt++) {
      const s = this.deps.settings();
      if (this.closed) return { kind: 'not_sent', reason: 'closed', attempts, lastStatus };
      if (signal.aborted) return { kind: 'not_sent', reason: 'aborted', attempts, lastStatus };
      const remaining = req.deadline === undefined ? Infinity : req.deadline - now();
      if (remaining <= 0) return { kind: 'not_sent', reason: 'deadline', attempts, lastStatus };

      // Auth-failed mode: nothing goes out but one probe per minute.
      if (this.authFailed && now() < this.nextAuthProbeAt) {
        return { kind: 'not_sent', reason: 'auth_failed', attempts, lastStatus, retryAfterMs: this.msUntilAuthProbe() };
      }
      if (!limiter.tryAcquire()) {
        return { kind: 'not_sent', reason: 'rate_limited_locally', attempts, lastStatus, retryAfterMs: limiter.msUntilToken() };
      }
      if (!breaker.tryAcquire()) {
        return { kind: 'not_sent', reason: 'breaker_open', attempts, lastStatus, retryAfterMs: breaker.msUntilProbe() || undefined };
      }
      // This request is the probe: reserve the slot only now, so a probe refused by the
      // limiter or the breaker does not cost a whole minute.
      if (this.authFailed) this.nextAuthProbeAt = now() + AUTH_PROBE_INTERVAL_MS;

      attempts++;
      const isLast = attempt >= s.retryAttempts;
      let outcome: ExchangeResult;
      try {
        stats.request(req.body?.length ?? 0);
        const res = await this.deps.client.request({
          method: req.method,
          url,
          headers: { ...this.deps.baseHeaders(), ...req.headers },
          body: req.body,
          timeoutMs: Math.max(1, Math.min(s.timeoutMs, remaining)),
          signal,
          ...(req.maxResponseBytes === undefined ? {} : { maxResponseBytes: req.maxResponseBytes }),
        });
        lastStatus = res.status;
        stats.response(res.status);
        const cls: ResponseClass = req.finalStatuses?.has(res.status) ? 'success' : classifyResponse(res);
        outcome = { kind: 'response', cls, res, attempts };
      } catch (err) {
        const e = err instanceof HttpRequestError ? err : new HttpRequestError('network', String((err as Error)?.message ?? err));
        if (e.kind === 'aborted') {
          breaker.onNeutral();
          return { kind: 'not_sent', reason: 'aborted', attempts, lastStatus };
        }
        outcome = { kind: 'error', failure: e.kind, message: this.deps.redactor.redact(e.message), attempts };
      }

      const at = now();
      if (outcome.kind === 'response') {
        const { cls, res } = outcome;
        if (cls === 'success') {
          breaker.onSuccess();
          stats.success(at);
          if (this.authFailed) diag.info('guard-agent: the backend accepted our API key again; leaving auth-failed mode');
          this.authFailed = false;
          return outcome;
        }
        stats.failure(failureClassOf(cls) ?? 'other', at);
        if (countsTowardBreaker(cls)) breaker.onFailure();
        else if (cls === 'partial') breaker.onSuccess(); // the server is up; it refused the content
        else breaker.onNeutral();

        if (cls === 'auth' && req.refusalIsLocal) return outcome;
        if (cls === 'auth') {
          if (!this.authFailed) {
            diag.error(
              `guard-agent: ${req.method} ${safeUrl(url)} answered ${res.status}; the API key (or project) was refused. ` +
                `Data is kept; one probe per minute until the key is accepted or changed.`,
            );
          }
          this.authFailed = true;
          this.nextAuthProbeAt = at + AUTH_PROBE_INTERVAL_MS;
          return { ...outcome, retryAfterMs: AUTH_PROBE_INTERVAL_MS };
        }
        if (cls === 'partial' || cls === 'permanent' || cls === 'too_large') return outcome;

        // Transient: 429, 5xx, unexpected status.
        let delay: number;
        if (cls === 'rate_limited') {
          const ra = parseRetryAfterMs(firstHeader(res.headers['retry-after']), at);
          delay = ra ?? fullJitterDelayMs(attempt, { baseMs: s.backoffBaseMs, capMs: s.backoffCapMs, random: this.deps.random });
          outcome = { ...outcome, retryAfterMs: delay };
        } else {
          delay = fullJitterDelayMs(attempt, { baseMs: s.backoffBaseMs, capMs: s.backoffCapMs, random: this.deps.random });
        }
        diag.debug(
          `guard-agent: ${req.method} ${safeUrl(url)} attempt ${attempt + 1} got ${res.status}: ${this.deps.redactor.redact(summarizeBody(res.body))}`,
        );
        if (!(await this.mayRetry(isLast, delay, req, signal))) return this.withProbeHint(outcome);
      } else if (outcome.kind === 'error') {
        stats.failure(failureClassOfError(outcome.failure), at);
        breaker.onFailure();
        diag.debug(`guard-agent: ${req.method} ${safeUrl(url)} attempt ${attempt + 1} failed: ${outcome.message}`);
        const delay = fullJitterDelayMs(attempt, { baseMs: s.backoffBaseMs, capMs: s.backoffCapMs, random: this.deps.random });
        if (!(await this.mayRetry(isLast, delay, req, signal))) return this.withProbeHint(outcome);
      }
      stats.retry();
    }
  }

  /** Sleeps `delay` and says yes if another attempt fits the budget, the deadline and the breaker. */
  private async mayRetry(isLast: boolean, delay: number, req: ExchangeRequest, signal: AbortSignal): Promise<boolean> {
    if (isLast) return false;
    // A server asking for more than one backoff cap (a long Retry-After) is not waited for
    // inside the call: the batch goes back pending with retryAfterMs, so a flush never stalls.
    if (delay > this.deps.settings().backoffCapMs) return false;
    // An open breaker would refuse the next attempt anyway: do not sleep for nothing (reference 11.11).
    if (this.deps.breaker.getState() === 'OPEN') return false;
    if (req.deadline !== undefined && this.deps.now() + delay >= req.deadline) return false;
    return sleep(delay, signal);
  }

  /** When the breaker opened on this failure, tell the caller when the probe may go. */
  private withProbeHint(outcome: ExchangeResult): ExchangeResult {
    if (outcome.retryAfterMs === undefined && this.deps.breaker.getState() === 'OPEN') {
      return { ...outcome, retryAfterMs: this.deps.breaker.msUntilProbe() };
    }
    return outcome;
  }
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. The timer does not hold the process open. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
