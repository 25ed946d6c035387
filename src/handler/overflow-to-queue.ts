/**
 * OverflowToQueue: events that did not fit an in-memory queue go to the
 * fallback queue instead of being lost, and the drainer delivers them.
 *
 * Three sources:
 * - guard records the SDK batch processor refused because its queue was full
 *   (seen by the GuardLogRecordProcessor's QueueFullProbe);
 * - events the handler held for NodeSDK past its cap (the SDK never saw them),
 *   already encoded;
 * - metric samples held for NodeSDK past the same cap, encoded one record per
 *   sample (the wire form the Python agent sends; the SDK never aggregated
 *   them), queued as metrics batches.
 *
 * Both are coalesced: held at most one tick, then written in one go, so a
 * burst is queued once per tick, not record by record. Writes run one
 * at a time, in order. Nothing is taken once `close()` was called (the
 * caller then counts the event lost); `write()` empties what was taken.
 */
import { diag } from '@opentelemetry/api';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { DivertOptions, JournalSettlingExporter } from './durability-exporter.js';

export interface OverflowStats {
  /** Queued instead of lost. */
  queued: number;
  /** The fallback queue refused them too: lost, counted. */
  lost: number;
  /** Taken, not written yet. */
  pending: number;
}

export class OverflowToQueue {
  private records: ReadableLogRecord[] = [];
  private items: string[] = [];
  private keys: string[] = [];
  private metricItems: string[] = [];
  private writing: Promise<void> = Promise.resolve();
  private scheduled = false;
  private closed = false;

  /**
   * @param exporter writes to the queue and settles journal entries.
   * @param options the queue and batch sizing, read at each write (the transport's budget can change).
   * @param queueMetrics puts encoded metric records into the fallback queue, counting what it keeps and what it cannot.
   */
  constructor(
    private readonly exporter: JournalSettlingExporter,
    private readonly options: () => DivertOptions,
    private readonly queueMetrics: (items: string[]) => Promise<unknown>,
  ) {}

  /** A guard record the SDK queue refused. False once closed. */
  takeRecord(record: ReadableLogRecord): boolean {
    if (this.closed) return false;
    this.records.push(record);
    this.schedule();
    return true;
  }

  /** An event's wire JSON and idempotency key. False once closed. */
  takeEncoded(json: string, idempotencyKey: string): boolean {
    if (this.closed) return false;
    this.items.push(json);
    this.keys.push(idempotencyKey);
    this.schedule();
    return true;
  }

  /** A metric sample's wire JSON. False once closed. */
  takeEncodedMetric(json: string): boolean {
    if (this.closed) return false;
    this.metricItems.push(json);
    this.schedule();
    return true;
  }

  /** Writes what was taken so far, after any write in progress. Never rejects. */
  write(): Promise<void> {
    this.writing = this.writing
      .then(async () => {
        const records = this.records;
        const items = this.items;
        const keys = this.keys;
        const metricItems = this.metricItems;
        this.records = [];
        this.items = [];
        this.keys = [];
        this.metricItems = [];
        if (items.length > 0) await this.exporter.queueEncoded(items, keys, this.options());
        if (records.length > 0) await this.exporter.queueRefused(records, this.options());
        if (metricItems.length > 0) await this.queueMetrics(metricItems);
      })
      .catch((err: unknown) => {
        // The exporter's queueing never rejects; if it ever did, the next write must still run.
        diag.error('guard-agent: queueing overflowed events failed unexpectedly', err);
      });
    return this.writing;
  }

  /** Takes nothing more; what was taken is written by the next `write()`. */
  close(): void {
    this.closed = true;
  }

  stats(): OverflowStats {
    return { queued: this.exporter.refusedQueued, lost: this.exporter.refusedLost, pending: this.records.length + this.items.length + this.metricItems.length };
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.write();
    });
  }
}
