/**
 * RuleEngine: the enforcement decision for one request, compiled once per
 * ruleset (IP matchers, the user-agent matcher, country sets, rate limits) so
 * `evaluate` does lookups only.
 *
 * Order of checks, first decision wins:
 *  1. emergency mode: only `emergencyWhitelist` passes this gate (not even
 *     `ipWhitelist`); emergency-whitelisted clients go on to the checks below.
 *  2. `ipWhitelist`: allowed, no further check.
 *  3. `ipBlacklist`                                   -> 403 ip_blocked
 *  4. country from the trusted header: in `blockedCountries`, or
 *     `whitelistCountries` is non-empty and does not list it -> 403
 *     country_blocked. An unknown country is never blocked.
 *  5. `blockedUserAgents`, case-insensitive regex search with RE2, linear in
 *     the user agent's length (a plain string is a substring match; see
 *     UserAgentMatcher)                              -> 403 user_agent_blocked
 *  6. rate limits per client IP: global, then the endpoint limit (the path
 *     as `endpointPathKey` normalises it: no trailing slash, any case)
 *     -> 429 rate_limited with `retryAfterSeconds`. Skipped when the ruleset
 *     says `enableRateLimiting: false`.
 *
 * Sync or async: `evaluate` returns a plain `Decision` unless the limiter it
 * consults returns a Promise (the Redis limiter), and only then a Promise.
 * Callers on a hot path test for `then`; others simply `await` the result.
 * `checkAccess` runs checks 1-5 only and is always synchronous.
 *
 * The allow path allocates nothing beyond the rate-limit keys: the allow
 * decision is one frozen object, IP parsing writes into a shared buffer.
 */
import { diag } from '@opentelemetry/api';
import type { DynamicRules } from '../models/dynamic-rules.js';
import { endpointLimitTable, endpointPathKey } from './endpoint-path.js';
import { IpMatcher } from './ip-matcher.js';
import { sanitizeRules, type RuleProblem, type SanitizeOptions } from './rules-sanitizer.js';
import { MemorySlidingWindow, type HitResult, type SlidingWindowLimiter } from './sliding-window.js';
import { UserAgentMatcher } from './user-agent-matcher.js';

export type BlockEventType = 'ip_blocked' | 'user_agent_blocked' | 'emergency_mode_block' | 'country_blocked' | 'rate_limited';

export type Decision =
  | { action: 'allow' }
  | {
      action: 'block';
      status: 403 | 429;
      eventType: BlockEventType;
      reason: string;
      retryAfterSeconds?: number;
      rule?: string;
    };

export interface RuleRequest {
  ip: string;
  userAgent?: string;
  /** ISO 3166-1 alpha-2 code from a trusted header; null/undefined = unknown. */
  country?: string | null;
  path: string;
  method?: string;
  /** Clock for the rate limiter (ms since epoch); default Date.now(). */
  now?: number;
}

export interface RuleEngineOptions {
  /** Rate limiter; default an in-process MemorySlidingWindow. */
  limiter?: SlidingWindowLimiter;
  /** Skip sanitizing: only for rules that already went through `sanitizeRules`. */
  sanitized?: boolean;
  sanitize?: SanitizeOptions;
  /** Longest user-agent prefix tested against patterns; default 512. Bounds regex work per request. */
  maxUserAgentLength?: number;
  /** User-agent verdicts cached per ruleset; default 4096. */
  userAgentCacheSize?: number;
}

export const ALLOW: Decision = Object.freeze({ action: 'allow' });

export class RuleEngine {
  readonly rules: DynamicRules;
  /** What sanitizing dropped (empty with `sanitized: true`). */
  readonly problems: RuleProblem[];
  readonly limiter: SlidingWindowLimiter;
  private readonly whitelist: IpMatcher;
  private readonly blacklist: IpMatcher;
  private readonly emergencyWhitelist: IpMatcher;
  private readonly emergency: boolean;
  private readonly blockedCountries: ReadonlySet<string>;
  private readonly allowedCountries: ReadonlySet<string>;
  /** Null without user-agent patterns. */
  private readonly userAgents: UserAgentMatcher | null;
  private readonly globalLimit: number;
  private readonly globalWindowMs: number;
  /** Keyed by `endpointPathKey`, as the request paths are looked up. */
  private readonly endpointLimits: ReadonlyMap<string, [number, number]>;
  private readonly rateLimiting: boolean;

  constructor(rules: DynamicRules, options: RuleEngineOptions = {}) {
    if (options.sanitized) {
      this.rules = rules;
      this.problems = [];
    } else {
      const result = sanitizeRules(rules, options.sanitize);
      this.rules = result.rules;
      this.problems = result.problems;
      if (result.problems.length) {
        const shown = result.problems.slice(0, 10).map((p) => `${p.field} ${JSON.stringify(p.value)}: ${p.reason}`);
        const more = result.problems.length > 10 ? `; and ${result.problems.length - 10} more` : '';
        diag.warn(`guard rules ${String(result.rules.ruleId)} v${String(result.rules.version)}: ${result.problems.length} invalid entries dropped, the rest applies: ${shown.join('; ')}${more}`);
      }
    }
    const r = this.rules;
    this.limiter = options.limiter ?? new MemorySlidingWindow();
    this.whitelist = new IpMatcher(r.ipWhitelist);
    this.blacklist = new IpMatcher(r.ipBlacklist);
    this.emergencyWhitelist = new IpMatcher(r.emergencyWhitelist);
    this.emergency = r.emergencyMode === true;
    this.blockedCountries = new Set(r.blockedCountries.map((c) => c.toUpperCase()));
    this.allowedCountries = new Set(r.whitelistCountries.map((c) => c.toUpperCase()));
    const userAgents = new UserAgentMatcher(r.blockedUserAgents, { maxLength: options.maxUserAgentLength, cacheSize: options.userAgentCacheSize });
    this.userAgents = userAgents.size > 0 ? userAgents : null;
    const hasGlobal = typeof r.globalRateLimit === 'number' && r.globalRateLimit > 0 && typeof r.globalRateWindow === 'number' && r.globalRateWindow > 0;
    this.globalLimit = hasGlobal ? (r.globalRateLimit as number) : 0;
    this.globalWindowMs = hasGlobal ? (r.globalRateWindow as number) * 1000 : 0;
    this.endpointLimits = endpointLimitTable(r.endpointRateLimits);
    this.rateLimiting = r.enableRateLimiting !== false && (hasGlobal || this.endpointLimits.size > 0);
  }

  /** Checks 1-5 (everything but rate limits); null when none blocks. Whitelisted requests return ALLOW. */
  checkAccess(req: RuleRequest): Decision | null {
    const ip = req.ip;
    if (this.emergency && !this.emergencyWhitelist.contains(ip)) {
      return block(403, 'emergency_mode_block', 'emergency mode: only the emergency whitelist is allowed');
    }
    if (this.whitelist.size > 0 && this.whitelist.contains(ip)) return ALLOW;
    if (this.blacklist.size > 0) {
      const rule = this.blacklist.match(ip);
      if (rule !== null) return block(403, 'ip_blocked', `IP ${ip} is blacklisted`, rule);
    }
    const country = req.country;
    if (typeof country === 'string' && country.length === 2 && (this.blockedCountries.size > 0 || this.allowedCountries.size > 0)) {
      const code = country.toUpperCase();
      if (this.blockedCountries.has(code)) return block(403, 'country_blocked', `country ${code} is blocked`, code);
      if (this.allowedCountries.size > 0 && !this.allowedCountries.has(code)) {
        return block(403, 'country_blocked', `country ${code} is not in the country whitelist`, code);
      }
    }
    const userAgents = this.userAgents;
    if (userAgents !== null && typeof req.userAgent === 'string' && req.userAgent.length > 0) {
      const rule = userAgents.match(req.userAgent);
      if (rule !== null) return block(403, 'user_agent_blocked', 'user agent is blocked', rule);
    }
    return null;
  }

  /**
   * The full decision. Synchronous unless the limiter answers with a Promise;
   * see the file header.
   */
  evaluate(req: RuleRequest): Decision | Promise<Decision> {
    const early = this.checkAccess(req);
    if (early !== null) return early;
    if (!this.rateLimiting) return ALLOW;
    const now = req.now ?? Date.now();
    const ip = req.ip;
    const endpoint = this.endpointLimitFor(req.path);
    if (this.globalLimit > 0) {
      const hit = this.limiter.hit('g:' + ip, this.globalLimit, this.globalWindowMs, now);
      if (isPromise(hit)) return hit.then((h) => (h.allowed ? this.endpointStep(endpoint, ip, now) : limited(h, 'global', this.globalLimit, this.globalWindowMs)));
      if (!hit.allowed) return limited(hit, 'global', this.globalLimit, this.globalWindowMs);
    }
    return this.endpointStep(endpoint, ip, now);
  }

  /** `evaluate`, always as a Promise. */
  async evaluateAsync(req: RuleRequest): Promise<Decision> {
    return this.evaluate(req);
  }

  private endpointLimitFor(path: string): { path: string; limit: [number, number] } | null {
    if (this.endpointLimits.size === 0 || typeof path !== 'string') return null;
    // The normalised key also names the limiter's (Redis) key, so every instance counts one endpoint once.
    const key = endpointPathKey(path);
    const limit = this.endpointLimits.get(key);
    return limit === undefined ? null : { path: key, limit };
  }

  private endpointStep(endpoint: { path: string; limit: [number, number] } | null, ip: string, now: number): Decision | Promise<Decision> {
    if (endpoint === null) return ALLOW;
    const [limit, windowSeconds] = endpoint.limit;
    const windowMs = windowSeconds * 1000;
    const hit = this.limiter.hit(`e:${endpoint.path}:${ip}`, limit, windowMs, now);
    if (isPromise(hit)) return hit.then((h) => (h.allowed ? ALLOW : limited(h, endpoint.path, limit, windowMs)));
    return hit.allowed ? ALLOW : limited(hit, endpoint.path, limit, windowMs);
  }
}

function block(status: 403 | 429, eventType: BlockEventType, reason: string, rule?: string): Decision {
  return rule === undefined ? { action: 'block', status, eventType, reason } : { action: 'block', status, eventType, reason, rule };
}

function limited(hit: HitResult, scope: string, limit: number, windowMs: number): Decision {
  const what = scope === 'global' ? 'global rate limit' : `rate limit for ${scope}`;
  return {
    action: 'block',
    status: 429,
    eventType: 'rate_limited',
    reason: `${what} exceeded: ${limit} requests per ${windowMs / 1000} s`,
    retryAfterSeconds: Math.max(1, Math.ceil(hit.retryAfterMs / 1000)),
    rule: scope,
  };
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as Promise<T>)?.then === 'function';
}
