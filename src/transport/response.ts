import type { HttpErrorKind, HttpResponse } from './http-client.js';

/**
 * How one HTTP exchange ended, from the transport's point of view (reference
 * 3.4 with the fixes of section 11.9-11.11):
 * - any 2xx is success unless its JSON body is an object saying
 *   `success: false` or carrying truthy `errors` (quota exceeded etc.);
 * - 400/404/422 are permanent: the batch is dropped, never retried;
 * - 401/403 stop sending until the key changes (auth-failed mode);
 * - 413 is split-or-drop;
 * - 429 honours Retry-After;
 * - everything else (5xx, network, timeout, any other status) is transient.
 */
export type ResponseClass =
  | 'success'
  | 'partial' // 2xx with success:false / errors
  | 'permanent' // 400 / 404 / 422
  | 'too_large' // 413
  | 'auth' // 401 / 403
  | 'rate_limited' // 429
  | 'server_error' // 5xx
  | 'unexpected'; // any other status (1xx, 3xx, 405, 408, 409, ...)

/** Keys of `TransportStats.failuresByClass`. */
export type FailureClass = 'network' | 'timeout' | '5xx' | '429' | 'auth' | '413' | '4xx_permanent' | 'partial' | 'other';

const PERMANENT = new Set([400, 404, 422]);

export function classifyStatus(status: number, body: Buffer): ResponseClass {
  if (status >= 200 && status < 300) return isPartialFailureBody(body) ? 'partial' : 'success';
  if (PERMANENT.has(status)) return 'permanent';
  if (status === 413) return 'too_large';
  if (status === 401 || status === 403) return 'auth';
  if (status === 429) return 'rate_limited';
  if (status >= 500 && status < 600) return 'server_error';
  return 'unexpected';
}

export function classifyResponse(res: HttpResponse): ResponseClass {
  return classifyStatus(res.status, res.body);
}

/** A 2xx JSON object with `success === false` or a truthy `errors`. Non-JSON or non-object bodies are success. */
export function isPartialFailureBody(body: Buffer): boolean {
  const parsed = parseJson(body);
  if (parsed === undefined || parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return false;
  const obj = parsed as Record<string, unknown>;
  if (obj.success === false) return true;
  // Truthy as the reference's Python agent reads it: an empty list or object says no errors.
  const errors = obj.errors;
  if (Array.isArray(errors)) return errors.length > 0;
  if (typeof errors === 'object' && errors !== null) return Object.keys(errors).length > 0;
  return Boolean(errors);
}

/**
 * Events a success reply says the backend dropped on its side
 * (`events_dropped_invalid_timestamp`, reference 3.4): accepted by the
 * request, never stored. 0 when the body does not say.
 */
export function backendDroppedEvents(body: Buffer): number {
  const parsed = parseJson(body);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return 0;
  const n = (parsed as Record<string, unknown>).events_dropped_invalid_timestamp;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : 0;
}

/** `undefined` when the body is empty or not JSON. */
export function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

export function failureClassOf(cls: ResponseClass): FailureClass | null {
  switch (cls) {
    case 'success':
      return null;
    case 'partial':
      return 'partial';
    case 'permanent':
      return '4xx_permanent';
    case 'too_large':
      return '413';
    case 'auth':
      return 'auth';
    case 'rate_limited':
      return '429';
    case 'server_error':
      return '5xx';
    case 'unexpected':
      return 'other';
  }
}

export function failureClassOfError(kind: HttpErrorKind): FailureClass {
  return kind === 'timeout' ? 'timeout' : 'network';
}

/** Does this outcome say the server is unhealthy (counts toward the breaker)? */
export function countsTowardBreaker(cls: ResponseClass): boolean {
  return cls === 'server_error' || cls === 'unexpected';
}

export const SUMMARY_MAX_CHARS = 300;

/**
 * A response body fit for a log line or an error message (reference 4.6):
 * whitespace collapsed; longer than 300 characters ->
 * "{first 300}... [truncated, N chars total]". A branded 5xx HTML page must
 * not flood the host's logs.
 */
export function summarizeBody(body: Buffer | string, maxChars: number = SUMMARY_MAX_CHARS): string {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const collapsed = text.replace(/\s+/g, ' ').trim();
  if (collapsed.length <= maxChars) return collapsed;
  return `${collapsed.slice(0, maxChars)}... [truncated, ${text.length} chars total]`;
}
