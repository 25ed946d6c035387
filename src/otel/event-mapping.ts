/**
 * SecurityEvent <-> OTel log record, lossless both ways.
 *
 * A security event travels through the SDK as one log record: semantic
 * convention attributes where they exist (`client.address`, `url.path`, ...)
 * so any OTLP backend understands it, `guard.*` attributes for the rest.
 * `metadata` and the event's extra keys ride as nested map attributes (an
 * OTLP backend sees a kvlist; our exporter serialises them at export time,
 * off the host's request path); the way back also reads them as JSON strings,
 * which a plain app logger may emit. The way back never throws: a record from a plain logger
 * with odd attribute types gets its bad fields dropped or coerced, and each
 * problem is counted.
 */
import { isSpanContextValid, type HrTime, type SpanContext } from '@opentelemetry/api';
import { SecurityEvent } from '../models/security-event.js';
import { toAttributeMap, toAttributeValue, type CodecStats } from '../models/json-safe.js';
import { isWireTime } from '../models/wire-time.js';

/** The `eventName` (and `event.name` attribute) of every security event record. */
export const GUARD_EVENT_NAME = 'guard.security_event';

/** Numeric severities (the logs API's SeverityNumber values; not imported: api-logs is absent on the 3.x line). */
export const SEVERITY = { INFO: 9, WARN: 13, ERROR: 17 } as const;
export type GuardSeverityText = keyof typeof SEVERITY;

/** Attribute keys, one per SecurityEvent field. */
export const EVENT_ATTRIBUTES = {
  eventName: 'event.name',
  ipAddress: 'client.address',
  method: 'http.request.method',
  endpoint: 'url.path',
  userAgent: 'user_agent.original',
  statusCode: 'http.response.status_code',
  eventType: 'guard.event_type',
  actionTaken: 'guard.action_taken',
  reason: 'guard.reason',
  country: 'guard.country',
  idempotencyKey: 'guard.idempotency_key',
  responseTime: 'guard.response_time',
  decoratorType: 'guard.decorator_type',
  ruleType: 'guard.rule_type',
  patternMatched: 'guard.pattern_matched',
  handlerName: 'guard.handler_name',
  metadata: 'guard.metadata',
  extra: 'guard.extra',
} as const;

const A = EVENT_ATTRIBUTES;

/** Informational event types: state changes the guard reports, nothing was blocked or broken. */
const INFO_TYPES: ReadonlySet<string> = new Set([
  'ip_unbanned',
  'pattern_added',
  'pattern_removed',
  'dynamic_rule_applied',
  'dynamic_rule_updated',
  'security_headers_applied',
  'https_enforced',
  'path_excluded',
  'redis_connection',
  'rate_limit_script_reloaded',
]);

/** Failures of the guard itself (its dependencies or callbacks), not of the client. */
const ERROR_TYPES: ReadonlySet<string> = new Set([
  'redis_error',
  'geo_lookup_failed',
  'decoding_error',
  'detection_engine_callback_error',
  'ip_ban_failed',
]);

type Severity = Readonly<{ severityNumber: number; severityText: GuardSeverityText }>;
const INFO: Severity = Object.freeze({ severityNumber: SEVERITY.INFO, severityText: 'INFO' });
const WARN: Severity = Object.freeze({ severityNumber: SEVERITY.WARN, severityText: 'WARN' });
const ERROR: Severity = Object.freeze({ severityNumber: SEVERITY.ERROR, severityText: 'ERROR' });

/** Severity of an event type: blocks, bans, attacks and any unknown type are WARN. Shared frozen objects: no allocation per call. */
export function severityOf(eventType: string): Severity {
  if (INFO_TYPES.has(eventType)) return INFO;
  if (ERROR_TYPES.has(eventType)) return ERROR;
  return WARN;
}

/** A log attribute AnyValue as far as we emit it (a subset of both SDK lines' `AnyValue`). */
export type GuardAnyValue = string | number | boolean | null | undefined | GuardAnyValue[] | GuardAnyValueMap;
export interface GuardAnyValueMap {
  [key: string]: GuardAnyValue;
}
/** A record attribute: a primitive, or (`guard.metadata`, `guard.extra`) a map whose JSON is the codec's. */
export type GuardAttributeValue = string | number | boolean | GuardAnyValueMap;

/** What `logger.emit()` takes for one security event (fits both SDK lines' LogRecord). */
export interface GuardLogRecord {
  eventName: string;
  severityNumber: number;
  severityText: string;
  body: string;
  attributes: Record<string, GuardAttributeValue>;
  timestamp: Date;
}

/** The parts of a log record the way back reads (ReadableLogRecord of either line satisfies it). */
export interface LogRecordLike {
  readonly hrTime?: HrTime;
  readonly eventName?: string;
  readonly body?: unknown;
  readonly spanContext?: SpanContext;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** Counters of the way back; one per exporter. */
export interface EventMappingStats {
  /** Attribute values of the wrong type that were dropped or coerced. */
  malformedFields: number;
}

export function newEventMappingStats(): EventMappingStats {
  return { malformedFields: 0 };
}

function isNonEmpty(o: Record<string, unknown>): boolean {
  for (const k in o) if (o[k] !== undefined) return true;
  return false;
}

/**
 * The record to emit for one event. This runs on the host's request path for
 * every event (bench/emit-cost.ts measures it against a bare `logger.emit`),
 * so it allocates only the record and its attributes: the metadata goes in
 * as it is when it is a plain JSON tree (one allocation-free walk; the SDK
 * deep-copies it at emit, so a caller mutating it later changes nothing
 * exported), else as a plain copy whose JSON is the codec's (markers for what
 * JSON cannot carry, counted in `stats`). The attribute object is one literal with fixed keys (V8 clones a boilerplate
 * instead of defining computed keys one by one; the keys are EVENT_ATTRIBUTES'
 * values, checked by the mapping tests), and the severity is a shared object.
 */
export function securityEventToLogRecord(ev: SecurityEvent, stats?: CodecStats): GuardLogRecord {
  const attributes: Record<string, GuardAttributeValue> = {
    'event.name': GUARD_EVENT_NAME,
    'guard.event_type': ev.eventType,
    'guard.idempotency_key': ev.idempotencyKey,
    // Always present (even empty): it marks the record as ours, so the way back never reads the body as a reason.
    'guard.reason': ev.reason,
  };
  if (ev.ipAddress !== '') attributes['client.address'] = ev.ipAddress;
  if (ev.actionTaken !== '') attributes['guard.action_taken'] = ev.actionTaken;
  if (ev.country !== null) attributes['guard.country'] = ev.country;
  if (ev.userAgent !== null) attributes['user_agent.original'] = ev.userAgent;
  if (ev.endpoint !== null) attributes['url.path'] = ev.endpoint;
  if (ev.method !== null) attributes['http.request.method'] = ev.method;
  if (ev.statusCode !== null) attributes['http.response.status_code'] = ev.statusCode;
  if (ev.responseTime !== null) attributes['guard.response_time'] = ev.responseTime;
  if (ev.decoratorType !== null) attributes['guard.decorator_type'] = ev.decoratorType;
  if (ev.ruleType !== null) attributes['guard.rule_type'] = ev.ruleType;
  if (ev.patternMatched !== null) attributes['guard.pattern_matched'] = ev.patternMatched;
  if (ev.handlerName !== null) attributes['guard.handler_name'] = ev.handlerName;
  if (isNonEmpty(ev.metadata)) attributes['guard.metadata'] = toAttributeValue(ev.metadata, stats) as GuardAttributeValue;
  if (isNonEmpty(ev.extra)) attributes['guard.extra'] = toAttributeMap(ev.extra, stats) as GuardAttributeValue;
  const severity = severityOf(ev.eventType);
  return {
    eventName: GUARD_EVENT_NAME,
    severityNumber: severity.severityNumber,
    severityText: severity.severityText,
    body: ev.reason === '' ? ev.eventType : ev.eventType + ': ' + ev.reason,
    attributes,
    timestamp: ev.timestamp,
  };
}

/** True for a security event record: ours, or a plain logger's carrying the guard event name or type. */
export function isGuardRecord(rec: { readonly eventName?: string; readonly attributes?: Readonly<Record<string, unknown>> }): boolean {
  if (rec.eventName === GUARD_EVENT_NAME) return true;
  const attrs = rec.attributes;
  if (!attrs) return false;
  return attrs[A.eventName] === GUARD_EVENT_NAME || attrs[A.eventType] !== undefined;
}

/** Attribute keys the way back consumes; any other attribute is kept in metadata. */
export const CONSUMED_ATTRIBUTES: ReadonlySet<string> = new Set(Object.values(EVENT_ATTRIBUTES));
const CONSUMED = CONSUMED_ATTRIBUTES;

/** Reads attributes with type checks, counting every value it has to drop or coerce. */
class AttributeReader {
  constructor(
    private readonly attrs: Readonly<Record<string, unknown>>,
    private readonly stats: EventMappingStats,
  ) {}

  string(key: string): string | null {
    const v = this.attrs[key];
    if (v === undefined || v === null) return null;
    if (typeof v === 'string') return v;
    this.stats.malformedFields++;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return null;
  }

  integer(key: string): number | null {
    const v = this.attrs[key];
    if (v === undefined || v === null) return null;
    // Safe integers only, as SecurityEvent takes them: 1e21 would go out as `1e+21`, which the backend refuses.
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    this.stats.malformedFields++;
    const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
    return Number.isSafeInteger(n) ? n : null;
  }

  number(key: string): number | null {
    const v = this.attrs[key];
    if (v === undefined || v === null) return null;
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    this.stats.malformedFields++;
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    return Number.isFinite(n) ? n : null;
  }

  /** A map attribute (as the handler emits it) or a JSON string holding an object (a plain logger may emit either). */
  object(key: string): Record<string, unknown> | null {
    const v = this.attrs[key];
    if (v === undefined || v === null) return null;
    let parsed: unknown = v;
    if (typeof v === 'string') {
      try {
        parsed = JSON.parse(v);
      } catch {
        parsed = undefined;
      }
    }
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    this.stats.malformedFields++;
    return null;
  }
}

/**
 * A record's HrTime as a Date (millisecond precision, as the wire carries
 * it), or null when it is not a valid HrTime or lies outside years 1-9999
 * (a plain logger can emit any number; the backend's datetime cannot hold
 * it, and would refuse the whole batch).
 */
export function hrTimeToDate(hr: HrTime | undefined): Date | null {
  if (!Array.isArray(hr) || hr.length !== 2) return null;
  const ms = hr[0] * 1000 + hr[1] / 1e6;
  return Number.isFinite(ms) && isWireTime(ms) ? new Date(ms) : null;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The event a record carries. Never throws: malformed values are dropped or
 * coerced and counted in `stats.malformedFields`. The record's trace context
 * (when valid) lands in the metadata as `trace_id` / `span_id`.
 */
export function logRecordToSecurityEvent(rec: LogRecordLike, stats: EventMappingStats = newEventMappingStats()): SecurityEvent {
  const attrs = rec.attributes ?? {};
  const r = new AttributeReader(attrs, stats);
  const metadata: Record<string, unknown> = { ...(r.object(A.metadata) ?? {}) };
  // Attributes a plain logger added beyond the mapped ones are kept, not lost.
  for (const k in attrs) {
    if (!CONSUMED.has(k) && attrs[k] !== undefined && !(k in metadata)) metadata[k] = attrs[k];
  }
  const span = rec.spanContext;
  if (span && isSpanContextValid(span)) {
    if (!('trace_id' in metadata)) metadata.trace_id = span.traceId;
    if (!('span_id' in metadata)) metadata.span_id = span.spanId;
  }

  let eventType = r.string(A.eventType);
  if (eventType === null || eventType === '') {
    stats.malformedFields++;
    eventType = 'unknown';
  }
  let reason = r.string(A.reason);
  if (reason === null) reason = typeof rec.body === 'string' ? rec.body : '';
  let idempotencyKey = r.string(A.idempotencyKey);
  if (idempotencyKey !== null && !UUID_RE.test(idempotencyKey)) {
    stats.malformedFields++;
    idempotencyKey = null;
  }
  // Missing, malformed or out of the backend's range: counted, and the event is stamped now (it is being exported now).
  const timestamp = hrTimeToDate(rec.hrTime);
  if (timestamp === null) stats.malformedFields++;

  const input: Record<string, unknown> = {
    ...(r.object(A.extra) ?? {}),
    idempotencyKey,
    timestamp,
    eventType,
    ipAddress: r.string(A.ipAddress) ?? '',
    country: r.string(A.country),
    userAgent: r.string(A.userAgent),
    actionTaken: r.string(A.actionTaken) ?? '',
    reason,
    endpoint: r.string(A.endpoint),
    method: r.string(A.method),
    statusCode: r.integer(A.statusCode),
    responseTime: r.number(A.responseTime),
    decoratorType: r.string(A.decoratorType),
    ruleType: r.string(A.ruleType),
    patternMatched: r.string(A.patternMatched),
    handlerName: r.string(A.handlerName),
    metadata,
  };
  try {
    return new SecurityEvent(input);
  } catch {
    // Unreachable with the typed reads above; kept so a future field can never make the exporter throw.
    stats.malformedFields++;
    return new SecurityEvent({ eventType, timestamp, metadata: { ...metadata, malformed_record: true } });
  }
}
