/**
 * AgentConfig: defaults (reference 2.1), `GUARD_AGENT_*` environment
 * variables, and validation. `resolveConfig` returns a complete, frozen-shape
 * config or throws one `GuardAgentConfigError` listing every problem, each
 * naming its field. Unknown keys are reported (with a "did you mean"), never
 * silently dropped: the Python agent lost `guard_core_version` for a release
 * that way (reference 11.24).
 *
 * Precedence: explicit options > environment > defaults.
 */
import { diag } from '@opentelemetry/api';
import { GuardAgentConfigError, type FieldProblem } from './errors.js';
import type { AgentConfig, AgentConfigInput } from './config-types.js';
import { hideSecretsWhenPrinted } from './config-printing.js';
import { clusterNodeProblems } from './queue/redis-cluster-nodes.js';
import { projectKeyProblem } from './transport/encryption.js';

export type { AgentConfig, AgentConfigInput } from './config-types.js';

export const DEFAULT_ENDPOINT = 'https://api.guard-core.com';

export const DEFAULT_CONFIG: Omit<AgentConfig, 'apiKey'> = {
  endpoint: DEFAULT_ENDPOINT,
  projectId: null,
  bufferSize: 100,
  flushInterval: 30,
  dynamicRuleInterval: 300,
  statusInterval: 300,
  highWatermarkRatio: 0.8,
  maxConcurrentFlushes: 1,
  bufferOverflowPolicy: 'drop',
  enableMetrics: true,
  enableEvents: true,
  retryAttempts: 3,
  timeout: 30,
  backoffFactor: 1.0,
  maxBackoff: 60,
  sensitiveHeaders: ['authorization', 'cookie', 'x-api-key', 'proxy-authorization'],
  maxPayloadSize: 1024,
  projectEncryptionKey: null,
  guardVersion: null,
  guardCoreVersion: null,
  compressionEnabled: true,
  compressionThreshold: 1024,
  installId: null,
  payloadSigningSecret: null,
  signatureMode: 'uncompressed',
  onError: null,
  maxEventBytes: 64 * 1024,
  maxBodyBytes: 256 * 1024,
  maxQueueSize: 16_384,
  maxExportBatchSize: 2048,
  exportConcurrency: 4,
  breaker: { failureThreshold: 5, recoveryTimeoutMs: 60_000, initialRecoveryTimeoutMs: 5_000 },
  rateLimit: { maxCalls: 100, windowMs: 60_000 },
  redisUrl: null,
  redisClusterNodes: [],
  queue: {
    prefix: 'guard_agent',
    maxEntries: 10_000,
    maxBytes: 256 * 1024 * 1024,
    retentionMs: 7 * 24 * 3600 * 1000,
    leaseMs: 30_000,
    commandTimeoutMs: 500,
    memoryMaxBatches: 1000,
    memoryMaxBytes: 16 * 1024 * 1024,
    drainBatchesPerTick: 5,
    drainIntervalMs: 1000,
  },
  durability: 'batch',
  instanceId: null,
};

type Kind = 'string' | 'nullableString' | 'int' | 'number' | 'bool' | 'list' | 'enum' | 'function';

interface FieldSpec {
  kind: Kind;
  env: string;
  /** Inclusive lower bound for numbers. */
  min?: number;
  /** Strict lower bound for numbers (value must be greater). */
  gt?: number;
  max?: number;
  values?: readonly string[];
  /** Shown in docs; secrets are never echoed in errors. */
  secret?: boolean;
  /** For strings: the problem an explicitly empty option is (its env var empty still means unset). */
  emptyOption?: string;
  /** For lists: keep the values' case (URLs, whose passwords are case-sensitive); lists are lowercased otherwise. */
  keepCase?: boolean;
  describe: string;
}

/**
 * Every top-level field with its environment variable, type and bounds.
 * This table is the single source for validation, env parsing and the
 * README's configuration table (`describeConfig()`).
 */
export const CONFIG_FIELDS: Record<Exclude<keyof AgentConfig, 'breaker' | 'rateLimit' | 'queue'>, FieldSpec> = {
  apiKey: { kind: 'string', env: 'GUARD_AGENT_API_KEY', secret: true, describe: 'Required. Sent as X-API-Key; at least 10 characters.' },
  endpoint: { kind: 'string', env: 'GUARD_AGENT_ENDPOINT', describe: 'Backend base URL (http or https, no query, fragment or credentials); trailing "/" and "/api/v1" are stripped.' },
  projectId: { kind: 'nullableString', env: 'GUARD_AGENT_PROJECT_ID', describe: 'Sent as X-Project-ID and project_id; enables the rules poll.' },
  bufferSize: { kind: 'int', env: 'GUARD_AGENT_BUFFER_SIZE', gt: 0, describe: 'Seed compatibility: capacity of each EventBuffer buffer (the pipeline itself batches with maxQueueSize / maxExportBatchSize).' },
  flushInterval: { kind: 'number', env: 'GUARD_AGENT_FLUSH_INTERVAL', gt: 0, describe: 'Seconds between exports (scheduledDelay / metric export interval).' },
  dynamicRuleInterval: { kind: 'number', env: 'GUARD_AGENT_DYNAMIC_RULE_INTERVAL', min: 60, describe: 'Seconds between rule polls (>= 60).' },
  statusInterval: { kind: 'number', env: 'GUARD_AGENT_STATUS_INTERVAL', min: 60, describe: 'Seconds between status heartbeats (>= 60).' },
  highWatermarkRatio: { kind: 'number', env: 'GUARD_AGENT_HIGH_WATERMARK_RATIO', gt: 0, max: 1, describe: 'Seed compatibility: EventBuffer early-flush ratio (0-1].' },
  maxConcurrentFlushes: { kind: 'int', env: 'GUARD_AGENT_MAX_CONCURRENT_FLUSHES', min: 1, describe: 'Seed compatibility: EventBuffer concurrent flushes.' },
  bufferOverflowPolicy: { kind: 'enum', env: 'GUARD_AGENT_BUFFER_OVERFLOW_POLICY', values: ['drop', 'block', 'raise'], describe: 'Seed compatibility: EventBuffer policy when full.' },
  enableMetrics: { kind: 'bool', env: 'GUARD_AGENT_ENABLE_METRICS', describe: 'When false, sendMetric does nothing (counted).' },
  enableEvents: { kind: 'bool', env: 'GUARD_AGENT_ENABLE_EVENTS', describe: 'When false, sendEvent does nothing (counted).' },
  retryAttempts: { kind: 'int', env: 'GUARD_AGENT_RETRY_ATTEMPTS', min: 0, describe: 'Retries after the first attempt within one send.' },
  timeout: { kind: 'number', env: 'GUARD_AGENT_TIMEOUT', gt: 0, describe: 'Per-request timeout, seconds.' },
  backoffFactor: { kind: 'number', env: 'GUARD_AGENT_BACKOFF_FACTOR', gt: 0, describe: 'Base delay of the exponential backoff (full jitter), seconds.' },
  maxBackoff: { kind: 'number', env: 'GUARD_AGENT_MAX_BACKOFF', gt: 0, describe: 'Cap of one backoff sleep, seconds.' },
  sensitiveHeaders: { kind: 'list', env: 'GUARD_AGENT_SENSITIVE_HEADERS', describe: 'Keys redacted from event metadata and metric tags (comma-separated in env).' },
  maxPayloadSize: { kind: 'int', env: 'GUARD_AGENT_MAX_PAYLOAD_SIZE', gt: 0, describe: 'Seed field, kept for compatibility; see maxEventBytes / maxBodyBytes.' },
  projectEncryptionKey: { kind: 'nullableString', env: 'GUARD_AGENT_PROJECT_ENCRYPTION_KEY', secret: true, emptyOption: 'Project key cannot be empty (leave it unset, or null, to send unencrypted)', describe: 'URL-safe base64 of 32 bytes, checked at configuration: AES-256-GCM to /api/v1/events/encrypted. An explicit empty value is an error.' },
  guardVersion: { kind: 'nullableString', env: 'GUARD_AGENT_GUARD_VERSION', describe: 'Version of the wrapping middleware, sent as guard_version.' },
  guardCoreVersion: { kind: 'nullableString', env: 'GUARD_AGENT_GUARD_CORE_VERSION', describe: 'guard-core version, sent as guard_core_version.' },
  compressionEnabled: { kind: 'bool', env: 'GUARD_AGENT_COMPRESSION_ENABLED', describe: 'Gzip bodies at or above compressionThreshold.' },
  compressionThreshold: { kind: 'int', env: 'GUARD_AGENT_COMPRESSION_THRESHOLD', min: 0, describe: 'Bytes of JSON at or above which the body is gzipped.' },
  installId: { kind: 'nullableString', env: 'GUARD_AGENT_INSTALL_ID', describe: 'Overrides the install id persisted in ~/.guard-agent/install-id.' },
  payloadSigningSecret: { kind: 'nullableString', env: 'GUARD_AGENT_PAYLOAD_SIGNING_SECRET', secret: true, describe: 'Enables X-Payload-Signature: v1=<HMAC-SHA256 hex>.' },
  signatureMode: { kind: 'enum', env: 'GUARD_AGENT_SIGNATURE_MODE', values: ['uncompressed', 'wire'], describe: 'What the HMAC covers: the uncompressed JSON or the exact wire bytes.' },
  onError: { kind: 'function', env: '', describe: 'Hook (stage, error, context) called best effort on drops and failures.' },
  maxEventBytes: { kind: 'int', env: 'GUARD_AGENT_MAX_EVENT_BYTES', min: 1024, describe: 'One event\'s size cap in UTF-8 bytes; a larger event is truncated to fit (metadata, then long strings) and still sent.' },
  maxBodyBytes: { kind: 'int', env: 'GUARD_AGENT_MAX_BODY_BYTES', min: 4096, describe: 'Request body cap before compression; batches are split by bytes.' },
  maxQueueSize: { kind: 'int', env: 'GUARD_AGENT_MAX_QUEUE_SIZE', min: 1, describe: 'Records the SDK batch processor holds before it drops the newest (counted); sized for attack bursts.' },
  maxExportBatchSize: { kind: 'int', env: 'GUARD_AGENT_MAX_EXPORT_BATCH_SIZE', min: 1, describe: 'Records per export (then split by bytes into requests); at most maxQueueSize.' },
  exportConcurrency: { kind: 'int', env: 'GUARD_AGENT_EXPORT_CONCURRENCY', min: 1, max: 32, describe: 'Requests one export may have in flight at once: the SDK hands one export at a time, so this hides the backend\'s round trip.' },
  redisUrl: { kind: 'nullableString', env: 'GUARD_AGENT_REDIS_URL', describe: 'redis:// or rediss:// URL of the fallback queue.' },
  redisClusterNodes: {
    kind: 'list',
    env: 'GUARD_AGENT_REDIS_CLUSTER_NODES',
    keepCase: true,
    describe: 'Seed nodes of a Redis Cluster for the fallback queue and rules sharing: redis://[user[:password]@]host:port or rediss://... each, one scheme for all (comma-separated in env). Not with redisUrl.',
  },
  durability: { kind: 'enum', env: 'GUARD_AGENT_DURABILITY', values: ['batch', 'emit'], describe: 'batch: a SIGKILL can lose one flush interval; emit: each event is journaled to Redis when emitted (needs Redis).' },
  instanceId: { kind: 'nullableString', env: 'GUARD_AGENT_INSTANCE_ID', describe: 'Owner id of this process\'s Redis entries; keep it across restarts to replay them at once. Default: install id + host + worker.' },
};

export const NESTED_FIELDS = {
  breaker: {
    failureThreshold: { kind: 'int', env: 'GUARD_AGENT_BREAKER_FAILURE_THRESHOLD', min: 1, describe: 'Consecutive failures that open the circuit breaker.' },
    recoveryTimeoutMs: { kind: 'int', env: 'GUARD_AGENT_BREAKER_RECOVERY_TIMEOUT_MS', min: 0, describe: 'Longest the breaker stays open before one half-open probe, milliseconds.' },
    initialRecoveryTimeoutMs: {
      kind: 'int',
      env: 'GUARD_AGENT_BREAKER_INITIAL_RECOVERY_TIMEOUT_MS',
      min: 0,
      describe: 'How long the breaker stays open the first time, milliseconds; each failed probe doubles it up to recoveryTimeoutMs, a success starts over.',
    },
  },
  rateLimit: {
    maxCalls: { kind: 'int', env: 'GUARD_AGENT_RATE_LIMIT_MAX_CALLS', min: 1, describe: 'Client-side token bucket: requests per window.' },
    windowMs: { kind: 'int', env: 'GUARD_AGENT_RATE_LIMIT_WINDOW_MS', min: 1, describe: 'Client-side token bucket window, milliseconds.' },
  },
  queue: {
    prefix: { kind: 'string', env: 'GUARD_AGENT_QUEUE_PREFIX', describe: 'Redis key prefix of the fallback queue and journal.' },
    maxEntries: { kind: 'int', env: 'GUARD_AGENT_QUEUE_MAX_ENTRIES', min: 1, describe: 'Most batches one instance holds in Redis (oldest dropped, counted).' },
    maxBytes: { kind: 'int', env: 'GUARD_AGENT_QUEUE_MAX_BYTES', min: 1024, describe: 'Most bytes one instance holds in Redis (oldest dropped, counted).' },
    retentionMs: { kind: 'int', env: 'GUARD_AGENT_QUEUE_RETENTION_MS', min: 1000, describe: 'Queued batches older than this are dropped (counted). Default 7 days.' },
    leaseMs: { kind: 'int', env: 'GUARD_AGENT_QUEUE_LEASE_MS', min: 300, describe: 'Silence after which a sibling takes an instance\'s entries over.' },
    commandTimeoutMs: { kind: 'int', env: 'GUARD_AGENT_QUEUE_COMMAND_TIMEOUT_MS', min: 10, describe: 'Longest any call waits for Redis.' },
    memoryMaxBatches: { kind: 'int', env: 'GUARD_AGENT_QUEUE_MEMORY_MAX_BATCHES', min: 1, describe: 'In-memory queue bound (no Redis, or Redis down), batches.' },
    memoryMaxBytes: { kind: 'int', env: 'GUARD_AGENT_QUEUE_MEMORY_MAX_BYTES', min: 1024, describe: 'In-memory queue bound, bytes.' },
    drainBatchesPerTick: { kind: 'int', env: 'GUARD_AGENT_QUEUE_DRAIN_BATCHES_PER_TICK', min: 1, describe: 'Queued batches replayed per drain tick (replay rate bound).' },
    drainIntervalMs: { kind: 'int', env: 'GUARD_AGENT_QUEUE_DRAIN_INTERVAL_MS', min: 10, describe: 'Milliseconds between drain ticks.' },
  },
} as const satisfies Record<string, Record<string, FieldSpec>>;

/** Spellings accepted for keys besides camelCase (snake_case, as in the Python config). */
function camelOf(key: string): string {
  return key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

export interface ResolveOptions {
  env?: Record<string, string | undefined>;
  /** When true, unknown keys are errors instead of warnings. */
  strict?: boolean;
}

export interface ResolvedConfig extends AgentConfig {
  /** Keys the input had that the config does not know (already reported). */
  readonly unknownKeys?: readonly string[];
}

/**
 * Builds a complete `AgentConfig`.
 * @throws GuardAgentConfigError listing every invalid field.
 */
export function resolveConfig(input: AgentConfigInput = {}, options: ResolveOptions = {}): AgentConfig {
  const env = options.env ?? process.env;
  const problems: FieldProblem[] = [];
  const unknown: string[] = [];
  const given: Record<string, unknown> = {};
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new GuardAgentConfigError([{ field: 'config', message: 'expected an object' }]);
  }
  for (const [rawKey, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const key = camelOf(rawKey);
    if (key in CONFIG_FIELDS || key in NESTED_FIELDS) given[key] = value;
    else unknown.push(rawKey);
  }

  const out: Record<string, unknown> = {};
  for (const [field, spec] of Object.entries(CONFIG_FIELDS) as Array<[string, FieldSpec]>) {
    const fromInput = given[field];
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (fromInput !== undefined) out[field] = check(fromInput, spec, field, problems, false);
    else if (fromEnv !== undefined && fromEnv !== '') out[field] = check(fromEnv, spec, `${field} (${spec.env})`, problems, true);
    else out[field] = field === 'apiKey' ? undefined : cloneDefault((DEFAULT_CONFIG as unknown as Record<string, unknown>)[field]);
  }
  for (const [group, specs] of Object.entries(NESTED_FIELDS) as Array<[string, Record<string, FieldSpec>]>) {
    const raw = given[group];
    const groupOut: Record<string, unknown> = { ...(DEFAULT_CONFIG as unknown as Record<string, Record<string, unknown>>)[group] };
    if (raw !== undefined && (raw === null || typeof raw !== 'object' || Array.isArray(raw))) {
      problems.push({ field: group, message: 'expected an object' });
    }
    const rawObj = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
    for (const k of Object.keys(rawObj)) if (!(camelOf(k) in specs)) unknown.push(`${group}.${k}`);
    for (const [sub, spec] of Object.entries(specs)) {
      const v = rawObj[sub] ?? rawObj[sub.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())];
      const e = env[spec.env];
      if (v !== undefined) groupOut[sub] = check(v, spec, `${group}.${sub}`, problems, false);
      else if (e !== undefined && e !== '') groupOut[sub] = check(e, spec, `${group}.${sub} (${spec.env})`, problems, true);
    }
    out[group] = groupOut;
  }

  crossChecks(out, problems);
  if (unknown.length) {
    const msgs = unknown.map((k) => ({ field: k, message: `unknown option${suggest(k)}` }));
    if (options.strict) problems.push(...msgs);
    else diag.warn(`guard-agent: ignoring unknown config option(s): ${msgs.map((m) => m.field + m.message.replace('unknown option', '')).join(', ')}`);
  }
  if (problems.length) throw new GuardAgentConfigError(problems);
  const config = out as unknown as AgentConfig;
  config.endpoint = normalizeEndpoint(config.endpoint);
  if (unknown.length) Object.defineProperty(config, 'unknownKeys', { value: Object.freeze(unknown), enumerable: false });
  hideSecretsWhenPrinted(config, SECRET_FIELDS);
  return config;
}

/** The fields marked secret in CONFIG_FIELDS: never echoed in errors, redacted when the config is printed. */
const SECRET_FIELDS: readonly string[] = Object.entries(CONFIG_FIELDS as Record<string, FieldSpec>)
  .filter(([, spec]) => spec.secret)
  .map(([field]) => field);

function cloneDefault(v: unknown): unknown {
  return Array.isArray(v) ? [...v] : v;
}

/** Validates and (for env strings) parses one value. Secrets are never echoed. */
function check(value: unknown, spec: FieldSpec, field: string, problems: FieldProblem[], fromEnv: boolean): unknown {
  const shown = spec.secret ? '(hidden)' : typeof value === 'string' ? JSON.stringify(value.slice(0, 60)) : String(value);
  const bad = (message: string): undefined => {
    problems.push({ field, message });
    return undefined;
  };
  switch (spec.kind) {
    case 'string':
    case 'nullableString':
      if (value === null && spec.kind === 'nullableString') return null;
      if (typeof value !== 'string') return bad(`expected a string, got ${typeName(value)}`);
      // An empty env var means unset; an empty option where an empty value would silently turn a feature off is refused.
      if (value === '' && spec.emptyOption !== undefined && !fromEnv) return bad(spec.emptyOption);
      return spec.kind === 'nullableString' && value === '' ? null : value;
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (fromEnv && typeof value === 'string') {
        const v = value.trim().toLowerCase();
        if (['true', '1', 'yes', 'on'].includes(v)) return true;
        if (['false', '0', 'no', 'off'].includes(v)) return false;
      }
      return bad(`expected true or false, got ${shown}`);
    case 'int':
    case 'number': {
      let n: unknown = value;
      if (fromEnv && typeof value === 'string' && value.trim() !== '') n = Number(value);
      if (typeof n !== 'number' || !Number.isFinite(n)) return bad(`expected a number, got ${shown}`);
      if (spec.kind === 'int' && !Number.isInteger(n)) return bad(`expected an integer, got ${shown}`);
      if (spec.gt !== undefined && !(n > spec.gt)) return bad(`must be greater than ${spec.gt}, got ${n}`);
      if (spec.min !== undefined && n < spec.min) return bad(`must be at least ${spec.min}, got ${n}`);
      if (spec.max !== undefined && n > spec.max) return bad(`must be at most ${spec.max}, got ${n}`);
      return n;
    }
    case 'list': {
      const norm = (s: string): string => (spec.keepCase ? s.trim() : s.toLowerCase());
      if (fromEnv && typeof value === 'string') return value.split(',').map((s) => norm(s.trim())).filter(Boolean);
      if (!Array.isArray(value) || !value.every((s) => typeof s === 'string')) return bad('expected an array of strings');
      return value.map(norm);
    }
    case 'enum':
      if (typeof value === 'string' && spec.values!.includes(value)) return value;
      return bad(`must be one of ${spec.values!.join(', ')}, got ${shown}`);
    case 'function':
      if (value === null) return null;
      if (typeof value === 'function') return value;
      return bad(`expected a function, got ${typeName(value)}`);
  }
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function crossChecks(c: Record<string, unknown>, problems: FieldProblem[]): void {
  if (c.apiKey === undefined && !problems.some((p) => p.field.startsWith('apiKey'))) {
    problems.push({ field: 'apiKey', message: 'is required (option apiKey or GUARD_AGENT_API_KEY)' });
  } else if (typeof c.apiKey === 'string' && c.apiKey.length < 10) {
    problems.push({ field: 'apiKey', message: 'must be at least 10 characters long' });
  }
  if (typeof c.endpoint === 'string') {
    const msg = endpointProblem(c.endpoint);
    if (msg) problems.push({ field: 'endpoint', message: msg });
  }
  if (typeof c.projectEncryptionKey === 'string') {
    const problem = projectKeyProblem(c.projectEncryptionKey);
    if (problem) problems.push({ field: 'projectEncryptionKey', message: problem });
  }
  if (typeof c.redisUrl === 'string' && !/^rediss?:\/\/./i.test(c.redisUrl)) {
    problems.push({ field: 'redisUrl', message: 'must start with redis:// or rediss://' });
  } else if (typeof c.redisUrl === 'string' && !URL.canParse(c.redisUrl)) {
    // Checked here, never quoted: ioredis's own parse throws at construction a TypeError whose `input` is the URL, password included.
    problems.push({ field: 'redisUrl', message: 'must be a URL like redis://[user[:password]@]host:port[/db] (percent-encode special characters in a password)' });
  }
  if (Array.isArray(c.redisClusterNodes) && c.redisClusterNodes.length > 0) {
    problems.push(...clusterNodeProblems(c.redisClusterNodes));
    if (typeof c.redisUrl === 'string') {
      problems.push({ field: 'redisClusterNodes', message: 'cannot be used together with redisUrl: set redisUrl for one Redis server or redisClusterNodes for a Redis Cluster, not both' });
    }
  }
  if (typeof c.maxEventBytes === 'number' && typeof c.maxBodyBytes === 'number' && c.maxEventBytes > c.maxBodyBytes - 1024) {
    problems.push({ field: 'maxEventBytes', message: `must leave room for the batch envelope: at most maxBodyBytes - 1024 (${c.maxBodyBytes - 1024})` });
  }
}

/** The reference's endpoint checks (2.1), with its messages. */
export function endpointProblem(endpoint: string): string | null {
  if (endpoint.trim() === '') return 'Endpoint URL cannot be empty';
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'Endpoint must be a valid URL with scheme and domain';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'Endpoint URL must use http or https scheme';
  if (!url.hostname) return 'Endpoint must be a valid URL with scheme and domain';
  // The API paths are appended to the endpoint: after a query or fragment they would be lost and every batch sent to the wrong path.
  if (url.search !== '' || url.hash !== '' || endpoint.includes('?') || endpoint.includes('#')) {
    return 'Endpoint must not carry a query string or fragment: the agent appends the API paths to it';
  }
  // Never sent by the HTTP client, and a secret in a URL ends up in logs: the API key authenticates.
  if (url.username !== '' || url.password !== '') return 'Endpoint must not carry credentials (user:password@); the apiKey authenticates';
  return null;
}

/** Strips trailing slashes and a trailing `/api/v1` (paths are appended to the base). */
export function normalizeEndpoint(endpoint: string): string {
  let e = endpoint.trim().replace(/\/+$/, '');
  if (e.endsWith('/api/v1')) {
    e = e.slice(0, -'/api/v1'.length);
    diag.warn('guard-agent: endpoint ended with /api/v1; the agent appends the API path itself, so the suffix was removed');
  }
  return e;
}

/** A copy of `base` with `partial` applied and validated (used by `updateConfig`). */
export function mergeConfig(base: AgentConfig, partial: AgentConfigInput, options: ResolveOptions = {}): AgentConfig {
  // An undefined field is not given, as resolveConfig reads it: it keeps the current value
  // (spread as is, `{ projectId: process.env.UNSET }` would reset projectId to its default).
  // Keys are camelCased first, so a snake_case key replaces the current value instead of sitting beside it.
  const given = definedOnly(partial);
  const merged: AgentConfigInput = { ...base, ...given } as AgentConfigInput;
  for (const group of ['breaker', 'rateLimit', 'queue'] as const) {
    const sub = given[group];
    if (sub && typeof sub === 'object' && !Array.isArray(sub)) merged[group] = { ...base[group], ...definedOnly(sub as Record<string, unknown>) };
  }
  return resolveConfig(merged, { ...options, env: {} });
}

/** The defined entries of `obj`, under their camelCase keys. */
function definedOnly<T extends Record<string, unknown>>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined).map(([k, v]) => [camelOf(k), v])) as Partial<T>;
}

function suggest(key: string): string {
  const candidates = [...Object.keys(CONFIG_FIELDS), ...Object.keys(NESTED_FIELDS)];
  const k = camelOf(key).toLowerCase();
  let best: string | null = null;
  let bestD = 3;
  for (const c of candidates) {
    const d = distance(k, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best ? ` (did you mean "${best}"?)` : '';
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

/** Rows for the README's configuration table: option, env var, default, description. */
export function describeConfig(): Array<{ option: string; env: string; default: string; description: string }> {
  const rows: Array<{ option: string; env: string; default: string; description: string }> = [];
  const defaults = DEFAULT_CONFIG as unknown as Record<string, unknown>;
  for (const [field, spec] of Object.entries(CONFIG_FIELDS) as Array<[string, FieldSpec]>) {
    rows.push({ option: field, env: spec.env || '(code only)', default: field === 'apiKey' ? '(required)' : JSON.stringify(defaults[field]) ?? '', description: spec.describe });
  }
  for (const [group, specs] of Object.entries(NESTED_FIELDS) as Array<[string, Record<string, FieldSpec>]>) {
    for (const [sub, spec] of Object.entries(specs)) {
      rows.push({ option: `${group}.${sub}`, env: spec.env, default: JSON.stringify((defaults[group] as Record<string, unknown>)[sub]), description: spec.describe });
    }
  }
  return rows;
}
