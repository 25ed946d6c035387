/**
 * Sits between the SDK batch processor and the guard log exporter, for two
 * jobs of "nothing lost":
 *
 * - `durability: 'emit'`: once an export reports success (every event of it
 *   delivered or safely in the fallback queue), the events' journal entries
 *   are settled. A failed export leaves them journaled: the next replay sends
 *   them again (a duplicate the backend drops), never a loss.
 * - at the stop deadline (`divertToQueue()`): the SDK processor still holds
 *   records it has not exported yet (a slow backend kept its forceFlush
 *   busy), and its own shutdown exports them after the guard exporter has
 *   closed, which would drop them. From then on exports skip the network and
 *   go straight into the fallback queue, so a SIGTERM loses nothing.
 * - records the SDK processor refused because its queue was full
 *   (`queueRefused()`, fed by the GuardLogRecordProcessor's probe) go straight
 *   into the fallback queue the same way, and their journal entries settle.
 */
import { diag } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { encodeEvent } from '../models/codec.js';
import { EVENT_ATTRIBUTES, isGuardRecord, logRecordToSecurityEvent } from '../otel/event-mapping.js';
import type { FallbackQueue } from '../queue/fallback-queue.js';
import { buildBatches } from '../transport/batch-builder.js';
import type { DurabilityJournal } from './durability-journal.js';

export interface DivertOptions {
  queue: FallbackQueue;
  maxEventBytes: number;
  /** Body cap the queued batches are sized to (envelope included). */
  maxBatchBytes: number;
  /** Bytes of that cap the envelope takes (the transport's measure; default batch-builder's reserve). */
  envelopeBytes?: number;
  maxBatchItems: number;
}

export class JournalSettlingExporter implements LogRecordExporter {
  /** Set when the journal exists (Redis configured and durability 'emit'); until then this forwards only. */
  journal: DurabilityJournal | null = null;
  private divert: DivertOptions | null = null;
  /** Events queued directly after the stop deadline. */
  diverted = 0;
  /** Events the SDK processor refused (queue full), queued directly. */
  refusedQueued = 0;
  /** Events the SDK processor refused that could not be queued either: lost. */
  refusedLost = 0;

  constructor(private readonly target: LogRecordExporter) {}

  /** From now on, exports go to the queue instead of the network (the stop deadline has passed). */
  divertToQueue(options: DivertOptions): void {
    this.divert = options;
  }

  export(records: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    if (this.divert) {
      void this.queueDirectly(records, this.divert).then((r) => {
        this.diverted += r.queued;
        resultCallback(r.error ? { code: ExportResultCode.FAILED, error: r.error } : { code: ExportResultCode.SUCCESS });
      });
      return;
    }
    const journal = this.journal;
    if (!journal) return this.target.export(records, resultCallback);
    const keys = journalKeys(records);
    this.target.export(records, (result) => {
      if (result.code === ExportResultCode.SUCCESS) journal.settle(keys);
      resultCallback(result);
    });
  }

  async forceFlush(): Promise<void> {
    await this.target.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    await this.target.shutdown();
  }

  /** Queues guard records the SDK processor refused (its queue was full), skipping the network. Never rejects. */
  async queueRefused(records: ReadableLogRecord[], d: DivertOptions): Promise<void> {
    this.countRefused(await this.queueDirectly(records, d), 'refused by the full SDK queue');
  }

  /**
   * Queues already-encoded events (held past the pre-start cap, they never
   * reached the SDK), skipping the network. Counted with the SDK's refusals.
   */
  async queueEncoded(items: string[], keys: string[], d: DivertOptions): Promise<void> {
    this.countRefused(await this.enqueueItems(items, keys, d), 'held for NodeSDK past the cap');
  }

  private countRefused(r: { queued: number; unqueued: number; error?: Error }, what: string): void {
    this.refusedQueued += r.queued;
    if (!r.error) return;
    this.refusedLost += r.unqueued;
    diag.error(`guard-agent: ${r.unqueued} event(s) ${what} could not be queued either: ${r.error.message}`);
  }

  /** How many events went into the queue, and (on a queue error) how many did not. */
  private async queueDirectly(records: ReadableLogRecord[], d: DivertOptions): Promise<{ queued: number; unqueued: number; error?: Error }> {
    const items: string[] = [];
    const keys: string[] = [];
    for (const rec of records) {
      if (!isGuardRecord(rec)) continue;
      try {
        const ev = logRecordToSecurityEvent(rec);
        items.push(encodeEvent(ev, { maxEventBytes: d.maxEventBytes }));
        keys.push(ev.idempotencyKey);
      } catch (err) {
        diag.error(`guard-agent: could not encode a security event for the fallback queue: ${(err as Error).message}`);
      }
    }
    return this.enqueueItems(items, keys, d);
  }

  private async enqueueItems(items: string[], keys: string[], d: DivertOptions): Promise<{ queued: number; unqueued: number; error?: Error }> {
    let queued = 0;
    try {
      // Sized like live batches (bytes, then items), with protocol batch ids.
      const batches = buildBatches('events', items, keys, d.maxBatchBytes, Date.now(), {
        maxItems: d.maxBatchItems,
        ...(d.envelopeBytes !== undefined ? { envelopeBytes: d.envelopeBytes } : {}),
        onTooLarge: (n) => diag.error(`guard-agent: ${n} event(s) larger than the body cap on their own could not be queued`),
      });
      for (const batch of batches) {
        await d.queue.enqueue(batch);
        queued += batch.items.length;
        // Settled batch by batch: what the queue took needs no journal entry any more.
        this.journal?.settle(batch.idempotencyKeys);
      }
      return { queued, unqueued: 0 };
    } catch (err) {
      return { queued, unqueued: items.length - queued, error: err instanceof Error ? err : new Error(String(err)) };
    }
  }
}

function journalKeys(records: ReadableLogRecord[]): string[] {
  const keys: string[] = [];
  for (const rec of records) {
    const key = rec.attributes?.[EVENT_ATTRIBUTES.idempotencyKey];
    if (typeof key === 'string') keys.push(key);
  }
  return keys;
}
