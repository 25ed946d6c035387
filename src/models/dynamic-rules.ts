/**
 * DynamicRules (reference 2.4): received from `GET /api/v1/rules` in
 * snake_case, handed out in the camelCase shape `@guardcore/core`'s zod
 * schema validates (`ruleId`, `version`, ISO `timestamp`, `endpointRateLimits`
 * as `[n, n]`, `blockedCloudProviders` within AWS/GCP/Azure, ...).
 *
 * `parseDynamicRules` is strict about structure (a wrong type throws
 * `GuardAgentValidationError` naming the field) and lenient about unknown
 * keys (ignored, as the backend's pydantic model does).
 */
import { GuardAgentValidationError, type FieldProblem } from '../errors.js';
import { parseTimestampText } from './wire-time.js';

export const CLOUD_PROVIDERS = ['AWS', 'GCP', 'Azure'] as const;
export type CloudProvider = (typeof CLOUD_PROVIDERS)[number];

export interface DynamicRules {
  ruleId: string;
  version: number;
  /** ISO 8601 / RFC 3339 UTC string. */
  timestamp: string;
  expiresAt: string | null;
  /** Agent-side cache TTL in seconds. */
  ttl: number;
  ipBlacklist: string[];
  ipWhitelist: string[];
  ipBanDuration: number;
  blockedCountries: string[];
  whitelistCountries: string[];
  globalRateLimit: number | null;
  globalRateWindow: number | null;
  /** path -> [requests, windowSeconds] */
  endpointRateLimits: Record<string, [number, number]>;
  blockedCloudProviders: CloudProvider[];
  blockedUserAgents: string[];
  suspiciousPatterns: string[];
  enablePenetrationDetection: boolean | null;
  enableIpBanning: boolean | null;
  enableRateLimiting: boolean | null;
  autoBanThreshold: number | null;
  autoBanDuration: number | null;
  enableRateLimitAutoBan: boolean | null;
  emergencyMode: boolean;
  emergencyWhitelist: string[];
  emergencyWhitelistOnly: boolean;
  message: string | null;
}

/** Defaults of the backend's model (reference 2.4). `timestamp` is filled with now. */
export function defaultDynamicRules(now = new Date()): DynamicRules {
  return {
    ruleId: 'default-rule',
    version: 1,
    timestamp: now.toISOString(),
    expiresAt: null,
    ttl: 300,
    ipBlacklist: [],
    ipWhitelist: [],
    ipBanDuration: 3600,
    blockedCountries: [],
    whitelistCountries: [],
    globalRateLimit: null,
    globalRateWindow: null,
    endpointRateLimits: {},
    blockedCloudProviders: [],
    blockedUserAgents: [],
    suspiciousPatterns: [],
    enablePenetrationDetection: null,
    enableIpBanning: null,
    enableRateLimiting: null,
    autoBanThreshold: null,
    autoBanDuration: null,
    enableRateLimitAutoBan: null,
    emergencyMode: false,
    emergencyWhitelist: [],
    emergencyWhitelistOnly: false,
    message: null,
  };
}

type Kind = 'string' | 'int' | 'bool' | 'stringList' | 'date';
/** wire key -> [camelCase key, kind, nullable] */
const FIELDS: Array<[string, keyof DynamicRules, Kind, boolean]> = [
  ['rule_id', 'ruleId', 'string', false],
  ['version', 'version', 'int', false],
  ['timestamp', 'timestamp', 'date', false],
  ['expires_at', 'expiresAt', 'date', true],
  ['ttl', 'ttl', 'int', false],
  ['ip_blacklist', 'ipBlacklist', 'stringList', false],
  ['ip_whitelist', 'ipWhitelist', 'stringList', false],
  ['ip_ban_duration', 'ipBanDuration', 'int', false],
  ['blocked_countries', 'blockedCountries', 'stringList', false],
  ['whitelist_countries', 'whitelistCountries', 'stringList', false],
  ['global_rate_limit', 'globalRateLimit', 'int', true],
  ['global_rate_window', 'globalRateWindow', 'int', true],
  ['blocked_user_agents', 'blockedUserAgents', 'stringList', false],
  ['suspicious_patterns', 'suspiciousPatterns', 'stringList', false],
  ['enable_penetration_detection', 'enablePenetrationDetection', 'bool', true],
  ['enable_ip_banning', 'enableIpBanning', 'bool', true],
  ['enable_rate_limiting', 'enableRateLimiting', 'bool', true],
  ['auto_ban_threshold', 'autoBanThreshold', 'int', true],
  ['auto_ban_duration', 'autoBanDuration', 'int', true],
  ['enable_rate_limit_auto_ban', 'enableRateLimitAutoBan', 'bool', true],
  ['emergency_mode', 'emergencyMode', 'bool', false],
  ['emergency_whitelist', 'emergencyWhitelist', 'stringList', false],
  ['emergency_whitelist_only', 'emergencyWhitelistOnly', 'bool', false],
  ['message', 'message', 'string', true],
];

/** Fields whose value must be >= 1 when present (2.9.1 auto-ban fields). */
const AT_LEAST_ONE = new Set<keyof DynamicRules>(['autoBanThreshold', 'autoBanDuration']);

function pick(raw: Record<string, unknown>, wire: string, camel: string): unknown {
  return wire in raw ? raw[wire] : raw[camel];
}

function coerce(value: unknown, kind: Kind, field: string, problems: FieldProblem[]): unknown {
  switch (kind) {
    case 'string':
      if (typeof value === 'string') return value;
      if (typeof value === 'number') return String(value);
      break;
    case 'int':
      if (typeof value === 'number' && Number.isFinite(value) && Number.isInteger(value)) return value;
      if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return Number(value);
      break;
    case 'bool':
      if (typeof value === 'boolean') return value;
      break;
    case 'stringList':
      if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return [...value];
      break;
    case 'date': {
      const d = typeof value === 'number' ? unixTime(value) : typeof value === 'string' ? (UNIX_TIME_TEXT.test(value.trim()) ? unixTime(Number(value)) : parseTimestampText(value)) : null;
      if (d && !Number.isNaN(d.getTime())) return d.toISOString();
      break;
    }
  }
  problems.push({ field, message: `expected ${kind}, got ${describe(value)}` });
  return undefined;
}

/** A number as a string: pydantic reads it as Unix time, like the number itself. */
const UNIX_TIME_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/**
 * Unix time as the backend's pydantic 2 reads a number given for a datetime:
 * seconds up to 2e10 in magnitude (the year 2603), milliseconds beyond.
 */
function unixTime(value: number): Date | null {
  if (!Number.isFinite(value)) return null;
  return new Date(Math.abs(value) > 2e10 ? value : value * 1000);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/**
 * Parses a rules payload (snake_case from the backend, or camelCase) into the
 * camelCase `DynamicRules`. Missing fields take the model defaults; a field of
 * the wrong type throws `GuardAgentValidationError` listing every bad field.
 * Entries are checked by `sanitizeRules` after it (cloud provider names too).
 */
export function parseDynamicRules(raw: unknown, now = new Date()): DynamicRules {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new GuardAgentValidationError({ field: 'rules', message: `expected an object, got ${describe(raw)}` }, 'dynamic rules');
  }
  const src = raw as Record<string, unknown>;
  const out = defaultDynamicRules(now) as unknown as Record<string, unknown>;
  const problems: FieldProblem[] = [];
  for (const [wire, camel, kind, nullable] of FIELDS) {
    const value = pick(src, wire, camel);
    if (value === undefined) continue;
    if (value === null) {
      if (nullable) out[camel] = null;
      else problems.push({ field: camel, message: 'must not be null' });
      continue;
    }
    const v = coerce(value, kind, camel, problems);
    if (v === undefined) continue;
    if (AT_LEAST_ONE.has(camel) && (v as number) < 1) {
      problems.push({ field: camel, message: 'must be >= 1' });
      continue;
    }
    out[camel] = v;
  }
  const limits = pick(src, 'endpoint_rate_limits', 'endpointRateLimits');
  if (limits !== undefined && limits !== null) {
    if (typeof limits !== 'object' || Array.isArray(limits)) {
      problems.push({ field: 'endpointRateLimits', message: `expected an object, got ${describe(limits)}` });
    } else {
      const parsed: Record<string, [number, number]> = {};
      for (const [path, pair] of Object.entries(limits as Record<string, unknown>)) {
        if (Array.isArray(pair) && pair.length === 2 && pair.every((n) => typeof n === 'number' && Number.isFinite(n))) {
          parsed[path] = [pair[0] as number, pair[1] as number];
        } else {
          problems.push({ field: `endpointRateLimits.${path}`, message: 'expected [requests, windowSeconds]' });
        }
      }
      out.endpointRateLimits = parsed;
    }
  }
  const clouds = pick(src, 'blocked_cloud_providers', 'blockedCloudProviders');
  if (clouds !== undefined && clouds !== null) {
    if (!Array.isArray(clouds)) {
      problems.push({ field: 'blockedCloudProviders', message: `expected an array, got ${describe(clouds)}` });
    } else {
      // The backend's model is set[str]: any name is well-formed. One the agent does not know is not a reason to refuse
      // the whole ruleset (its IP lists and limits too); sanitizeRules drops it and reports it, as any bad entry.
      const set = new Set<CloudProvider>();
      for (const c of clouds) {
        if (typeof c === 'string') set.add(c as CloudProvider);
        else problems.push({ field: 'blockedCloudProviders', message: `expected a provider name, got ${describe(c)}` });
      }
      out.blockedCloudProviders = [...set];
    }
  }
  if (problems.length) throw new GuardAgentValidationError(problems, 'dynamic rules');
  return out as unknown as DynamicRules;
}

/** The backend's snake_case form (what the dev backend serves and Redis caches). */
export function dynamicRulesToWire(rules: DynamicRules): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [wire, camel] of FIELDS) out[wire] = rules[camel];
  out.endpoint_rate_limits = rules.endpointRateLimits;
  out.blocked_cloud_providers = rules.blockedCloudProviders;
  return out;
}
