/**
 * Checks a GuardInstrumentationConfig at construction, so a wrong value is a
 * GuardAgentConfigError naming the field (`instrumentation.trustedProxyDepth`)
 * instead of a silent default. The one that matters most: a
 * `trustedProxyDepth` of '1' (read from an environment variable) or NaN used
 * to mean 0, so every client behind the proxy had the proxy's address, and a
 * rate limit rule in enforce mode answered 429 to all of them at once.
 */
import { GuardAgentConfigError, type FieldProblem } from '../errors.js';
import { MAX_REQUEST_SERIES } from './guard-instruments.js';

/** The options checked here (the rest are switches whose wrong values only switch something off). */
export interface CheckedInstrumentationOptions {
  trustedProxyDepth?: unknown;
  mode?: unknown;
  countryHeader?: unknown;
  ignorePaths?: unknown;
  maxUnmatchedRouteKeys?: unknown;
}

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Returns `config` unchanged, or throws GuardAgentConfigError listing every problem. */
export function checkInstrumentationConfig<T extends CheckedInstrumentationOptions>(config: T): T {
  const problems: FieldProblem[] = [];
  const bad = (field: string, message: string) => problems.push({ field: `instrumentation.${field}`, message });
  const { trustedProxyDepth, mode, countryHeader, ignorePaths, maxUnmatchedRouteKeys } = config;
  if (trustedProxyDepth !== undefined && !(typeof trustedProxyDepth === 'number' && Number.isInteger(trustedProxyDepth) && trustedProxyDepth >= 0)) {
    bad('trustedProxyDepth', `must be a whole number >= 0 (the reverse proxies in front of the app), got ${describe(trustedProxyDepth)}`);
  }
  if (mode !== undefined && mode !== 'monitor' && mode !== 'enforce') bad('mode', `must be 'monitor' or 'enforce', got ${describe(mode)}`);
  if (countryHeader !== undefined && !(typeof countryHeader === 'string' && HEADER_NAME.test(countryHeader))) {
    bad('countryHeader', `must be a request header name such as 'cf-ipcountry', got ${describe(countryHeader)}`);
  }
  if (ignorePaths !== undefined) {
    if (!Array.isArray(ignorePaths)) bad('ignorePaths', `must be an array of paths and RegExps, got ${describe(ignorePaths)}`);
    else {
      ignorePaths.forEach((p: unknown, i) => {
        if (typeof p !== 'string' && !(p instanceof RegExp)) bad(`ignorePaths[${i}]`, `must be a path string or a RegExp, got ${describe(p)}`);
        // A request path starts with '/': '' would match every path (nothing observed, no rule checked), 'health' none.
        else if (typeof p === 'string' && !p.startsWith('/')) bad(`ignorePaths[${i}]`, `must be a path starting with '/', got ${describe(p)}`);
      });
    }
  }
  // Above the series cap, a scan could again fill every series of an interval (see unmatched-routes.ts).
  if (
    maxUnmatchedRouteKeys !== undefined &&
    !(typeof maxUnmatchedRouteKeys === 'number' && Number.isInteger(maxUnmatchedRouteKeys) && maxUnmatchedRouteKeys >= 0 && maxUnmatchedRouteKeys <= MAX_REQUEST_SERIES)
  ) {
    bad('maxUnmatchedRouteKeys', `must be a whole number from 0 to ${MAX_REQUEST_SERIES} (the request series kept per interval), got ${describe(maxUnmatchedRouteKeys)}`);
  }
  if (problems.length > 0) throw new GuardAgentConfigError(problems);
  return config;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
