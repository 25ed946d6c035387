/**
 * GuardLogRecordProcessor wraps the processor that feeds the
 * GuardLogRecordExporter (normally the SDK's BatchLogRecordProcessor) to add
 * two things the SDK does not give:
 *
 * 1. Span events: a guard record emitted inside an active, recording span
 *    also becomes a `guard.security_event` span event, so the block shows up
 *    in the trace next to the request it stopped.
 * 2. Queue-full drops: when its queue is full, the batch processor drops
 *    the NEWEST records without a trace. With a QueueFullProbe (the inner
 *    processor's `selfObsMeterProvider`) the drop is seen exactly, inside the
 *    `onEmit` that caused it, and a guard record it dropped is handed to
 *    `onQueueFull` (the pipeline puts it in the fallback queue: rescued, not
 *    lost). Without a probe the drops are estimated from what goes in (every
 *    onEmit) against what comes out (every record the exporter receives,
 *    through the shared ExportedRecordCounter): whatever would push the depth
 *    past `maxQueueSize` was dropped. Drops not rescued are `sdkQueueDropped`.
 */
import { type Context, context as contextApi, diag, trace } from '@opentelemetry/api';
import type { LogRecordProcessor, ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import { EVENT_ATTRIBUTES, GUARD_EVENT_NAME, isGuardRecord } from './event-mapping.js';
import type { ReceivedRecordsListener } from './guard-log-exporter.js';
import type { QueueFullProbe } from './queue-full-probe.js';

/** What the exporter received, shared between the GuardLogRecordExporter (writer) and the processor (reader). */
export class ExportedRecordCounter implements ReceivedRecordsListener {
  total = 0;
  guard = 0;

  add(total: number, guard: number): void {
    this.total += total;
    this.guard += guard;
  }
}

export interface GuardLogRecordProcessorOptions {
  /** The processor that feeds the GuardLogRecordExporter (its owner constructs it). */
  inner: LogRecordProcessor;
  /** The same counter passed to the GuardLogRecordExporter as `receivedCounter`. */
  exported: ExportedRecordCounter;
  /** The inner batch processor's `maxQueueSize` (the SDK's default is 2048). */
  maxQueueSize?: number;
  /** Add a span event to the active span for each guard record. Default true. */
  spanEvents?: boolean;
  /** The inner processor's `selfObsMeterProvider`: makes drop detection exact and rescue possible. */
  probe?: QueueFullProbe;
  /** Given each guard record the inner processor refused (needs `probe`); true: it now owns the record's delivery. */
  onQueueFull?: (record: ReadWriteLogRecord) => boolean;
}

export interface GuardLogRecordProcessorStats {
  emitted: number;
  guardEmitted: number;
  /** Records the inner processor refused because its queue was full, and nobody took over: lost. */
  sdkQueueDropped: number;
  /** The guard records among them. */
  guardSdkQueueDropped: number;
  /** Guard records the inner processor refused that went to `onQueueFull` instead (rescued). */
  sdkQueueRescued: number;
  spanEventsAdded: number;
}

export const SDK_DEFAULT_MAX_QUEUE_SIZE = 2048;

/** Attributes copied onto the span event: the few that say what happened, primitives only. */
const SPAN_EVENT_KEYS = [
  EVENT_ATTRIBUTES.eventType,
  EVENT_ATTRIBUTES.actionTaken,
  EVENT_ATTRIBUTES.reason,
  EVENT_ATTRIBUTES.ipAddress,
  EVENT_ATTRIBUTES.endpoint,
  EVENT_ATTRIBUTES.method,
  EVENT_ATTRIBUTES.ruleType,
  EVENT_ATTRIBUTES.idempotencyKey,
] as const;

export class GuardLogRecordProcessor implements LogRecordProcessor {
  private inner: LogRecordProcessor;
  private probe: QueueFullProbe | undefined;
  private readonly onQueueFull: ((record: ReadWriteLogRecord) => boolean) | undefined;
  private readonly exported: ExportedRecordCounter;
  private maxQueueSize: number;
  /** Processors replaced by `replaceInner`, still flushing what they held. */
  private readonly retiring = new Set<Promise<void>>();
  private readonly spanEvents: boolean;
  private emitted = 0;
  private guardEmitted = 0;
  /** Refused by the inner processor (queue full), rescued or not. */
  private dropped = 0;
  private guardDropped = 0;
  private rescued = 0;
  private spanEventsAdded = 0;
  private warnedDrops = false;

  constructor(options: GuardLogRecordProcessorOptions) {
    this.inner = options.inner;
    this.probe = options.probe;
    this.onQueueFull = options.onQueueFull;
    this.exported = options.exported;
    this.maxQueueSize = options.maxQueueSize ?? SDK_DEFAULT_MAX_QUEUE_SIZE;
    this.spanEvents = options.spanEvents ?? true;
  }

  onEmit(record: ReadWriteLogRecord, context?: Context): void {
    const guard = isGuardRecord(record);
    if (guard && this.spanEvents) this.addSpanEvent(record, context ?? contextApi.active());
    this.emitted++;
    if (guard) this.guardEmitted++;
    const probe = this.probe?.isAttached ? this.probe : undefined;
    const refusedBefore = probe?.refused ?? 0;
    this.inner.onEmit(record, context);
    if (probe === undefined) return this.estimateDrops(guard);
    if (probe.refused === refusedBefore) return;
    // Exactly this record was refused.
    this.dropped++;
    if (guard) this.guardDropped++;
    if (guard && this.takeOver(record)) {
      this.rescued++;
      return;
    }
    this.warnDrops();
  }

  /** Hands a refused guard record to `onQueueFull`; this runs inside the app's `emit`, so it never throws. */
  private takeOver(record: ReadWriteLogRecord): boolean {
    try {
      return this.onQueueFull?.(record) === true;
    } catch (err) {
      diag.error('guard-agent: could not take over a record the SDK queue refused', err);
      return false;
    }
  }

  private warnDrops(): void {
    if (this.warnedDrops) return;
    this.warnedDrops = true;
    diag.warn(`guard-agent: the log batch processor's queue (${this.maxQueueSize}) is full; records are being dropped (counted in sdkQueueDropped)`);
  }

  /**
   * The live estimate. Its (small, transient) imprecision: the batch
   * processor takes a batch out of its queue a few microtasks BEFORE it
   * calls the exporter, so during a synchronous burst up to one export batch
   * is in neither count and the estimate overcounts drops by at most that
   * much; once those records reach the exporter the estimate can undercount
   * by as much. Both errors vanish at `forceFlush()`/`shutdown()`, where
   * every accepted record has reached the exporter and the count is
   * reconciled to exactly `emitted - exported`.
   */
  private estimateDrops(guard: boolean): void {
    const queued = this.emitted - this.exported.total - this.dropped;
    if (queued > this.maxQueueSize) {
      // The SDK drops the newest record: the one just emitted.
      this.dropped += queued - this.maxQueueSize;
      if (guard) this.guardDropped++;
      this.warnDrops();
    } else if (queued < 0) {
      // A queue cannot be negative: drops counted earlier were records in the extraction gap.
      this.dropped += queued;
    }
    const guardQueued = this.guardEmitted - this.exported.guard - this.guardDropped;
    if (guardQueued < 0) this.guardDropped += guardQueued;
  }

  /** The estimate made exact once the inner processor has handed every accepted record to the exporter (a probe is exact already). */
  private reconcile(): void {
    if (this.probe?.isAttached) return;
    this.dropped = Math.max(0, this.emitted - this.exported.total);
    this.guardDropped = Math.max(0, this.guardEmitted - this.exported.guard);
  }

  private addSpanEvent(record: ReadWriteLogRecord, ctx: Context): void {
    const span = trace.getSpan(ctx);
    if (!span || !span.isRecording()) return;
    const attrs: Record<string, string | number | boolean> = {};
    for (const key of SPAN_EVENT_KEYS) {
      const v = record.attributes[key];
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') attrs[key] = v;
    }
    try {
      span.addEvent(GUARD_EVENT_NAME, attrs, record.hrTime);
      this.spanEventsAdded++;
    } catch (err) {
      diag.debug('guard-agent: could not add the span event', err);
    }
  }

  enabled(options: Parameters<NonNullable<LogRecordProcessor['enabled']>>[0]): boolean {
    return this.inner.enabled?.(options) ?? true;
  }

  async forceFlush(options?: Parameters<LogRecordProcessor['forceFlush']>[0]): Promise<void> {
    const before = this.emitted;
    await Promise.all([this.inner.forceFlush(options), ...this.retiring]);
    // Records emitted during the flush may still sit in the queue; reconcile only when there were none.
    if (this.emitted === before) this.reconcile();
  }

  async shutdown(): Promise<void> {
    await Promise.all([this.inner.shutdown(), ...this.retiring]);
    this.reconcile();
  }

  /**
   * Swaps the inner processor (a new flush interval or batch size applies
   * live this way): records emitted from now on go to the new one, and the
   * old one is flushed and shut down in the background, so none are lost and
   * the caller does not wait for a slow backend (under steady traffic that
   * wait could last as long as the traffic). `forceFlush()` and `shutdown()`
   * wait for retired processors too.
   */
  replaceInner(next: LogRecordProcessor, maxQueueSize = this.maxQueueSize, probe?: QueueFullProbe): void {
    const old = this.inner;
    this.inner = next;
    this.probe = probe;
    this.maxQueueSize = maxQueueSize;
    const retired = (async () => {
      try {
        await old.forceFlush();
        await old.shutdown();
      } catch (err) {
        diag.error('guard-agent: the replaced log batch processor failed to flush', err);
      }
    })();
    this.retiring.add(retired);
    void retired.finally(() => this.retiring.delete(retired));
  }

  getStats(): GuardLogRecordProcessorStats {
    return {
      emitted: this.emitted,
      guardEmitted: this.guardEmitted,
      sdkQueueDropped: this.dropped - this.rescued,
      guardSdkQueueDropped: this.guardDropped - this.rescued,
      sdkQueueRescued: this.rescued,
      spanEventsAdded: this.spanEventsAdded,
    };
  }
}
