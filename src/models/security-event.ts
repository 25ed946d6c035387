/**
 * SecurityEvent (reference 2.2): one security decision of the guard
 * middleware or the app. Accepts input in camelCase (as `@guardcore/core`
 * sends it: `eventType`, `ipAddress`, `timestamp: Date` or none at all), in
 * the wire's snake_case, and in the seed's spellings (`source_ip` /
 * `sourceIp` for the IP, `description` for the reason). Unknown keys are kept
 * in `extra` and go on the wire at the top level, as the backend's
 * `extra="allow"` model expects.
 */
import { randomUUID } from 'node:crypto';
import { GuardAgentValidationError } from '../errors.js';
import {
  type Problems,
  kindOf,
  optionalFiniteNumber,
  optionalInteger,
  optionalString,
  plainObject,
  readAny,
  stringOrEmpty,
  timestamp,
} from './field-readers.js';

/** The accepted input: any spelling of the fields below, plus extra keys. */
export type SecurityEventInput = Record<string, unknown>;

/** Every spelling accepted for each field; the first is the camelCase name. */
export const EVENT_FIELD_SPELLINGS = {
  idempotencyKey: ['idempotencyKey', 'idempotency_key'],
  timestamp: ['timestamp'],
  eventType: ['eventType', 'event_type'],
  ipAddress: ['ipAddress', 'ip_address', 'sourceIp', 'source_ip'],
  country: ['country'],
  userAgent: ['userAgent', 'user_agent'],
  actionTaken: ['actionTaken', 'action_taken'],
  reason: ['reason', 'description'],
  endpoint: ['endpoint'],
  method: ['method'],
  statusCode: ['statusCode', 'status_code'],
  responseTime: ['responseTime', 'response_time'],
  decoratorType: ['decoratorType', 'decorator_type'],
  ruleType: ['ruleType', 'rule_type'],
  patternMatched: ['patternMatched', 'pattern_matched'],
  handlerName: ['handlerName', 'handler_name'],
  metadata: ['metadata'],
} as const;

export type SecurityEventField = keyof typeof EVENT_FIELD_SPELLINGS;

const KNOWN_KEYS: ReadonlySet<string> = new Set(Object.values(EVENT_FIELD_SPELLINGS).flat());
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class SecurityEvent {
  idempotencyKey: string;
  timestamp: Date;
  eventType: string;
  ipAddress: string;
  country: string | null;
  userAgent: string | null;
  actionTaken: string;
  reason: string;
  endpoint: string | null;
  method: string | null;
  statusCode: number | null;
  responseTime: number | null;
  decoratorType: string | null;
  ruleType: string | null;
  patternMatched: string | null;
  handlerName: string | null;
  metadata: Record<string, unknown>;
  /** Keys the model does not know; sent at the top level of the wire object. */
  extra: Record<string, unknown>;

  /** @throws GuardAgentValidationError naming every invalid field. */
  constructor(input: SecurityEventInput) {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      throw new GuardAgentValidationError({ field: 'event', message: `expected an object, got ${kindOf(input)}` }, 'security event');
    }
    const p: Problems = [];
    const S = EVENT_FIELD_SPELLINGS;
    const key = readAny(input, S.idempotencyKey);
    if (key === undefined || key === null) this.idempotencyKey = randomUUID();
    else if (typeof key === 'string' && UUID_RE.test(key)) this.idempotencyKey = key.toLowerCase();
    else {
      p.push({ field: 'idempotencyKey', message: 'expected a UUID string' });
      this.idempotencyKey = randomUUID();
    }
    this.timestamp = timestamp(input.timestamp, 'timestamp', p);
    const type = readAny(input, S.eventType);
    if (typeof type === 'string' && type.length > 0) this.eventType = type;
    else {
      p.push({ field: 'eventType', message: type === undefined ? 'is required' : `expected a non-empty string, got ${kindOf(type)}` });
      this.eventType = '';
    }
    this.ipAddress = stringOrEmpty(readAny(input, S.ipAddress), 'ipAddress', p);
    this.country = optionalString(input.country, 'country', p);
    this.userAgent = optionalString(readAny(input, S.userAgent), 'userAgent', p);
    this.actionTaken = stringOrEmpty(readAny(input, S.actionTaken), 'actionTaken', p);
    this.reason = stringOrEmpty(readAny(input, S.reason), 'reason', p);
    this.endpoint = optionalString(input.endpoint, 'endpoint', p);
    this.method = optionalString(input.method, 'method', p);
    this.statusCode = optionalInteger(readAny(input, S.statusCode), 'statusCode', p);
    this.responseTime = optionalFiniteNumber(readAny(input, S.responseTime), 'responseTime', p);
    this.decoratorType = optionalString(readAny(input, S.decoratorType), 'decoratorType', p);
    this.ruleType = optionalString(readAny(input, S.ruleType), 'ruleType', p);
    this.patternMatched = optionalString(readAny(input, S.patternMatched), 'patternMatched', p);
    this.handlerName = optionalString(readAny(input, S.handlerName), 'handlerName', p);
    this.metadata = plainObject(input.metadata, 'metadata', p);
    let extra: Record<string, unknown> | null = null;
    for (const k in input) {
      if (KNOWN_KEYS.has(k) || input[k] === undefined) continue;
      (extra ??= {})[k] = input[k];
    }
    this.extra = extra ?? {};
    if (p.length) throw new GuardAgentValidationError(p, 'security event');
  }

  /** Returns `input` itself when it already is a SecurityEvent, else validates and builds one. */
  static from(input: SecurityEvent | SecurityEventInput): SecurityEvent {
    return input instanceof SecurityEvent ? input : new SecurityEvent(input);
  }
}

/** Returns the problems of an input without throwing (empty when valid). */
export function validateSecurityEvent(input: unknown): GuardAgentValidationError | null {
  try {
    new SecurityEvent(input as SecurityEventInput);
    return null;
  } catch (err) {
    if (err instanceof GuardAgentValidationError) return err;
    throw err;
  }
}
