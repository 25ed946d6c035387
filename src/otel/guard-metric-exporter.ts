/**
 * GuardMetricExporter: a PushMetricExporter (use it with a
 * PeriodicExportingMetricReader) that turns the guard instruments' data
 * points into SecurityMetric records, one per series per interval, and
 * delivers them like events (send, or queue what the backend did not take).
 *
 * Temporality: delta, so a counter's record is what the interval added and a
 * histogram's mean covers the interval only. Up-down counters are the one
 * exception: they stand for levels (threat_level), and a level's delta is
 * meaningless, so they stay cumulative (the OTLP "delta" preference does the
 * same).
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { AggregationTemporality, InstrumentType, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { encodeMetric } from '../models/codec.js';
import type { DropReason } from '../transport/types.js';
import { Delivery, type DeliveryStats } from './delivery.js';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS, type GuardExporterOptions } from './guard-log-exporter.js';
import { CumulativeState, type MetricMappingStats, newMetricMappingStats, resourceMetricsToSecurityMetrics } from './metric-mapping.js';

export type GuardMetricExporterOptions = GuardExporterOptions;

export interface GuardMetricExporterStats {
  exportCalls: number;
  /** Guard metric records built from data points. */
  metricsMapped: number;
  /** Non-guard metric streams skipped. */
  ignoredMetrics: number;
  emptyDataPoints: number;
  metricsDelivered: number;
  metricsQueued: number;
  metricsDropped: Partial<Record<DropReason, number>>;
  inFlight: number;
  delivery: DeliveryStats;
}

export class GuardMetricExporter implements PushMetricExporter {
  private readonly delivery: Delivery;
  private readonly enabled: boolean;
  private readonly shutdownTimeoutMs: number;
  private readonly mappingStats: MetricMappingStats = newMetricMappingStats();
  private readonly cumulative = new CumulativeState();
  private exportCalls = 0;
  private metricsMapped = 0;

  constructor(options: GuardMetricExporterOptions) {
    this.delivery = new Delivery({
      transport: options.transport,
      queue: options.queue,
      exportTimeoutMs: options.exportTimeoutMs,
      maxBodyBytes: options.config.maxBodyBytes,
    });
    this.enabled = options.config.enableMetrics ?? true;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return instrumentType === InstrumentType.UP_DOWN_COUNTER || instrumentType === InstrumentType.OBSERVABLE_UP_DOWN_COUNTER
      ? AggregationTemporality.CUMULATIVE
      : AggregationTemporality.DELTA;
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.exportCalls++;
    let items: string[];
    try {
      const records = resourceMetricsToSecurityMetrics(metrics, this.mappingStats, this.cumulative);
      this.metricsMapped += records.length;
      if (records.length > 0 && !this.enabled) {
        this.delivery.drop('disabled', records.length);
        return resultCallback({ code: ExportResultCode.SUCCESS });
      }
      items = records.map((m) => encodeMetric(m));
    } catch (err) {
      // The mapping skips odd points rather than throwing; this guards the SDK's reader against a bug here.
      this.delivery.drop('encoding_error', 1);
      return resultCallback({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
    }
    if (items.length === 0) return resultCallback({ code: ExportResultCode.SUCCESS });
    // After shutdown (the reader's last collection at stop) the network is closed: the queue keeps them.
    const handled = this.delivery.isClosed ? this.delivery.queueItems('metrics', items, []) : this.delivery.deliverItems('metrics', items, []);
    void handled.then((ok) =>
      resultCallback(ok ? { code: ExportResultCode.SUCCESS } : { code: ExportResultCode.FAILED, error: new Error('some metrics could be neither delivered nor queued') }),
    );
  }

  /**
   * Puts encoded metric records straight into the fallback queue, skipping
   * the network (samples that never reached the SDK). Counted in
   * `metricsQueued`, or dropped with a reason. Never rejects.
   */
  queueEncoded(items: string[]): Promise<boolean> {
    return this.delivery.queueItems('metrics', items, []);
  }

  forceFlush(): Promise<void> {
    return this.delivery.flush();
  }

  shutdown(timeoutMs: number = this.shutdownTimeoutMs): Promise<void> {
    return this.delivery.shutdown(timeoutMs);
  }

  getStats(): GuardMetricExporterStats {
    const d = this.delivery.stats();
    return {
      exportCalls: this.exportCalls,
      metricsMapped: this.metricsMapped,
      ignoredMetrics: this.mappingStats.ignoredMetrics,
      emptyDataPoints: this.mappingStats.emptyDataPoints,
      metricsDelivered: d.delivered,
      metricsQueued: d.queued,
      metricsDropped: d.dropped,
      inFlight: d.inFlight,
      delivery: d,
    };
  }
}
