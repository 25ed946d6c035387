import { Agent } from 'undici';
import { keepOutOfPrint } from '../config-printing.js';
import { linkSignals } from './linked-signal.js';

/**
 * The one HTTP client of the transport, behind a tiny interface so nothing
 * else depends on the library. undici was picked over node:http +
 * Agent({keepAlive}) by measurement (bench/http-client.ts: ~20 KB JSON POSTs to
 * a loopback server, about 1.1x at concurrency 1 and 1.5x at concurrency 8),
 * and because it ships with Node's own fetch, so it adds no foreign code path.
 */

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Overall budget: connect + send + headers + (bounded) body. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** This request's cap on response bytes kept (default: the client's). */
  maxResponseBytes?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** At most `maxResponseBytes` of the body; the rest is discarded. */
  body: Buffer;
  /** Whether the body was cut at the cap. */
  truncated: boolean;
}

export type HttpErrorKind = 'network' | 'timeout' | 'aborted';

/** Network-level failure: no HTTP status. `kind` decides how the transport classifies it. */
export class HttpRequestError extends Error {
  readonly kind: HttpErrorKind;
  readonly code: string | undefined;
  constructor(kind: HttpErrorKind, message: string, code?: string) {
    super(message);
    this.name = 'HttpRequestError';
    this.kind = kind;
    this.code = code;
  }
}

export interface HttpClient {
  request(req: HttpRequest): Promise<HttpResponse>;
  close(): Promise<void>;
}

export interface HttpClientOptions {
  /** Cap on response bytes kept in memory. Default 64 KiB. */
  maxResponseBytes?: number;
  /** TCP/TLS connect timeout (also bounded by each request's timeoutMs). Default 10 s. */
  connectTimeoutMs?: number;
  /** Keep-alive connections per origin. Default 10. */
  connections?: number;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  return new UndiciHttpClient(options);
}

class UndiciHttpClient implements HttpClient {
  private readonly dispatcher: Agent;
  private readonly maxResponseBytes: number;

  constructor(options: HttpClientOptions) {
    // undici's pool holds the requests in flight, API key header included.
    keepOutOfPrint(this, 'dispatcher');
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.dispatcher = new Agent({
      connections: options.connections ?? 10,
      keepAliveTimeout: 30_000,
      connect: { timeout: options.connectTimeoutMs ?? 10_000 },
      // Our own timer bounds the whole exchange; these only stop undici's defaults (300 s) from mattering.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const link = linkSignals([req.signal]);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      link.abort();
    }, Math.max(1, req.timeoutMs));
    timer.unref();
    const signal = link.signal;
    try {
      const target = new URL(req.url);
      const res = await this.dispatcher.request({
        origin: target.origin,
        path: target.pathname + target.search,
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal,
      });
      const chunks: Buffer[] = [];
      const cap = req.maxResponseBytes ?? this.maxResponseBytes;
      let kept = 0;
      let truncated = false;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        const room = cap - kept;
        if (chunk.length > room) {
          if (room > 0) chunks.push(chunk.subarray(0, room));
          kept = cap;
          truncated = true;
          // Stop reading: an unbounded error page must not cost memory or time.
          res.body.destroy();
          break;
        }
        chunks.push(chunk);
        kept += chunk.length;
      }
      return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks, kept), truncated };
    } catch (err) {
      throw toHttpError(err, timedOut, req.signal?.aborted ?? false, req.timeoutMs);
    } finally {
      clearTimeout(timer);
      link.dispose();
    }
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

function toHttpError(err: unknown, timedOut: boolean, callerAborted: boolean, timeoutMs: number): HttpRequestError {
  if (callerAborted) return new HttpRequestError('aborted', 'Request aborted');
  if (timedOut) return new HttpRequestError('timeout', `Request timed out after ${timeoutMs} ms`);
  const e = err as { code?: string; message?: string; name?: string; cause?: { code?: string; message?: string } };
  const code = e?.code ?? e?.cause?.code;
  const detail = [e?.name, code, e?.message].filter(Boolean).join(': ');
  if (code && TIMEOUT_CODES.has(code)) return new HttpRequestError('timeout', detail || 'timeout', code);
  return new HttpRequestError('network', detail || 'network error', code);
}
