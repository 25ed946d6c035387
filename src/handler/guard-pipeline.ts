/**
 * The guard pipeline: the parts between the OTel SDK and the backend, built
 * once per agent and shared by both ways of running (standalone, or inside
 * NodeSDK):
 *
 *   GuardLogRecordProcessor ─► SDK BatchLogRecordProcessor ─► GuardLogRecordExporter ─┐
 *   GuardMetricReader (SDK MetricReader) ─────────────────► GuardMetricExporter ─────┤
 *                                                          HTTPTransport ◄───────────┤
 *                                                          FallbackQueue ◄── QueueDrainer
 *
 * It owns their lifecycle (flush and shutdown within a deadline) and applies
 * configuration changes live by swapping the batch processor and retiming
 * the reader and drainer, never by dropping what they hold.
 */
import { diag } from '@opentelemetry/api';
import { InstrumentType, type AggregationTemporality, type MetricProducer } from '@opentelemetry/sdk-metrics';
import type { AgentConfig } from '../config-types.js';
import { newCodecStats, type CodecStats } from '../models/index.js';
import { ForwardingLogExporter } from '../otel/forwarding-log-exporter.js';
import { GuardLogRecordExporter } from '../otel/guard-log-exporter.js';
import { ExportedRecordCounter, GuardLogRecordProcessor } from '../otel/guard-log-processor.js';
import { GuardMetricExporter } from '../otel/guard-metric-exporter.js';
import { GuardMetricReader } from '../otel/guard-metric-reader.js';
import { QueueFullProbe } from '../otel/queue-full-probe.js';
import { createBatchLogRecordProcessor } from '../otel/sdk-compat.js';
import { QueueDrainer } from '../queue/drainer.js';
import { RedisFallbackQueue } from '../queue/redis-fallback-queue.js';
import type { FallbackQueue } from '../queue/fallback-queue.js';
import { MemoryFallbackQueue } from '../queue/memory-fallback-queue.js';
import { SwitchableQueue } from '../queue/switchable-queue.js';
import { HTTPTransport, type HTTPTransportOptions } from '../transport/index.js';
import { JournalSettlingExporter, type DivertOptions } from './durability-exporter.js';
import { OverflowToQueue, type OverflowStats } from './overflow-to-queue.js';
import { DurabilityJournal } from './durability-journal.js';

/**
 * The SDK batch processor's queue. The SDK default (2048) is sized for app
 * logs; security traffic comes in bursts (a scanner or a credential-stuffing
 * run produces an event per request for minutes), and the processor drops the
 * NEWEST records silently when full. 16384 records hold a burst of ~16k
 * events per flush interval, at about 1.2 KB of heap each (bench/memory.ts:
 * ~20 MB when full); guard records beyond it go to the fallback queue
 * (OverflowToQueue), other records are counted lost (`sdkQueueDropped`).
 */
export const DEFAULT_MAX_QUEUE_SIZE = 16_384;
/** Records per export; batches are then split by bytes to stay under the body cap. */
export const DEFAULT_MAX_EXPORT_BATCH_SIZE = 2048;

export interface PipelineOptions {
  /** Add each guard event as a span event on the active span (default true). */
  spanEvents?: boolean;
  /** The initial fallback queue (default: a bounded memory queue). */
  queue?: FallbackQueue;
  /** Milliseconds between queue-replay ticks (default 1000). */
  drainIntervalMs?: number;
  transport?: HTTPTransportOptions;
  /**
   * Inside NodeSDK: the instrumentation whose request response times reach the
   * guard reader through a MetricProducer (GuardInstrumentation.metricProducer).
   */
  instrumentation?: { metricProducer(temporality?: AggregationTemporality): MetricProducer };
}

export class GuardPipeline {
  readonly transport: HTTPTransport;
  readonly queue: SwitchableQueue;
  readonly logExporter: GuardLogRecordExporter;
  readonly metricExporter: GuardMetricExporter;
  /** What goes into NodeSDK's `logRecordProcessors` (or the standalone LoggerProvider). */
  readonly logProcessor: GuardLogRecordProcessor;
  /** What goes into NodeSDK's `metricReaders` (or the standalone MeterProvider). */
  readonly metricReader: GuardMetricReader;
  readonly drainer: QueueDrainer;
  readonly codecStats: CodecStats = newCodecStats();
  /** `durability: 'emit'`: settles journal entries as exports complete. */
  private readonly journalExporter: JournalSettlingExporter;
  /** The emit journal, while durability is 'emit' and the queue is on Redis. */
  journal: DurabilityJournal | null = null;
  private readonly durability: AgentConfig['durability'];
  private readonly exported = new ExportedRecordCounter();
  /** The current batch processor's self-observability: exact queue-full drops and queue depth. */
  private probe = new QueueFullProbe();
  /** What did not fit the SDK's queue (or the handler's pre-start hold), on its way to the fallback queue. */
  private readonly overflow: OverflowToQueue;
  private maxQueueSize: number;
  private maxExportBatchSize: number;
  private flushIntervalMs: number;
  private closed = false;

  constructor(config: AgentConfig, options: PipelineOptions = {}) {
    this.transport = new HTTPTransport(config, options.transport);
    this.queue = new SwitchableQueue(options.queue ?? new MemoryFallbackQueue());
    const exporterConfig = { maxEventBytes: config.maxEventBytes, maxBodyBytes: config.maxBodyBytes, enableEvents: true, enableMetrics: true };
    this.logExporter = new GuardLogRecordExporter({
      transport: this.transport,
      queue: this.queue,
      config: exporterConfig,
      codecStats: this.codecStats,
      receivedCounter: this.exported,
    });
    this.journalExporter = new JournalSettlingExporter(this.logExporter);
    this.metricExporter = new GuardMetricExporter({ transport: this.transport, queue: this.queue, config: exporterConfig });
    this.overflow = new OverflowToQueue(this.journalExporter, () => this.directQueueOptions(), (items) => this.metricExporter.queueEncoded(items));
    this.durability = config.durability;
    this.maxQueueSize = config.maxQueueSize ?? DEFAULT_MAX_QUEUE_SIZE;
    this.maxExportBatchSize = Math.min(config.maxExportBatchSize ?? DEFAULT_MAX_EXPORT_BATCH_SIZE, this.maxQueueSize);
    this.flushIntervalMs = config.flushInterval * 1000;
    this.logProcessor = new GuardLogRecordProcessor({
      inner: this.newBatchProcessor(this.probe),
      probe: this.probe,
      onQueueFull: (record) => this.overflow.takeRecord(record),
      exported: this.exported,
      maxQueueSize: this.maxQueueSize,
      spanEvents: options.spanEvents ?? true,
    });
    const temporality = this.metricExporter.selectAggregationTemporality(InstrumentType.HISTOGRAM);
    this.metricReader = new GuardMetricReader({
      exporter: this.metricExporter,
      intervalMs: this.flushIntervalMs,
      metricProducers: options.instrumentation ? [options.instrumentation.metricProducer(temporality)] : [],
    });
    this.drainer = new QueueDrainer({
      transport: this.transport,
      queue: this.queue,
      intervalMs: options.drainIntervalMs ?? config.queue?.drainIntervalMs,
      maxBatchesPerTick: config.queue?.drainBatchesPerTick,
    });
    this.attachJournal();
  }

  private newBatchProcessor(probe: QueueFullProbe) {
    return createBatchLogRecordProcessor(new ForwardingLogExporter(this.journalExporter), {
      maxQueueSize: this.maxQueueSize,
      maxExportBatchSize: this.maxExportBatchSize,
      scheduledDelayMillis: this.flushIntervalMs,
      exportTimeoutMillis: 30_000,
      selfObsMeterProvider: probe,
    });
  }

  /**
   * An event the handler held for NodeSDK past its cap (the SDK never saw
   * it), as its wire JSON: it goes to the fallback queue. False (the caller
   * counts it lost) once the queue has closed.
   */
  queueHeldEvent(json: string, idempotencyKey: string): boolean {
    return this.overflow.takeEncoded(json, idempotencyKey);
  }

  /**
   * A metric sample the handler held for NodeSDK past its cap, as its wire
   * JSON: it goes to the fallback queue as a metrics record of its own
   * (counted in the metric exporter's `metricsQueued`). False once the queue
   * has closed.
   */
  queueHeldMetric(json: string): boolean {
    return this.overflow.takeEncodedMetric(json);
  }

  private directQueueOptions(): DivertOptions {
    // The transport's own budget: it knows its envelope, and the smaller plaintext budget of the encrypted route.
    const budget = this.transport.batchBudget('events');
    return { queue: this.queue, maxBatchBytes: budget.limit, envelopeBytes: budget.envelopeBytes, maxBatchItems: this.maxExportBatchSize };
  }

  /** Events the SDK queue refused or the pre-start hold could not keep: queued instead (rescued), and lost (the queue refused them too). */
  refusedStats(): OverflowStats {
    return this.overflow.stats();
  }

  /** Starts replaying queued batches (and, in 'emit' mode, journals left by a crash) in the background. */
  start(): void {
    this.drainer.start();
    void this.replayJournal();
  }

  /**
   * In `durability: 'emit'` mode, (re)creates the journal on the current
   * queue's Redis; call after the queue switched (initializeRedis). Returns
   * false when the mode needs Redis and there is none.
   */
  attachJournal(): boolean {
    if (this.durability !== 'emit') return true;
    const current = this.queue.current;
    if (!(current instanceof RedisFallbackQueue)) {
      // Back on memory (the Redis setting was removed): a journal on the old connection would only fail.
      this.journal?.detach();
      this.journal = null;
      this.journalExporter.journal = null;
      diag.warn("guard-agent: durability 'emit' needs Redis (redisUrl, redisClusterNodes or initializeRedis()); until then a SIGKILL can lose one flush interval of events");
      return false;
    }
    this.journal?.detach();
    this.journal = new DurabilityJournal({
      redisQueue: current,
      target: this.queue,
      // Sized like every direct write to the queue: a journaled event fits the transport's budget it was truncated to.
      batchSizing: () => this.directQueueOptions(),
      onTooLarge: (n) => this.logExporter.countDropped('too_large', n),
    });
    this.journalExporter.journal = this.journal;
    return true;
  }

  /** Replays own and dead siblings' journals once the queue's Redis answers. */
  async replayJournal(): Promise<number> {
    const journal = this.journal;
    const current = this.queue.current;
    if (!journal || !(current instanceof RedisFallbackQueue)) return 0;
    await current.ready();
    return journal.replay(true);
  }

  /** Applies a new configuration: transport settings now, intervals from the next tick. */
  async applyConfig(config: AgentConfig): Promise<void> {
    this.transport.updateConfig(config);
    this.logExporter.setMaxEventBytes(config.maxEventBytes);
    const ms = config.flushInterval * 1000;
    const queueSize = config.maxQueueSize ?? this.maxQueueSize;
    const batchSize = Math.min(config.maxExportBatchSize ?? this.maxExportBatchSize, queueSize);
    if (ms !== this.flushIntervalMs) this.metricReader.setInterval(ms);
    if (ms !== this.flushIntervalMs || queueSize !== this.maxQueueSize || batchSize !== this.maxExportBatchSize) {
      this.flushIntervalMs = ms;
      this.maxQueueSize = queueSize;
      this.maxExportBatchSize = batchSize;
      this.probe = new QueueFullProbe();
      this.logProcessor.replaceInner(this.newBatchProcessor(this.probe), queueSize, this.probe);
    }
  }

  /** Exports what the SDK holds and replays the queue, within `deadline` (epoch ms). */
  async flush(deadline: number): Promise<void> {
    await withDeadline(Promise.all([this.logProcessor.forceFlush(), this.metricReader.forceFlush(), this.overflow.write()]), deadline);
    // Bounded here too: a timer tick in flight has no deadline of its own (only the request timeout), and drainNow waits for it.
    if (Date.now() < deadline) await withDeadline(this.drainer.drainNow(deadline), deadline);
  }

  /**
   * Stops everything within `deadline`: exports what the SDK holds, tries to
   * deliver the queue, and leaves the rest in the queue (Redis keeps it for
   * the next start; memory reports it as lost in the stats).
   */
  async shutdown(deadline: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Paused, not stopped: the last drain below still replays the queue while the backend answers.
    void this.drainer.pause();
    const left = () => Math.max(0, deadline - Date.now());
    await withDeadline(this.logProcessor.forceFlush(), deadline);
    await withDeadline(this.metricReader.forceFlush(), deadline);
    // What the SDK refused goes to the queue before the drain and whatever the deadline: a queue write is local and bounded.
    await this.overflow.write();
    if (left() > 0) await withDeadline(this.drainer.drainNow(deadline), deadline);
    // Aborts a timer tick still sending (its batches go back to the queue).
    await this.drainer.stop();
    // Metrics recorded meanwhile (an instrumented server still serves) go out with one more collection; the
    // reader's own last one, after the exporter has closed, is queued (GuardMetricExporter).
    if (left() > 0) await withDeadline(this.metricReader.forceFlush(), deadline);
    // Past the deadline, what the SDK processor still holds goes straight to the queue (its shutdown exports it after ours).
    this.journalExporter.divertToQueue(this.directQueueOptions());
    // Exporters abort what is still in flight at their deadline and queue it.
    await Promise.all([this.logExporter.shutdown(left()), this.metricExporter.shutdown(left())]);
    await withDeadline(Promise.all([this.logProcessor.shutdown(), this.metricReader.shutdown()]), Date.now() + 1000);
    // Nothing is taken from now on; what was refused until here (the processor's own shutdown flush included) is queued.
    this.overflow.close();
    await this.overflow.write();
    // Settled journal entries are removed before the queue closes the Redis connection they share.
    await this.journal?.close(Math.max(deadline, Date.now() + 500));
    await this.queue.close();
    await this.transport.close();
  }

  /** Records in the SDK's queue that the exporter has not received yet (exact from the probe when the SDK reports it). */
  sdkQueueDepth(): number {
    const exact = this.probe.queueSize();
    if (exact !== undefined) return exact;
    const s = this.logProcessor.getStats();
    return Math.max(0, s.emitted - this.exported.total - s.sdkQueueDropped - s.sdkQueueRescued);
  }
}

/** Resolves when `p` settles or at `deadline` (epoch ms), whichever is first; never rejects. */
export async function withDeadline(p: Promise<unknown>, deadline: number): Promise<boolean> {
  const ms = deadline - Date.now();
  if (ms <= 0) {
    p.catch(() => undefined);
    return false;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
