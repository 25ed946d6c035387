/**
 * The periodic metric reader of the guard pipeline. It is the SDK's
 * `MetricReader` (so NodeSDK takes it in `metricReaders` and the SDK does the
 * aggregation) with a timer of its own instead of
 * `PeriodicExportingMetricReader`'s: that one fixes its interval at
 * construction, and `updateConfig({ flushInterval })` must apply live.
 * Collections never overlap; a slow export delays the next tick.
 */
import { diag } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { MetricReader, type MetricProducer, type PushMetricExporter } from '@opentelemetry/sdk-metrics';

export interface GuardMetricReaderOptions {
  exporter: PushMetricExporter;
  /** Milliseconds between exports. */
  intervalMs: number;
  /** Deadline of one collect+export. Default 30000. */
  timeoutMs?: number;
  /** Producers whose metrics join the SDK's in every collection (the instrumentation's response times). */
  metricProducers?: MetricProducer[];
}

export class GuardMetricReader extends MetricReader {
  private readonly exporter: PushMetricExporter;
  private intervalMs: number;
  private readonly timeoutMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private initialized = false;
  exports = 0;

  constructor(options: GuardMetricReaderOptions) {
    super({
      aggregationTemporalitySelector: (type) => options.exporter.selectAggregationTemporality!(type),
      metricProducers: options.metricProducers,
    });
    this.exporter = options.exporter;
    this.intervalMs = options.intervalMs;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Changes the export interval; takes effect from the next tick. */
  setInterval(ms: number): void {
    this.intervalMs = Math.max(1, ms);
    if (this.timer) this.schedule();
  }

  protected override onInitialized(): void {
    this.initialized = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => void this.exportOnce(), this.intervalMs);
    this.timer.unref();
  }

  /** One collect+export; concurrent calls share the one in progress. */
  exportOnce(): Promise<void> {
    if (!this.initialized) return Promise.resolve();
    this.running ??= this.collectAndExport().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async collectAndExport(): Promise<void> {
    try {
      const { resourceMetrics, errors } = await this.collect({ timeoutMillis: this.timeoutMs });
      if (errors.length) diag.debug(`guard-agent: metric collection reported ${errors.length} error(s)`);
      if (resourceMetrics.scopeMetrics.length === 0) return;
      await new Promise<void>((resolve) => {
        this.exporter.export(resourceMetrics, (result) => {
          if (result.code !== ExportResultCode.SUCCESS) diag.warn('guard-agent: metric export failed');
          this.exports++;
          resolve();
        });
      });
    } catch (err) {
      diag.warn(`guard-agent: metric export failed: ${(err as Error).message}`);
    }
  }

  /**
   * One collect+export that starts after this call. A collection already in
   * flight (the timer's, waiting on a slow backend) was taken before what the
   * caller recorded just now: joining it would export without those values,
   * and at shutdown nothing would collect them again. So it is awaited and
   * followed by a fresh one (callers waiting together share that one).
   */
  private async exportFromNow(): Promise<void> {
    if (this.running) await this.running;
    await this.exportOnce();
  }

  protected override async onForceFlush(): Promise<void> {
    await this.exportFromNow();
    await this.exporter.forceFlush();
  }

  private shutdownOnce: Promise<void> | undefined;

  /**
   * Once, then the same promise: the pipeline shuts the reader down at stop,
   * and the agent's own MeterProvider shuts its readers down again after
   * (the SDK's reader logs "Cannot call shutdown twice." as an error).
   */
  override shutdown(options?: Parameters<MetricReader['shutdown']>[0]): Promise<void> {
    this.shutdownOnce ??= super.shutdown(options);
    return this.shutdownOnce;
  }

  protected override async onShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.exportFromNow();
    await this.exporter.shutdown();
  }
}
