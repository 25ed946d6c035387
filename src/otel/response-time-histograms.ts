/**
 * The `guard.response.time` histogram of the instrumentation, aggregated here
 * in plain numbers and handed to metric readers as a `MetricProducer`.
 *
 * Why not the SDK's Histogram: `Histogram.record(value, attributes)` hashes
 * the attributes on every call (sorted keys, then JSON.stringify) before it
 * finds the series: about 0.75 µs per request with our three attributes, the
 * largest single cost the instrumentation added to a request
 * (bench/enforcement.ts). Here the series is already known (RequestTotals
 * found it), so a request costs a bucket search and four additions.
 *
 * What the readers get is what the SDK's explicit-bucket histogram would give
 * for the same values: the same boundaries (upper bounds inclusive), counts,
 * sum, min and max, per series, in the reader's temporality
 * (test/unit/otel-response-time-histograms.test.ts compares both on one
 * MeterProvider). Recording goes into one pending histogram per series; a
 * collection by any reader first moves the pending values into every
 * producer's own accumulation, so several readers (the guard reader, an OTLP
 * reader) each see every value once, delta or cumulative.
 *
 * What differs from an SDK instrument: only readers that carry a producer
 * (`GuardInstrumentation.metricProducer()`; `guardAgent()` adds one to each
 * reader it builds) see the histogram, and Views do not apply to it. The
 * instrumentation records into the SDK histogram as before while no producer
 * exists, so nothing is lost when it is used without one.
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type MetricData,
  type MetricProducer,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { GUARD_METRIC_NAMES, RESPONSE_TIME_BUCKETS_S, RESPONSE_TIME_DESCRIPTION } from './guard-instruments.js';

/** The SDK histogram's boundaries (upper bounds, inclusive). */
const BOUNDARIES: readonly number[] = RESPONSE_TIME_BUCKETS_S;

/** Series kept at most per producer; further ones share one overflow series, as the SDK's cardinality limit does. */
export const MAX_HISTOGRAM_SERIES = 2000;
const OVERFLOW_ATTRIBUTES: Attributes = Object.freeze({ 'otel.metric.overflow': true });

/** One series' explicit-bucket histogram. */
class Accumulation {
  readonly counts = new Float64Array(BOUNDARIES.length + 1);
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  /** The producer's collection count when values last came in (cumulative series: which to let go first). */
  touched = 0;

  constructor(
    readonly attributes: Attributes,
    public startTime: HrTime,
  ) {}

  mergeFrom(o: Accumulation): void {
    this.count += o.count;
    this.sum += o.sum;
    if (o.min < this.min) this.min = o.min;
    if (o.max > this.max) this.max = o.max;
    const c = this.counts;
    const oc = o.counts;
    for (let i = 0; i < c.length; i++) c[i] += oc[i];
  }

  reset(startTime: HrTime): void {
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.counts.fill(0);
    this.startTime = startTime;
  }
}

/** Values recorded since the last collection, per series (keyed by the series' attributes object). */
export class ResponseTimeHistograms {
  private pending = new Map<Attributes, Accumulation>();
  private readonly producers: ResponseTimeProducer[] = [];

  constructor(private readonly scope: { name: string; version?: string }) {}

  /** True once a reader can collect what is recorded here. */
  get hasProducers(): boolean {
    return this.producers.length > 0;
  }

  /**
   * Records one response time for the series whose attributes object is
   * `attributes` (the same object for every request of a series: it is the
   * key). Negative and NaN values are ignored, as the SDK histogram does.
   */
  record(seconds: number, attributes: Attributes): void {
    if (!(seconds >= 0)) return;
    let acc = this.pending.get(attributes);
    if (acc === undefined) {
      acc = new Accumulation(attributes, ZERO_TIME);
      this.pending.set(attributes, acc);
    }
    acc.count++;
    acc.sum += seconds;
    if (seconds < acc.min) acc.min = seconds;
    if (seconds > acc.max) acc.max = seconds;
    const b = BOUNDARIES;
    let i = 0;
    while (i < b.length && seconds > b[i]) i++;
    acc.counts[i]++;
  }

  /** A producer for one reader, in that reader's temporality. */
  createProducer(temporality: AggregationTemporality = AggregationTemporality.CUMULATIVE): MetricProducer {
    const p = new ResponseTimeProducer(this, temporality, this.scope);
    this.producers.push(p);
    return p;
  }

  /** Moves the pending values into every producer (run at the start of any producer's collection). */
  drain(): void {
    if (this.pending.size === 0) return;
    const pending = this.pending;
    // A fresh map: a series that went quiet is forgotten here; its producers keep their own copy.
    this.pending = new Map();
    for (const acc of pending.values()) {
      if (acc.count === 0) continue;
      const key = seriesKeyOf(acc.attributes);
      for (const p of this.producers) p.add(acc, key);
    }
  }
}

/** Attribute values as one string, cached per attributes object (a series keeps its object while it lives). */
const seriesKeys = new WeakMap<Attributes, string>();
function seriesKeyOf(attributes: Attributes): string {
  let key = seriesKeys.get(attributes);
  if (key === undefined) {
    key = JSON.stringify(Object.keys(attributes).sort().map((k) => [k, attributes[k]]));
    seriesKeys.set(attributes, key);
  }
  return key;
}

const ZERO_TIME: HrTime = [0, 0];

/** Wall-clock now, as the SDK stamps its own data points. */
function nowHrTime(): HrTime {
  return millisToHrTime(Date.now());
}

/** The histogram as one reader sees it. */
class ResponseTimeProducer implements MetricProducer {
  /** Keyed by the attribute values: a series RequestTotals forgot and made again has a new attributes object. */
  private readonly series = new Map<string, Accumulation>();
  private overflow: Accumulation | undefined;
  /** Start of the current delta interval (first collection: when the producer was made). */
  private lastCollect: HrTime = nowHrTime();
  /** Collections done: a cumulative series with `touched` below it had no values since the last one. */
  private collections = 0;

  constructor(
    private readonly store: ResponseTimeHistograms,
    private readonly temporality: AggregationTemporality,
    private readonly scope: { name: string; version?: string },
  ) {}

  add(pending: Accumulation, key: string): void {
    let acc = this.series.get(key);
    if (acc !== undefined && this.temporality === AggregationTemporality.CUMULATIVE) {
      // Most recently fed last: the map's first entries are the series quiet the longest.
      this.series.delete(key);
      this.series.set(key, acc);
    }
    if (acc === undefined) {
      if (this.series.size >= MAX_HISTOGRAM_SERIES && !this.letGoQuietest()) {
        acc = this.overflow ??= new Accumulation(OVERFLOW_ATTRIBUTES, this.startFor());
      } else {
        acc = new Accumulation(pending.attributes, this.startFor());
        this.series.set(key, acc);
      }
    }
    acc.touched = this.collections;
    acc.mergeFrom(pending);
  }

  /**
   * Cumulative only: makes room by ending the series quiet the longest, if it
   * had no values since the previous collection. A cumulative reader keeps
   * every series for the life of the process, so under a sustained scan its
   * series would fill with the scanner's paths (up to `maxUnmatchedRouteKeys`
   * new ones per collection) and a route first seen after that would only
   * ever be counted in the overflow series. An ended series was exported
   * with its totals; if it comes back it starts again with a new start time,
   * which OpenTelemetry readers take as a reset.
   */
  private letGoQuietest(): boolean {
    if (this.temporality !== AggregationTemporality.CUMULATIVE) return false;
    for (const [key, acc] of this.series) {
      if (acc.touched >= this.collections) return false;
      this.series.delete(key);
      return true;
    }
    return false;
  }

  /** Delta points start at the previous collection; cumulative ones when the series first appeared. */
  private startFor(): HrTime {
    return this.temporality === AggregationTemporality.DELTA ? this.lastCollect : nowHrTime();
  }

  async collect(): Promise<CollectionResult> {
    this.store.drain();
    const endTime = nowHrTime();
    const delta = this.temporality === AggregationTemporality.DELTA;
    const dataPoints: MetricData['dataPoints'] = [];
    const point = (acc: Accumulation): void => {
      if (acc.count === 0) return;
      (dataPoints as unknown[]).push({
        attributes: acc.attributes,
        startTime: acc.startTime,
        endTime,
        value: {
          buckets: { boundaries: BOUNDARIES.slice(), counts: Array.from(acc.counts) },
          sum: acc.sum,
          count: acc.count,
          min: acc.min,
          max: acc.max,
        },
      });
    };
    for (const acc of this.series.values()) point(acc);
    if (this.overflow !== undefined) point(this.overflow);
    if (delta) {
      // Delta: each interval starts empty; series without values are forgotten (as the SDK's delta storage does).
      this.series.clear();
      this.overflow = undefined;
      this.lastCollect = endTime;
    }
    this.collections++;
    const metrics: MetricData[] =
      dataPoints.length === 0
        ? []
        : [
            {
              descriptor: { name: GUARD_METRIC_NAMES.response_time, description: RESPONSE_TIME_DESCRIPTION, unit: 's', valueType: ValueType.DOUBLE },
              aggregationTemporality: this.temporality,
              dataPointType: DataPointType.HISTOGRAM,
              dataPoints,
            } as MetricData,
          ];
    // The reader keeps its own SDK producer's resource and appends these scope metrics to it.
    const resourceMetrics = { resource: undefined, scopeMetrics: metrics.length ? [{ scope: { ...this.scope }, metrics }] : [] } as unknown as ResourceMetrics;
    return { resourceMetrics, errors: [] };
  }
}
