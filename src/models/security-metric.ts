/**
 * SecurityMetric (reference 2.3). `metricType` is validated against the
 * seven types the backend accepts; tags are string to string on the wire, so
 * other scalar tag values are stringified here, once.
 */
import { GuardAgentValidationError } from '../errors.js';
import { isMetricType, METRIC_TYPES, type MetricType } from './event-types.js';
import { type Problems, kindOf, optionalFiniteNumber, optionalString, readAny, timestamp } from './field-readers.js';

export type SecurityMetricInput = Record<string, unknown>;

export class SecurityMetric {
  timestamp: Date;
  metricType: MetricType;
  value: number;
  endpoint: string | null;
  tags: Record<string, string>;

  /** @throws GuardAgentValidationError naming every invalid field. */
  constructor(input: SecurityMetricInput) {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      throw new GuardAgentValidationError({ field: 'metric', message: `expected an object, got ${kindOf(input)}` }, 'security metric');
    }
    const p: Problems = [];
    this.timestamp = timestamp(input.timestamp, 'timestamp', p);
    const type = readAny(input, ['metricType', 'metric_type']);
    if (isMetricType(type)) this.metricType = type;
    else {
      p.push({
        field: 'metricType',
        message: type === undefined ? 'is required' : `must be one of ${METRIC_TYPES.join(', ')}; got ${typeof type === 'string' ? JSON.stringify(type) : kindOf(type)}`,
      });
      this.metricType = 'request_count';
    }
    const value = optionalFiniteNumber(input.value, 'value', p);
    if (value === null && (input.value === undefined || input.value === null)) p.push({ field: 'value', message: 'is required' });
    this.value = value ?? 0;
    this.endpoint = optionalString(input.endpoint, 'endpoint', p);
    this.tags = readTags(input.tags, p);
    if (p.length) throw new GuardAgentValidationError(p, 'security metric');
  }

  static from(input: SecurityMetric | SecurityMetricInput): SecurityMetric {
    return input instanceof SecurityMetric ? input : new SecurityMetric(input);
  }
}

/**
 * Tags a metric may carry. Each distinct tag set is a series of the OTel
 * instrument and a map on the wire; an app passing a whole object by mistake
 * (100,000 keys held sendMetric ~380 ms, to be dropped as too large later)
 * gets a clear error instead.
 */
export const MAX_METRIC_TAGS = 64;

function readTags(v: unknown, p: Problems): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) {
    p.push({ field: 'tags', message: `expected an object of strings, got ${kindOf(v)}` });
    return {};
  }
  let count = 0;
  for (const k in v) {
    if (Object.prototype.hasOwnProperty.call(v, k) && ++count > MAX_METRIC_TAGS) {
      p.push({ field: 'tags', message: `at most ${MAX_METRIC_TAGS} tags, got more` });
      return {};
    }
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (typeof val === 'string') out[k] = val;
    else if (typeof val === 'number' || typeof val === 'boolean' || typeof val === 'bigint') out[k] = String(val);
    else if (val !== undefined && val !== null) p.push({ field: `tags.${k}`, message: `expected a string, got ${kindOf(val)}` });
  }
  return out;
}
