/**
 * The OTel instruments behind the seven guard metric types, and a recorder
 * that turns a seed-style `SecurityMetric` sample (one per request, as the
 * adapters send them) into one measurement. The SDK aggregates the samples;
 * the GuardMetricExporter sends one record per series per interval
 * (reference 11.20) instead of one per request.
 */
import type { Attributes, Counter, Gauge, Histogram, Meter } from '@opentelemetry/api';
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
      description: 'Response time of requests seen by the guard',
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
    const attrs: Attributes = { ...m.tags };
    if (m.endpoint !== null && attrs.endpoint === undefined) attrs.endpoint = m.endpoint;
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

function addCount(counter: Counter, value: number, attrs: Attributes): boolean {
  if (value < 0) return false;
  counter.add(value, attrs);
  return true;
}
