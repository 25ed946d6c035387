/**
 * The OTel instruments behind the seven guard metric types, and a recorder
 * that turns a seed-style `SecurityMetric` sample (one per request, as the
 * adapters send them) into one measurement. The SDK aggregates the samples;
 * the GuardMetricExporter sends one record per series per interval
 * (reference 11.20) instead of one per request.
 */
import type { Attributes, Counter, Gauge, Histogram, Meter, ObservableGauge } from '@opentelemetry/api';
import type { MetricType } from '../models/event-types.js';
import { SecurityMetric, type SecurityMetricInput } from '../models/security-metric.js';

/** Instrument name of each metric type (documented in the README). */
export const GUARD_METRIC_NAMES: Readonly<Record<MetricType, string>> = {
  request_count: 'guard.request.count',
  error_rate: 'guard.request.errors',
  response_time: 'guard.response.time',
  bandwidth_usage: 'guard.bandwidth',
  threat_level: 'guard.threat.level',
  block_rate: 'guard.block.rate',
  cache_hit_rate: 'guard.cache.hit.rate',
};

/** Seconds buckets (the semantic conventions' http.server.request.duration advice) for OTLP fan-out. */
export const RESPONSE_TIME_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
export const RESPONSE_TIME_DESCRIPTION = 'Response time of requests seen by the guard';

export class GuardInstruments {
  readonly requestCount: Counter;
  readonly requestErrors: Counter;
  readonly responseTime: Histogram;
  readonly bandwidth: Counter;
  readonly threatLevel: Gauge;
  readonly blockRate: Gauge;
  readonly cacheHitRate: Gauge;

  constructor(meter: Meter) {
    const N = GUARD_METRIC_NAMES;
    this.requestCount = meter.createCounter(N.request_count, { description: 'Requests seen by the guard', unit: '{request}' });
    this.requestErrors = meter.createCounter(N.error_rate, { description: 'Requests answered with status >= 400', unit: '{request}' });
    this.responseTime = meter.createHistogram(N.response_time, {
      description: RESPONSE_TIME_DESCRIPTION,
      unit: 's',
      advice: { explicitBucketBoundaries: RESPONSE_TIME_BUCKETS_S },
    });
    this.bandwidth = meter.createCounter(N.bandwidth_usage, { description: 'Bytes transferred', unit: 'By' });
    this.threatLevel = meter.createGauge(N.threat_level, { description: 'Current threat level' });
    this.blockRate = meter.createGauge(N.block_rate, { description: 'Share of requests blocked' });
    this.cacheHitRate = meter.createGauge(N.cache_hit_rate, { description: 'Cache hit ratio' });
  }

  /**
   * Records one sample. Tags become attributes; the metric's own `endpoint`
   * becomes an `endpoint` attribute unless a tag already carries one.
   * Counters cannot go down: a negative count sample is ignored (returns false).
   */
  record(input: SecurityMetric | SecurityMetricInput): boolean {
    const m = SecurityMetric.from(input);
    const attrs: Attributes = sampleAttributes(m);
    switch (m.metricType) {
      case 'request_count':
        return addCount(this.requestCount, m.value, attrs);
      case 'error_rate':
        return addCount(this.requestErrors, m.value, attrs);
      case 'bandwidth_usage':
        return addCount(this.bandwidth, m.value, attrs);
      case 'response_time':
        this.responseTime.record(m.value, attrs);
        return true;
      case 'threat_level':
        this.threatLevel.record(m.value, attrs);
        return true;
      case 'block_rate':
        this.blockRate.record(m.value, attrs);
        return true;
      case 'cache_hit_rate':
        this.cacheHitRate.record(m.value, attrs);
        return true;
    }
  }
}

/** The attributes a sample is recorded with: its tags, and its `endpoint` unless a tag already carries one. */
function sampleAttributes(m: SecurityMetric): Record<string, string> {
  const attrs: Record<string, string> = { ...m.tags };
  if (m.endpoint !== null && attrs.endpoint === undefined) attrs.endpoint = m.endpoint;
  return attrs;
}

/**
 * Types whose samples the SDK sums over the interval (counters, and the
 * histogram's sum behind the mean). Their instruments drop a negative value
 * with no count (only a diag warning): OTel counters only go up, and the
 * histogram takes no negative value either.
 */
const SUMMED: ReadonlySet<string> = new Set(['request_count', 'error_rate', 'bandwidth_usage', 'response_time']);

/**
 * Largest sample a summed type takes. A larger one is no count, byte count or
 * duration, and in the interval's sum it hides the others: from 2^53 on, one
 * added to it is lost to rounding, and two samples of 1e308 make the sum
 * Infinity, which the exporter cannot send, so the whole series of that
 * interval (its valid samples too) was skipped.
 */
export const MAX_SUMMED_SAMPLE = Number.MAX_SAFE_INTEGER;

/**
 * Tags the exporter writes on a response_time record: the interval's count,
 * min and max (metric-mapping). A sample's own tag of that name would be
 * overwritten on the wire, so such a sample is refused instead.
 */
export const RESPONSE_TIME_TAGS: readonly string[] = ['count', 'min', 'max'];

/**
 * Why the instruments cannot take this sample as sent, as "field: reason"
 * (the warning's words), or null when they can.
 */
export function sampleProblem(m: SecurityMetric): string | null {
  const type = m.metricType;
  if (type === 'response_time') {
    const tags = m.tags;
    for (let i = 0; i < RESPONSE_TIME_TAGS.length; i++) {
      const name = RESPONSE_TIME_TAGS[i];
      if (tags[name] !== undefined) return `tags.${name}: a response_time record carries the interval's ${name} in this tag; give yours another name`;
    }
  }
  const v = m.value;
  if ((v >= 0 && v <= MAX_SUMMED_SAMPLE) || !SUMMED.has(type)) return null;
  if (v > 0) return `value: a ${type} sample is summed over the interval and must be at most ${MAX_SUMMED_SAMPLE} (2^53 - 1) (got ${v})`;
  return `value: a ${type} sample ${type === 'response_time' ? 'is a duration' : 'counts up'} and cannot be negative (got ${v})`;
}

/**
 * One sample as a wire record of its own, shaped as the SDK path ships its
 * series (the endpoint in the tags, the record's own `endpoint` null), for a
 * sample that cannot go through the instruments (held for NodeSDK past the
 * cap). A response_time sample carries the count (1), min and max tags too.
 */
export function sampleAsRecord(m: SecurityMetric): SecurityMetric {
  const tags = sampleAttributes(m);
  // A series of one sample: its count, min and max tags, as the exporter writes on every response_time record.
  if (m.metricType === 'response_time') Object.assign(tags, { count: '1', min: String(m.value), max: String(m.value) });
  return new SecurityMetric({ metricType: m.metricType, value: m.value, timestamp: m.timestamp, endpoint: null, tags });
}

function addCount(counter: Counter, value: number, attrs: Attributes): boolean {
  if (value < 0) return false;
  counter.add(value, attrs);
  return true;
}

/** One request series (endpoint, method, status) of RequestTotals. */
export interface RequestSeries {
  /** Shared, never mutated: also passed to the response-time histogram. */
  readonly attrs: Attributes;
  count: number;
  errors: number;
  bytes: number;
}

/**
 * Series tracked at most; further ones share one overflow series
 * (`otel.metric.overflow: true`), as the SDK's cardinality limit does. The
 * SDK's storage holds 2,000 attribute sets per instrument by default, one of
 * them its own overflow set, which is the same set as ours: 1,998 series plus
 * ours fit, so each series kept here reaches the reader as its own (with
 * 2,000, the last two landed in the SDK's overflow).
 */
export const MAX_REQUEST_SERIES = 1998;

/**
 * Per-request counts, errors and bytes summed in plain numbers, and handed to
 * the usual sync counters (`guard.request.count`, `guard.request.errors`,
 * `guard.bandwidth`) once per collection instead of once per request: a
 * `counter.add` with three attributes costs microseconds (attribute hashing,
 * storage lookup), an addition here a Map lookup. The names, instrument
 * kinds and so the exporter mapping stay exactly those of GuardInstruments.
 *
 * The flush runs in the callback of an observable gauge that observes
 * nothing: the SDK calls observable callbacks before it collects the sync
 * instruments (MeterSharedState.collect), so what is flushed lands in the
 * same collection, for every reader.
 */
export class RequestTotals {
  private readonly series = new Map<string, RequestSeries>();
  private readonly flushHook: ObservableGauge;
  private overflow: RequestSeries | undefined;

  constructor(
    meter: Meter,
    private readonly count: Counter,
    private readonly errors: Counter,
    private readonly bandwidth: Counter,
  ) {
    this.flushHook = meter.createObservableGauge('guard.request.totals_flush', { description: 'Internal: flushes the guard request totals before each collection (no data points)' });
    this.flushHook.addCallback(() => this.flush());
  }

  /** The series for these attributes (created on first use). `key` must identify them uniquely. */
  seriesFor(key: string, endpoint: string, method: string, status: number): RequestSeries {
    let s = this.series.get(key);
    if (s === undefined) {
      if (this.series.size >= MAX_REQUEST_SERIES) {
        this.overflow ??= { attrs: { 'otel.metric.overflow': true }, count: 0, errors: 0, bytes: 0 };
        return this.overflow;
      }
      s = { attrs: { endpoint, method, status }, count: 0, errors: 0, bytes: 0 };
      this.series.set(key, s);
    }
    return s;
  }

  /** Hands the sums to the counters and forgets idle series. */
  flush(): void {
    for (const [key, s] of this.series) {
      if (s.count === 0 && s.errors === 0 && s.bytes === 0) {
        this.series.delete(key);
        continue;
      }
      this.drain(s);
    }
    if (this.overflow !== undefined) this.drain(this.overflow);
  }

  private drain(s: RequestSeries): void {
    if (s.count > 0) this.count.add(s.count, s.attrs);
    if (s.errors > 0) this.errors.add(s.errors, s.attrs);
    if (s.bytes > 0) this.bandwidth.add(s.bytes, s.attrs);
    s.count = 0;
    s.errors = 0;
    s.bytes = 0;
  }
}
