/**
 * GuardLogRecordExporter: the SDK hands it batches of log records; the
 * security event records among them (see `isGuardRecord`) become wire
 * events, sized into WireBatches by bytes and delivered (or queued) through
 * the shared `Delivery`. Other records (the app's own logs, when the
 * exporter shares a processor with them) pass by untouched and are counted.
 *
 * Re-entrant: the SDK's batch processor does not cancel a timed-out export,
 * so two `export()` calls can overlap; each call keeps its state local.
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { AgentConfig } from '../config-types.js';
import { encodeEvent, DEFAULT_MAX_EVENT_BYTES } from '../models/codec.js';
import { newCodecStats, type CodecStats } from '../models/json-safe.js';
import type { FallbackQueue } from '../queue/fallback-queue.js';
import type { DropReason } from '../transport/types.js';
import { type BatchSender, Delivery, type DeliveryStats } from './delivery.js';
import { type EventMappingStats, isGuardRecord, logRecordToSecurityEvent, newEventMappingStats } from './event-mapping.js';
import { encodeGuardRecordInto } from './record-encoder.js';

/** The smallest size truncation guarantees to fit (the config's minimum maxEventBytes). */
const MIN_EVENT_CAP = 1024;

/** Told how many records (all, and guard ones) each export received; the GuardLogRecordProcessor's drop detection reads it. */
export interface ReceivedRecordsListener {
  add(total: number, guard: number): void;
}

export interface GuardExporterOptions {
  transport: BatchSender;
  /** Where undelivered batches go; null drops them (counted `queue_unavailable`). */
  queue: FallbackQueue | null;
  config: Partial<Pick<AgentConfig, 'maxEventBytes' | 'maxBodyBytes' | 'enableEvents' | 'enableMetrics'>>;
  codecStats?: CodecStats;
  /** See Delivery: deadline of one export's sends. Default 25000 ms. */
  exportTimeoutMs?: number;
  /** How long `shutdown()` waits for exports in flight before aborting and queueing them. Default 5000 ms. */
  shutdownTimeoutMs?: number;
}

export interface GuardLogRecordExporterOptions extends GuardExporterOptions {
  receivedCounter?: ReceivedRecordsListener;
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000;

export interface GuardLogRecordExporterStats {
  exportCalls: number;
  recordsReceived: number;
  guardRecords: number;
  passedThrough: number;
  eventsDelivered: number;
  eventsQueued: number;
  eventsDropped: Partial<Record<DropReason, number>>;
  inFlight: number;
  /** Attribute values of guard records that had to be dropped or coerced. */
  malformedFields: number;
  codec: CodecStats;
  delivery: DeliveryStats;
}

export class GuardLogRecordExporter implements LogRecordExporter {
  private readonly delivery: Delivery;
  private readonly transport: BatchSender;
  /** Follows updateConfig (setMaxEventBytes). */
  private maxEventBytes: number;
  private readonly enabled: boolean;
  private readonly shutdownTimeoutMs: number;
  private readonly codecStats: CodecStats;
  private readonly mappingStats: EventMappingStats = newEventMappingStats();
  private readonly receivedCounter: ReceivedRecordsListener | undefined;
  private exportCalls = 0;
  private recordsReceived = 0;
  private guardRecords = 0;
  private passedThrough = 0;

  constructor(options: GuardLogRecordExporterOptions) {
    this.delivery = new Delivery({
      transport: options.transport,
      queue: options.queue,
      exportTimeoutMs: options.exportTimeoutMs,
      maxBodyBytes: options.config.maxBodyBytes,
    });
    this.transport = options.transport;
    this.maxEventBytes = options.config.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    this.enabled = options.config.enableEvents ?? true;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    this.codecStats = options.codecStats ?? newCodecStats();
    this.receivedCounter = options.receivedCounter;
  }

  export(records: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    this.exportCalls++;
    this.recordsReceived += records.length;
    const guard: ReadableLogRecord[] = [];
    for (const rec of records) if (isGuardRecord(rec)) guard.push(rec);
    this.guardRecords += guard.length;
    this.passedThrough += records.length - guard.length;
    this.receivedCounter?.add(records.length, guard.length);

    if (this.delivery.isClosed) {
      this.delivery.drop('agent_stopped', guard.length);
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('GuardLogRecordExporter is shut down') });
      return;
    }
    if (guard.length === 0) return resultCallback({ code: ExportResultCode.SUCCESS });
    if (!this.enabled) {
      this.delivery.drop('disabled', guard.length);
      return resultCallback({ code: ExportResultCode.SUCCESS });
    }

    const items: string[] = [];
    const keys: string[] = [];
    const cap = this.eventCap();
    for (const rec of guard) {
      try {
        this.encodeInto(rec, items, keys, cap);
      } catch {
        // The mapping and codec are built not to throw; a bug there costs one counted event, not the batch.
        this.delivery.drop('encoding_error', 1);
      }
    }
    void this.delivery.deliverItems('events', items, keys).then((ok) =>
      resultCallback(ok ? { code: ExportResultCode.SUCCESS } : { code: ExportResultCode.FAILED, error: new Error('some events could be neither delivered nor queued') }),
    );
  }

  /**
   * Appends a guard record's wire JSON and idempotency key, truncated to
   * maxEventBytes and counted (truncations, markers, malformed fields) as
   * every export counts them; the fallback queue's direct writes use it too.
   * Throws only on hostile input (e.g. a throwing getter).
   */
  encodeInto(rec: ReadableLogRecord, items: string[], keys: string[], cap: number = this.eventCap()): void {
    // Records as the handler emits them take the fast path; any other goes the general way.
    if (encodeGuardRecordInto(rec, cap, items, keys)) return;
    const ev = logRecordToSecurityEvent(rec, this.mappingStats);
    items.push(encodeEvent(ev, { maxEventBytes: cap, stats: this.codecStats }));
    keys.push(ev.idempotencyKey);
  }

  /**
   * The size an event is truncated to: `maxEventBytes`, or less when one
   * event alone would not fit the transport's batch budget (the encrypted
   * route leaves about three quarters of the body cap for the plaintext), so
   * such an event is truncated and delivered instead of dropped as too large.
   * Read per export: the budget follows updateConfig (encryption, body cap).
   */
  eventCap(): number {
    const budget = this.transport.batchBudget?.('events');
    if (!budget) return this.maxEventBytes;
    return Math.max(MIN_EVENT_CAP, Math.min(this.maxEventBytes, budget.limit - budget.envelopeBytes));
  }

  /** A new `maxEventBytes` (the handler's updateConfig): events exported from now on are truncated to it. */
  setMaxEventBytes(bytes: number): void {
    this.maxEventBytes = bytes;
  }

  /** Counts events dropped on this exporter's behalf by a way around it (the fallback queue's direct writes). */
  countDropped(reason: DropReason, count: number): void {
    if (count > 0) this.delivery.drop(reason, count);
  }

  /** Resolves once every export in flight has delivered or queued its events. */
  forceFlush(): Promise<void> {
    return this.delivery.flush();
  }

  /** Refuses new exports; waits for those in flight up to `timeoutMs`, then aborts them and queues their batches. */
  shutdown(timeoutMs: number = this.shutdownTimeoutMs): Promise<void> {
    return this.delivery.shutdown(timeoutMs);
  }

  getStats(): GuardLogRecordExporterStats {
    const d = this.delivery.stats();
    return {
      exportCalls: this.exportCalls,
      recordsReceived: this.recordsReceived,
      guardRecords: this.guardRecords,
      passedThrough: this.passedThrough,
      eventsDelivered: d.delivered,
      eventsQueued: d.queued,
      eventsDropped: d.dropped,
      inFlight: d.inFlight,
      malformedFields: this.mappingStats.malformedFields,
      codec: { ...this.codecStats },
      delivery: d,
    };
  }
}
