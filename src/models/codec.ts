/**
 * The wire codec: the one place where camelCase models become the backend's
 * snake_case JSON (reference 3.3 and 3.8), compact, in the reference's field
 * order, with RFC 3339 UTC timestamps everywhere (fixing reference 11.13).
 *
 * Fast path: string concatenation of fields the constructors already
 * validated, plus one JSON.stringify of the metadata. It never throws: app
 * data JSON cannot carry is replaced by a marker and counted, and an event
 * over `maxEventBytes` is truncated to fit (metadata replaced by a marker,
 * then long strings cut by bytes), so it is still delivered.
 */
import type { AgentStatus } from './agent-status.js';
import type { BatchEnvelope } from './event-batch.js';
import type { SecurityEvent } from './security-event.js';
import type { SecurityMetric } from './security-metric.js';
import { cutToJsonBytes, fitStrings, jsonStringBytes } from './json-bytes.js';
import { type CodecStats, toJsonText } from './json-safe.js';

export const DEFAULT_MAX_EVENT_BYTES = 64 * 1024;
/** What replaces metadata that did not fit: `{"_guard_truncated":true,"original_bytes":N,"keys":[...]}`. */
export const TRUNCATION_MARKER_KEY = '_guard_truncated';
/** The top-level key that lists the names of extra keys that did not fit. */
export const EXTRA_TRUNCATION_MARKER_KEY = TRUNCATION_MARKER_KEY + '_extra';

const str = JSON.stringify;
const strOrNull = (v: string | null): string => (v === null ? 'null' : str(v));

/** RFC 3339 UTC with milliseconds, e.g. `2026-09-02T14:03:11.482Z`. */
export function formatTimestamp(d: Date): string {
  return d.toISOString();
}

export interface EncodeOptions {
  maxEventBytes?: number;
  stats?: CodecStats;
}

/**
 * The event's fields up to `"metadata":` (its value and the extra keys
 * follow). One JSON.stringify of an object literal in the wire's field order
 * costs about a quarter less than sixteen per-field calls and their
 * concatenation (bench/export-path.ts), and gives the same bytes: every value
 * is a string, a finite number or null (the constructor validated them), and
 * none is undefined, so no key is skipped.
 */
function eventHead(e: SecurityEvent): string {
  const head = str({
    idempotency_key: e.idempotencyKey,
    timestamp: formatTimestamp(e.timestamp),
    event_type: e.eventType,
    ip_address: e.ipAddress,
    country: e.country,
    user_agent: e.userAgent,
    action_taken: e.actionTaken,
    reason: e.reason,
    endpoint: e.endpoint,
    method: e.method,
    status_code: e.statusCode,
    response_time: e.responseTime,
    decorator_type: e.decoratorType,
    rule_type: e.ruleType,
    pattern_matched: e.patternMatched,
    handler_name: e.handlerName,
  });
  return head.slice(0, -1) + ',"metadata":';
}

function encodeExtra(extra: Record<string, unknown>, stats?: CodecStats): string {
  let out = '';
  for (const k in extra) {
    const v = extra[k];
    if (v === undefined) continue;
    out += ',' + str(k) + ':' + toJsonText(v, stats);
  }
  return out;
}

/** One event as its wire JSON object. */
export function encodeEvent(e: SecurityEvent, opts: EncodeOptions = {}): string {
  const max = opts.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  const head = eventHead(e);
  const meta = toJsonText(e.metadata, opts.stats);
  const extra = encodeExtra(e.extra, opts.stats);
  const json = head + meta + extra + '}';
  // String length is a lower bound of the UTF-8 size: only measure bytes when it could matter.
  if (json.length * 3 <= max || Buffer.byteLength(json) <= max) return json;
  return truncateEvent(e, head, meta, extra, max, opts.stats);
}

/** The head's free-text strings, which a truncation may cut (the key and the timestamp have fixed sizes). */
const CUTTABLE_FIELDS = [
  'eventType', 'ipAddress', 'country', 'userAgent', 'actionTaken', 'reason',
  'endpoint', 'method', 'decoratorType', 'ruleType', 'patternMatched', 'handlerName',
] as const;
const MAX_LISTED_KEYS = 20;
const MAX_LISTED_KEY_BYTES = 64;

/** Up to 20 of the keys, each cut to 64 bytes, as many as fit `budget` bytes of JSON: what a marker lists. */
export function listedKeys(keys: string[], budget: number): string[] {
  const out: string[] = [];
  let used = 2;
  for (const k of keys) {
    if (out.length === MAX_LISTED_KEYS) break;
    const name = cutToJsonBytes(k, MAX_LISTED_KEY_BYTES);
    used += jsonStringBytes(name) + 3;
    if (used > budget) break;
    out.push(name);
  }
  return out;
}

/** What replaces metadata that did not fit; `originalBytes` is null when it was too large to measure. */
export function truncationMarker(metadataKeys: string[], originalBytes: number | null, listBudget: number): Record<string, unknown> {
  return { [TRUNCATION_MARKER_KEY]: true, original_bytes: originalBytes, keys: listedKeys(metadataKeys, listBudget) };
}

/** The event with its cuttable strings replaced (a copy; the event is not changed). */
function withStrings(e: SecurityEvent, values: readonly (string | null)[]): SecurityEvent {
  const copy = Object.assign(Object.create(Object.getPrototypeOf(e)), e) as Record<string, unknown>;
  CUTTABLE_FIELDS.forEach((f, i) => (copy[f] = values[i]));
  return copy as unknown as SecurityEvent;
}

/**
 * Replaces the metadata with a marker. If the event is still too large, its
 * extra keys are replaced by their names and the head's free-text strings
 * share what is left of the cap, measured in UTF-8 bytes of their JSON form:
 * the short ones stay whole, the long ones are cut with `...[TRUNCATED]`.
 * The result fits `max` for any cap of at least 1024 bytes (the config's
 * minimum).
 */
function truncateEvent(e: SecurityEvent, head: string, meta: string, extra: string, max: number, stats?: CodecStats): string {
  if (stats) stats.truncated++;
  const listBudget = Math.floor(max / 8);
  const metaKeys = Object.keys(e.metadata);
  const marker = (budget: number) => str(truncationMarker(metaKeys, Buffer.byteLength(meta), budget));
  const json = head + marker(listBudget) + extra + '}';
  if (Buffer.byteLength(json) <= max) return json;
  const extraKeys = Object.keys(e.extra);
  const extraMarker = (budget: number) =>
    extraKeys.length ? ',' + str(EXTRA_TRUNCATION_MARKER_KEY) + ':' + str(listedKeys(extraKeys, budget)) : '';
  const current = CUTTABLE_FIELDS.map((f) => e[f]);
  const emptyHead = Buffer.byteLength(eventHead(withStrings(e, current.map((v) => (v === null ? null : '')))));
  let tail = marker(listBudget) + extraMarker(listBudget) + '}';
  // Only a cap far below the config's minimum gets here: the markers then list no keys.
  if (emptyHead + Buffer.byteLength(tail) > max) tail = marker(0) + extraMarker(0) + '}';
  const fitted = fitStrings(current, max - emptyHead - Buffer.byteLength(tail));
  return eventHead(withStrings(e, fitted)) + tail;
}

/** One metric as its wire JSON object. */
export function encodeMetric(m: SecurityMetric): string {
  let tags = '{';
  let first = true;
  for (const k in m.tags) {
    tags += (first ? '' : ',') + str(k) + ':' + str(m.tags[k]);
    first = false;
  }
  return (
    '{"timestamp":"' + formatTimestamp(m.timestamp) + '"' +
    ',"metric_type":' + str(m.metricType) +
    ',"value":' + String(m.value) +
    ',"endpoint":' + strOrNull(m.endpoint) +
    ',"tags":' + tags + '}}'
  );
}

/**
 * The envelope of an `EventBatch` body (reference 2.6 order) split around its
 * item list: `head + items.join(',') + tail` is the body. One definition for
 * the string and the byte form below.
 */
function envelopeParts(b: Omit<BatchEnvelope, 'items'>): { head: string; tail: string } {
  const events = b.kind === 'events';
  return {
    head: '{"project_id":' + str(b.projectId || 'default') + (events ? ',"events":[' : ',"events":[],"metrics":['),
    tail:
      (events ? '],"metrics":[]' : ']') +
      ',"batch_id":' + str(b.batchId) +
      ',"created_at":"' + formatTimestamp(new Date(b.createdAt)) + '"' +
      ',"compressed":false' +
      ',"agent_version":' + str(b.agentVersion) +
      ',"guard_version":' + strOrNull(b.guardVersion) +
      ',"guard_core_version":' + strOrNull(b.guardCoreVersion) +
      '}',
  };
}

/** The `EventBatch` body (reference 2.6 order) around already-encoded items. */
export function encodeBatchBody(b: BatchEnvelope): string {
  const { head, tail } = envelopeParts(b);
  return head + b.items.join(',') + tail;
}

const COMMA = 0x2c;

/**
 * `Buffer.from(encodeBatchBody(b), 'utf8')`, byte for byte, written straight
 * into one buffer. Joining a few hundred items into one string and then
 * encoding it measured about 4x slower than writing each item in place
 * (bench/export-path.ts prints both: 1.62 against 0.43 µs per 580-byte event
 * in one run, Node 20): the joined string is built, flattened and copied
 * again, where this copies each item once.
 */
export function encodeBatchBodyBytes(b: BatchEnvelope): Buffer {
  const { head, tail } = envelopeParts(b);
  const items = b.items;
  let size = Buffer.byteLength(head, 'utf8') + Buffer.byteLength(tail, 'utf8') + Math.max(0, items.length - 1);
  for (let i = 0; i < items.length; i++) size += Buffer.byteLength(items[i], 'utf8');
  const out = Buffer.allocUnsafe(size);
  let at = out.write(head, 0, 'utf8');
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out[at++] = COMMA;
    at += out.write(items[i], at, 'utf8');
  }
  at += out.write(tail, at, 'utf8');
  // A lone surrogate in an item writes as 3 bytes (U+FFFD) in both forms, so the sizes always agree; checked anyway.
  return at === size ? out : Buffer.from(encodeBatchBody(b), 'utf8');
}

/** Bytes the envelope adds around the items of a batch (for splitting by bytes). */
export function batchOverheadBytes(b: Omit<BatchEnvelope, 'items'>): number {
  return Buffer.byteLength(encodeBatchBody({ ...b, items: [] }));
}

/** The plaintext that gets encrypted for `/api/v1/events/encrypted` (reference 3.6). */
export function encodeEncryptedPlaintext(kind: 'events' | 'metrics', items: string[]): string {
  const joined = items.join(',');
  return kind === 'events' ? '{"events":[' + joined + '],"metrics":[]}' : '{"events":[],"metrics":[' + joined + ']}';
}

/** The heartbeat body (reference 2.5), with this agent's additions after the reference fields. */
export function encodeStatus(s: AgentStatus, stats?: CodecStats): string {
  return (
    '{"timestamp":"' + formatTimestamp(s.timestamp) + '"' +
    ',"status":' + str(s.status) +
    ',"uptime":' + String(Math.round(s.uptime * 1000) / 1000) +
    ',"events_sent":' + String(s.eventsSent) +
    ',"events_failed":' + String(s.eventsFailed) +
    ',"buffer_size":' + String(s.bufferSize) +
    ',"last_flush":' + (s.lastFlush ? '"' + formatTimestamp(s.lastFlush) + '"' : 'null') +
    ',"errors":' + str(s.errors) +
    (s.extra ? encodeExtra(s.extra, stats) : '') +
    '}'
  );
}
