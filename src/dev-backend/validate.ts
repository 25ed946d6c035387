/**
 * Request body validation shaped like the backend's pydantic v2 models
 * (reference 2.2-2.6): lax where pydantic is lax (numbers from numeric
 * strings, many datetime forms), strict where it is strict (a `str` field
 * refuses a number, `metric_type` is a Literal, `tags` values are strings).
 * Errors come out as FastAPI's 422 `detail` list. One bad item rejects the
 * whole request, as a pydantic request model does.
 */
import { isAcceptedTimestamp } from './timestamp.js';
import type { WireObject } from './types.js';
import { METRIC_TYPES } from '../models/event-types.js';

export type Loc = (string | number)[];

export interface ValidationIssue {
  type: string;
  loc: Loc;
  msg: string;
  input?: unknown;
}

// The backend's metric_type Literal is the same list the agent validates against.
export { METRIC_TYPES };

const AGENT_STATUSES = ['healthy', 'degraded', 'failed'] as const;

/** Pydantic stops nobody from sending 10,000 bad items; we stop listing after this many. */
const MAX_ISSUES = 100;

type Check = (value: unknown, loc: Loc, issues: ValidationIssue[]) => void;

interface Field {
  check: Check;
  required?: boolean;
}

/** The forms pydantic's UUID takes: hyphenated (bare, braced or urn:uuid:) or 32 hex digits; no partial hyphenation. */
const HYPHENATED = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const UUID_RE = new RegExp(`^(?:${HYPHENATED}|\\{${HYPHENATED}\\}|urn:uuid:${HYPHENATED}|[0-9a-fA-F]{32})$`);
const NUMERIC_RE = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function issue(issues: ValidationIssue[], type: string, loc: Loc, msg: string, input: unknown): void {
  if (issues.length < MAX_ISSUES) issues.push({ type, loc, msg, input });
}

const str: Check = (v, loc, issues) => {
  if (typeof v !== 'string') issue(issues, 'string_type', loc, 'Input should be a valid string', v);
};

const float: Check = (v, loc, issues) => {
  if (typeof v === 'number' && Number.isFinite(v)) return;
  if (typeof v === 'string') {
    if (!NUMERIC_RE.test(v)) issue(issues, 'float_parsing', loc, 'Input should be a valid number, unable to parse string as a number', v);
    return;
  }
  issue(issues, 'float_type', loc, 'Input should be a valid number', v);
};

/**
 * pydantic reads a JSON number written as a float (`1e+21`, what JS writes
 * from 1e21 on) into an int only within 64 bits. JSON.parse has lost how the
 * number was written, so every number from 2^63 on is refused: an integer
 * literal that large (which pydantic would take) is imprecise in JS anyway.
 */
const INT_FROM_FLOAT_LIMIT = 2 ** 63;

const int: Check = (v, loc, issues) => {
  if (typeof v === 'number' && Number.isFinite(v)) {
    if (!Number.isInteger(v)) issue(issues, 'int_from_float', loc, 'Input should be a valid integer, got a number with a fractional part', v);
    else if (Math.abs(v) >= INT_FROM_FLOAT_LIMIT) issue(issues, 'int_parsing_size', loc, 'Unable to parse input string as an integer, exceeded maximum size', v);
    return;
  }
  if (typeof v === 'string') {
    if (!/^\s*[+-]?\d+\s*$/.test(v)) issue(issues, 'int_parsing', loc, 'Input should be a valid integer, unable to parse string as an integer', v);
    return;
  }
  issue(issues, 'int_type', loc, 'Input should be a valid integer', v);
};

const bool: Check = (v, loc, issues) => {
  if (typeof v !== 'boolean') issue(issues, 'bool_type', loc, 'Input should be a valid boolean', v);
};

const datetime: Check = (v, loc, issues) => {
  if (!isAcceptedTimestamp(v)) {
    issue(issues, typeof v === 'string' ? 'datetime_from_date_parsing' : 'datetime_type', loc, 'Input should be a valid datetime', v);
  }
};

const uuid: Check = (v, loc, issues) => {
  if (typeof v !== 'string') issue(issues, 'uuid_type', loc, 'UUID input should be a string, bytes or UUID object', v);
  else if (!UUID_RE.test(v)) issue(issues, 'uuid_parsing', loc, 'Input should be a valid UUID', v);
};

const dict: Check = (v, loc, issues) => {
  if (!isPlainObject(v)) issue(issues, 'dict_type', loc, 'Input should be a valid dictionary', v);
};

const dictOfStr: Check = (v, loc, issues) => {
  if (!isPlainObject(v)) return issue(issues, 'dict_type', loc, 'Input should be a valid dictionary', v);
  for (const [k, item] of Object.entries(v)) str(item, [...loc, k], issues);
};

const listOf =
  (inner: Check): Check =>
  (v, loc, issues) => {
    if (!Array.isArray(v)) return issue(issues, 'list_type', loc, 'Input should be a valid list', v);
    v.forEach((item, i) => inner(item, [...loc, i], issues));
  };

const literal =
  (values: readonly string[]): Check =>
  (v, loc, issues) => {
    if (typeof v !== 'string' || !values.includes(v)) {
      const expected = values.map((x) => `'${x}'`);
      const list = `${expected.slice(0, -1).join(', ')} or ${expected[expected.length - 1]}`;
      issue(issues, 'literal_error', loc, `Input should be ${list}`, v);
    }
  };

const nullable =
  (inner: Check): Check =>
  (v, loc, issues) => {
    if (v !== null) inner(v, loc, issues);
  };

const model =
  (fields: Record<string, Field>): Check =>
  (v, loc, issues) => {
    if (!isPlainObject(v)) {
      return issue(issues, 'model_attributes_type', loc, 'Input should be a valid dictionary or object to extract fields from', v);
    }
    for (const [name, field] of Object.entries(fields)) {
      if (!(name in v)) {
        if (field.required) issue(issues, 'missing', [...loc, name], 'Field required', v);
        continue;
      }
      field.check(v[name], [...loc, name], issues);
    }
  };

const optStr = nullable(str);

/** `SecurityEvent` (extra keys allowed and kept). */
const EVENT = model({
  idempotency_key: { check: uuid },
  timestamp: { check: datetime, required: true },
  event_type: { check: str, required: true },
  ip_address: { check: str },
  country: { check: optStr },
  user_agent: { check: optStr },
  action_taken: { check: str },
  reason: { check: str },
  endpoint: { check: optStr },
  method: { check: optStr },
  status_code: { check: nullable(int) },
  response_time: { check: nullable(float) },
  decorator_type: { check: optStr },
  rule_type: { check: optStr },
  pattern_matched: { check: optStr },
  handler_name: { check: optStr },
  metadata: { check: dict },
});

/** `SecurityMetric`. */
const METRIC = model({
  timestamp: { check: datetime, required: true },
  metric_type: { check: literal(METRIC_TYPES), required: true },
  value: { check: float, required: true },
  endpoint: { check: optStr },
  tags: { check: dictOfStr },
});

/**
 * The ingest request: `EventBatch` as guard_agent.models defines it,
 * `events`/`metrics` defaulting to empty and `project_id`, `batch_id`,
 * `created_at` required. Optional, they let an encrypted envelope (or `{}`)
 * on the plain route pass as an empty batch with 200 where the backend says 422.
 */
const BATCH = model({
  project_id: { check: str, required: true },
  events: { check: listOf(EVENT) },
  metrics: { check: listOf(METRIC) },
  batch_id: { check: str, required: true },
  created_at: { check: datetime, required: true },
  compressed: { check: bool },
  agent_version: { check: optStr },
  guard_version: { check: optStr },
  guard_core_version: { check: optStr },
});

/** The decrypted plaintext of the encrypted route. */
const PLAINTEXT = model({
  events: { check: listOf(EVENT) },
  metrics: { check: listOf(METRIC) },
});

const ENVELOPE = model({
  encrypted_payload: { check: str, required: true },
  batch_id: { check: optStr },
  agent_version: { check: optStr },
  guard_version: { check: optStr },
  guard_core_version: { check: optStr },
});

/** `AgentStatus`. */
const STATUS = model({
  timestamp: { check: datetime, required: true },
  status: { check: literal(AGENT_STATUSES), required: true },
  uptime: { check: float, required: true },
  events_sent: { check: int, required: true },
  events_failed: { check: int, required: true },
  buffer_size: { check: int, required: true },
  last_flush: { check: nullable(datetime) },
  errors: { check: listOf(str) },
});

function run(check: Check, value: unknown, loc: Loc): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  check(value, loc, issues);
  return issues;
}

export interface Items {
  events: WireObject[];
  metrics: WireObject[];
}

export type Validated<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

function items(body: Record<string, unknown>): Items {
  return {
    events: (body.events as WireObject[] | undefined) ?? [],
    metrics: (body.metrics as WireObject[] | undefined) ?? [],
  };
}

export function validateBatch(body: unknown): Validated<Items & { batchId: string | null }> {
  const issues = run(BATCH, body, ['body']);
  if (issues.length > 0) return { ok: false, issues };
  const b = body as Record<string, unknown>;
  return { ok: true, value: { ...items(b), batchId: typeof b.batch_id === 'string' ? b.batch_id : null } };
}

export function validatePlaintext(body: unknown): Validated<Items> {
  const issues = run(PLAINTEXT, body, ['body', 'encrypted_payload']);
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: items(body as Record<string, unknown>) };
}

export function validateEnvelope(body: unknown): Validated<{ payload: string; batchId: string | null }> {
  const issues = run(ENVELOPE, body, ['body']);
  if (issues.length > 0) return { ok: false, issues };
  const b = body as Record<string, unknown>;
  return { ok: true, value: { payload: b.encrypted_payload as string, batchId: typeof b.batch_id === 'string' ? b.batch_id : null } };
}

export function validateStatus(body: unknown): Validated<WireObject> {
  const issues = run(STATUS, body, ['body']);
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: body as WireObject };
}

/** The `batch_id` of a body that may not have validated, for the request record. */
export function peekBatchId(body: unknown): string | null {
  return isPlainObject(body) && typeof body.batch_id === 'string' ? body.batch_id : null;
}

/** events + metrics of a body that may not have validated. */
export function peekItemCount(body: unknown): number {
  if (!isPlainObject(body)) return 0;
  const n = (v: unknown): number => (Array.isArray(v) ? v.length : 0);
  return n(body.events) + n(body.metrics);
}
