/**
 * OTel metric data points -> SecurityMetric records (reference 11.20).
 *
 * Only instruments named in GUARD_METRIC_NAMES map; everything else in the
 * ResourceMetrics (the host's own metrics) is ignored. One record per series
 * (instrument + attribute set) per export interval:
 *   - Sum of a monotonic instrument (request_count, error_rate, bandwidth_usage):
 *     value = the interval's delta;
 *   - Histogram (response_time): value = the interval's mean (sum / count),
 *     with `count`, `min`, `max` added to the tags;
 *   - Gauge, or a non-monotonic Sum (threat_level, block_rate, cache_hit_rate):
 *     value = the current level.
 * Attributes become string tags (`endpoint` included, as the adapters do);
 * the record's own `endpoint` field stays null.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { type MetricType } from '../models/event-types.js';
import { SecurityMetric } from '../models/security-metric.js';
import { GUARD_METRIC_NAMES } from './guard-instruments.js';

const TYPE_BY_NAME: ReadonlyMap<string, MetricType> = new Map(
  (Object.entries(GUARD_METRIC_NAMES) as [MetricType, string][]).map(([type, name]) => [name, type]),
);

/** The guard metric type an instrument name maps to, or null for other instruments. */
export function guardMetricTypeOf(instrumentName: string): MetricType | null {
  return TYPE_BY_NAME.get(instrumentName) ?? null;
}

export interface MetricMappingStats {
  /** Metric streams skipped because they are not guard instruments (counted per export). */
  ignoredMetrics: number;
  /** Guard data points that carried nothing to send (empty histogram, zero-length interval). */
  emptyDataPoints: number;
}

export function newMetricMappingStats(): MetricMappingStats {
  return { ignoredMetrics: 0, emptyDataPoints: 0 };
}

/**
 * Last cumulative values per series, so a reader configured with cumulative
 * temporality still yields interval deltas. Keyed by instrument, attributes
 * and start time (a new start time means the series was reset).
 */
export class CumulativeState {
  private readonly last = new Map<string, { count: number; sum: number }>();

  /** Returns the delta since the previous call for this series and remembers the new totals. */
  delta(key: string, count: number, sum: number): { count: number; sum: number } {
    const prev = this.last.get(key);
    this.last.set(key, { count, sum });
    if (!prev || count < prev.count) return { count, sum };
    return { count: count - prev.count, sum: sum - prev.sum };
  }

  get size(): number {
    return this.last.size;
  }
}

function hrTimeToDate(hr: HrTime): Date {
  return new Date(hr[0] * 1000 + hr[1] / 1e6);
}

/** Attribute values as the string tags the wire wants. */
export function attributesToTags(attrs: Attributes): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const k in attrs) {
    const v = attrs[k];
    if (v === undefined || v === null) continue;
    tags[k] = typeof v === 'string' ? v : Array.isArray(v) ? JSON.stringify(v) : String(v);
  }
  return tags;
}

function seriesKey(name: string, attrs: Attributes, start: HrTime): string {
  const keys = Object.keys(attrs).sort();
  let key = name + '|' + start[0] + '.' + start[1];
  for (const k of keys) key += '|' + k + '=' + JSON.stringify(attrs[k]);
  return key;
}

/** Seconds per unit for a response-time histogram recorded in another unit than `s`. */
function secondsPerUnit(unit: string): number {
  if (unit === 'ms') return 1e-3;
  if (unit === 'us' || unit === 'µs') return 1e-6;
  if (unit === 'ns') return 1e-9;
  return 1;
}

/** Maps one collection to guard metric records. Never throws on odd data: such points are skipped and counted. */
export function resourceMetricsToSecurityMetrics(
  rm: ResourceMetrics,
  stats: MetricMappingStats = newMetricMappingStats(),
  cumulative: CumulativeState = new CumulativeState(),
): SecurityMetric[] {
  const out: SecurityMetric[] = [];
  for (const scope of rm.scopeMetrics) {
    for (const metric of scope.metrics) {
      const type = guardMetricTypeOf(metric.descriptor.name);
      if (type === null) {
        stats.ignoredMetrics++;
        continue;
      }
      mapMetric(metric, type, out, stats, cumulative);
    }
  }
  return out;
}

function push(out: SecurityMetric[], type: MetricType, value: number, end: HrTime, attrs: Attributes, extraTags?: Record<string, string>): void {
  const tags = attributesToTags(attrs);
  if (extraTags) Object.assign(tags, extraTags);
  out.push(new SecurityMetric({ metricType: type, value, timestamp: hrTimeToDate(end), endpoint: null, tags }));
}

function mapMetric(metric: MetricData, type: MetricType, out: SecurityMetric[], stats: MetricMappingStats, cumulative: CumulativeState): void {
  const isCumulative = metric.aggregationTemporality === AggregationTemporality.CUMULATIVE;
  const name = metric.descriptor.name;
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      for (const dp of metric.dataPoints) {
        let value = dp.value;
        // A monotonic cumulative sum is a running total: send what this interval added.
        if (metric.isMonotonic && isCumulative) value = cumulative.delta(seriesKey(name, dp.attributes, dp.startTime), 0, dp.value).sum;
        if (!Number.isFinite(value)) {
          stats.emptyDataPoints++;
          continue;
        }
        push(out, type, value, dp.endTime, dp.attributes);
      }
      return;
    case DataPointType.GAUGE:
      for (const dp of metric.dataPoints) {
        if (!Number.isFinite(dp.value)) {
          stats.emptyDataPoints++;
          continue;
        }
        push(out, type, dp.value, dp.endTime, dp.attributes);
      }
      return;
    case DataPointType.HISTOGRAM:
    case DataPointType.EXPONENTIAL_HISTOGRAM: {
      const scale = type === 'response_time' ? secondsPerUnit(metric.descriptor.unit) : 1;
      for (const dp of metric.dataPoints) {
        const h = dp.value;
        let count = h.count;
        let sum = h.sum ?? NaN;
        if (isCumulative) ({ count, sum } = cumulative.delta(seriesKey(name, dp.attributes, dp.startTime), count, sum));
        if (!(count > 0) || !Number.isFinite(sum)) {
          stats.emptyDataPoints++;
          continue;
        }
        // Over the series' own attributes of these names (RESPONSE_TIME_TAGS: sendMetric refuses samples that carry them).
        const tags: Record<string, string> = { count: String(count) };
        // min/max of a cumulative histogram cover its whole life, not the interval: only sent for deltas.
        if (!isCumulative && h.min !== undefined && Number.isFinite(h.min)) tags.min = String(h.min * scale);
        if (!isCumulative && h.max !== undefined && Number.isFinite(h.max)) tags.max = String(h.max * scale);
        push(out, type, (sum / count) * scale, dp.endTime, dp.attributes, tags);
      }
      return;
    }
  }
}
