/**
 * sanitizeRules: validates a parsed ruleset entry by entry before it is
 * enforced. Bad entries are dropped and reported; the rest applies, so one
 * typo in a 10,000-line blacklist does not disable the whole list.
 *
 * Checked: IPs/CIDRs (ipBlacklist, ipWhitelist, emergencyWhitelist), country
 * codes (two ASCII letters, upper-cased), regex patterns (blockedUserAgents,
 * suspiciousPatterns: must compile with RE2, see rule-pattern.ts, at most
 * `maxPatternLength` characters, within the list's `maxProgramSize`; a refused
 * pattern is reported by its index, `blockedUserAgents[3]`), rate limits (at
 * least 1 request per window of at least 1 ms; a longer window than a day or
 * more requests than `MAX_RATE_LIMIT` are clamped and reported), list sizes
 * (`maxListLength` per list, `maxPatterns` per pattern list, the excess
 * reported once). Duplicates are removed
 * silently.
 *
 * Never throws: the input is typed `DynamicRules` but may come from anywhere
 * at runtime, so every field is type-checked again; a field of the wrong type
 * takes its default and is reported.
 */
import { defaultDynamicRules, type DynamicRules } from '../models/dynamic-rules.js';
import { cidrProblem } from './ip-address.js';
import { checkRulePattern } from './rule-pattern.js';

export interface RuleProblem {
  /** camelCase field, e.g. `ipBlacklist` or `endpointRateLimits./login`. */
  field: string;
  value: unknown;
  reason: string;
}

export interface SanitizeResult {
  rules: DynamicRules;
  problems: RuleProblem[];
}

export interface SanitizeOptions {
  /** Entries kept per list (and endpoint limits kept); default 100,000. */
  maxListLength?: number;
  /** Longest regex pattern accepted; default 512 characters. */
  maxPatternLength?: number;
  /**
   * Patterns kept per pattern list; default 1,000. Lower than `maxListLength`
   * because every request runs them (as one combined regex).
   */
  maxPatterns?: number;
  /**
   * Sum of the RE2 program sizes (`programSize()`, about one instruction per
   * literal character: 100 bot names and tool regexes come to about 1,100)
   * of the patterns kept per pattern list; default 4,000. When RE2's DFA
   * gives up on a pattern (a counted repeat like `(.{40}){10}`), a search
   * steps through up to (user-agent length x program size) instructions, so
   * this bounds what one request can cost: at 4,000 and 512 characters, tens
   * of ms for a ruleset built to be slow, microseconds for ordinary ones. A
   * pattern that does not fit in what is left is dropped and reported.
   */
  maxProgramSize?: number;
}

export const DEFAULT_MAX_LIST_LENGTH = 100_000;
export const DEFAULT_MAX_PATTERN_LENGTH = 512;
export const DEFAULT_MAX_PATTERNS = 1_000;
/**
 * Longest rate-limit window, in seconds: one day. "N per day" is the longest
 * limit a request rate limiter sensibly expresses (longer quotas are billing,
 * not abuse control), and it bounds how long a count lives (two windows, in
 * Redis and in memory). Without a bound, a window like 1e306 s overflowed to
 * Infinity in milliseconds and the limit silently allowed everything; a
 * longer window is clamped to a day, not dropped, because the limit it keeps
 * is the nearest to what was meant.
 */
export const MAX_RATE_WINDOW_SECONDS = 86_400;
/** Shortest rate-limit window: 1 ms, the limiters' clock resolution. */
export const MIN_RATE_WINDOW_SECONDS = 0.001;
/** Most requests per window (clamped above): no window of at most a day counts more from one client. */
export const MAX_RATE_LIMIT = 1_000_000_000;
export const DEFAULT_MAX_PROGRAM_SIZE = 4_000;

const IP_LISTS = ['ipBlacklist', 'ipWhitelist', 'emergencyWhitelist'] as const;
const COUNTRY_LISTS = ['blockedCountries', 'whitelistCountries'] as const;
const PATTERN_LISTS = ['blockedUserAgents', 'suspiciousPatterns'] as const;
const COUNTRY = /^[A-Za-z]{2}$/;
const SCALARS: Array<[keyof DynamicRules, 'string' | 'number' | 'boolean', boolean]> = [
  ['ruleId', 'string', false],
  ['version', 'number', false],
  ['timestamp', 'string', false],
  ['expiresAt', 'string', true],
  ['ttl', 'number', false],
  ['ipBanDuration', 'number', false],
  ['globalRateLimit', 'number', true],
  ['globalRateWindow', 'number', true],
  ['enablePenetrationDetection', 'boolean', true],
  ['enableIpBanning', 'boolean', true],
  ['enableRateLimiting', 'boolean', true],
  ['autoBanThreshold', 'number', true],
  ['autoBanDuration', 'number', true],
  ['enableRateLimitAutoBan', 'boolean', true],
  ['emergencyMode', 'boolean', false],
  ['emergencyWhitelistOnly', 'boolean', false],
  ['message', 'string', true],
];

/** Problems keep a short, JSON-safe preview of the value, never a huge or exotic value itself. */
function preview(value: unknown): unknown {
  if (typeof value === 'string') return value.length > 80 ? value.slice(0, 80) + '…' : value;
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `array(${value.length})`;
  return typeof value;
}

export function sanitizeRules(input: DynamicRules, options: SanitizeOptions = {}): SanitizeResult {
  const problems: RuleProblem[] = [];
  const report = (field: string, value: unknown, reason: string): void => {
    problems.push({ field, value: preview(value), reason });
  };
  const maxList = positiveInt(options.maxListLength) ?? DEFAULT_MAX_LIST_LENGTH;
  const maxPattern = positiveInt(options.maxPatternLength) ?? DEFAULT_MAX_PATTERN_LENGTH;
  const maxPatterns = positiveInt(options.maxPatterns) ?? DEFAULT_MAX_PATTERNS;
  const maxProgramSize = positiveInt(options.maxProgramSize) ?? DEFAULT_MAX_PROGRAM_SIZE;
  const defaults = defaultDynamicRules();
  try {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      report('rules', input, 'expected an object; using defaults');
      return { rules: defaults, problems };
    }
    const rules: DynamicRules = { ...defaults, ...input };
    // Scalars: a wrong type takes the default.
    for (const [key, type, nullable] of SCALARS) {
      const v = rules[key];
      if (v === null ? nullable : typeof v === type && (type !== 'number' || Number.isFinite(v))) continue;
      report(key, v, `expected ${type}${nullable ? ' or null' : ''}; using the default`);
      (rules as unknown as Record<string, unknown>)[key] = defaults[key];
    }
    const list = (field: string, value: unknown, max = maxList): unknown[] => {
      if (!Array.isArray(value)) {
        report(field, value, 'expected an array; using []');
        return [];
      }
      if (value.length > max) {
        report(field, value, `${value.length - max} entries over the limit of ${max} dropped`);
        return value.slice(0, max);
      }
      return value;
    };

    for (const field of IP_LISTS) {
      const kept = new Set<string>();
      for (const entry of list(field, rules[field])) {
        if (typeof entry !== 'string') {
          report(field, entry, 'not a string');
          continue;
        }
        const text = entry.trim();
        const reason = cidrProblem(text);
        if (reason === null) kept.add(text);
        else report(field, entry, reason);
      }
      rules[field] = [...kept];
    }

    for (const field of COUNTRY_LISTS) {
      const kept = new Set<string>();
      for (const entry of list(field, rules[field])) {
        const text = typeof entry === 'string' ? entry.trim() : '';
        if (COUNTRY.test(text)) kept.add(text.toUpperCase());
        else report(field, entry, 'not a two-letter ISO 3166-1 country code');
      }
      rules[field] = [...kept];
    }

    for (const field of PATTERN_LISTS) {
      const kept = new Set<string>();
      let programSize = 0;
      list(field, rules[field], maxPatterns).forEach((entry, i) => {
        if (kept.has(entry as string)) return;
        const checked = checkPattern(entry, maxPattern);
        if ('reason' in checked) {
          report(`${field}[${i}]`, entry, checked.reason);
        } else if (programSize + checked.size > maxProgramSize) {
          report(`${field}[${i}]`, entry, `RE2 program of ${checked.size} instructions does not fit in what is left (${maxProgramSize - programSize}) of the list's budget of ${maxProgramSize}`);
        } else {
          programSize += checked.size;
          kept.add(entry as string);
        }
      });
      rules[field] = [...kept];
    }

    rules.blockedCloudProviders = list('blockedCloudProviders', rules.blockedCloudProviders).filter((p): p is DynamicRules['blockedCloudProviders'][number] => {
      if (p === 'AWS' || p === 'GCP' || p === 'Azure') return true;
      report('blockedCloudProviders', p, 'unknown provider (expected AWS, GCP or Azure)');
      return false;
    });

    // Global limit: both numbers valid, or neither applies.
    const limit = rules.globalRateLimit;
    const window = rules.globalRateWindow;
    if (limit !== null || window !== null) {
      const requests = limit === null ? null : rateLimitRequests(limit, 'globalRateLimit', report);
      const seconds = window === null ? null : rateLimitWindow(window, 'globalRateWindow', report);
      if (requests === null || seconds === null) {
        if (limit === null || window === null) report(limit === null ? 'globalRateLimit' : 'globalRateWindow', null, 'global rate limit needs both a limit and a window; ignored');
        rules.globalRateLimit = null;
        rules.globalRateWindow = null;
      } else {
        rules.globalRateLimit = requests;
        rules.globalRateWindow = seconds;
      }
    }

    const endpoints: Record<string, [number, number]> = {};
    const rawLimits = rules.endpointRateLimits as unknown;
    if (rawLimits === null || typeof rawLimits !== 'object' || Array.isArray(rawLimits)) {
      report('endpointRateLimits', rawLimits, 'expected an object; using {}');
    } else {
      let count = 0;
      for (const [path, pair] of Object.entries(rawLimits as Record<string, unknown>)) {
        const field = `endpointRateLimits.${path}`;
        if (count >= maxList) {
          report('endpointRateLimits', null, `entries over the limit of ${maxList} dropped`);
          break;
        }
        if (path.length === 0) {
          report(field, pair, 'empty path');
          continue;
        }
        if (!Array.isArray(pair) || pair.length !== 2 || !isPositive(pair[0]) || !isPositive(pair[1])) {
          report(field, pair, 'expected [requests, windowSeconds], both positive numbers');
          continue;
        }
        const requests = rateLimitRequests(pair[0], field, report);
        const seconds = rateLimitWindow(pair[1], field, report);
        if (requests === null || seconds === null) continue;
        endpoints[path] = [requests, seconds];
        count++;
      }
    }
    rules.endpointRateLimits = endpoints;
    return { rules, problems };
  } catch (err) {
    // Defensive: an exotic input (a throwing getter, a Proxy) must not escape.
    report('rules', null, `could not be sanitized (${(err as Error)?.message ?? String(err)}); using defaults`);
    return { rules: defaults, problems };
  }
}

/** Why a pattern cannot be run against every request, or null (the list's program-size budget aside). */
export function patternProblem(pattern: unknown, maxLength = DEFAULT_MAX_PATTERN_LENGTH): string | null {
  const checked = checkPattern(pattern, maxLength);
  return 'reason' in checked ? checked.reason : null;
}

function checkPattern(pattern: unknown, maxLength: number): { reason: string } | { size: number } {
  if (typeof pattern !== 'string') return { reason: 'not a string' };
  if (pattern.length === 0) return { reason: 'empty pattern (would match everything)' };
  if (pattern.length > maxLength) return { reason: `pattern longer than ${maxLength} characters` };
  const checked = checkRulePattern(pattern);
  return 'reason' in checked ? checked : { size: checked.program.programSize() };
}

type Report = (field: string, value: unknown, reason: string) => void;

/** A rate limit's request count, or null (reported) when unusable: below 1 every request would be refused. */
function rateLimitRequests(v: unknown, field: string, report: Report): number | null {
  if (!isPositive(v)) {
    report(field, v, 'requests must be a positive number');
    return null;
  }
  if (v < 1) {
    report(field, v, 'requests must be at least 1 (a lower limit refuses every request)');
    return null;
  }
  if (v > MAX_RATE_LIMIT) {
    report(field, v, `requests over the maximum of ${MAX_RATE_LIMIT}; clamped to it`);
    return MAX_RATE_LIMIT;
  }
  return v;
}

/** A rate limit's window in seconds, or null (reported) when unusable; longer than a day is clamped (reported). */
function rateLimitWindow(v: unknown, field: string, report: Report): number | null {
  if (!isPositive(v)) {
    report(field, v, 'window must be a positive number of seconds');
    return null;
  }
  if (v < MIN_RATE_WINDOW_SECONDS) {
    report(field, v, `window shorter than ${MIN_RATE_WINDOW_SECONDS} s (1 ms)`);
    return null;
  }
  if (v > MAX_RATE_WINDOW_SECONDS) {
    report(field, v, `window over the maximum of ${MAX_RATE_WINDOW_SECONDS} s (one day); clamped to it`);
    return MAX_RATE_WINDOW_SECONDS;
  }
  return v;
}

function isPositive(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}
