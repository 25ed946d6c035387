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
 *
 * What these direct ways cannot queue (an event that does not encode, one
 * larger than the body cap on its own, a diverted export the queue refused)
 * is counted in the guard log exporter's dropped stats, under the reason the
 * live path uses, so every accepted event is delivered, queued or counted.
 */
import { diag } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { EVENT_ATTRIBUTES, isGuardRecord } from '../otel/event-mapping.js';
import type { FallbackQueue } from '../queue/fallback-queue.js';
import { buildBatches } from '../transport/batch-builder.js';
import type { DropReason } from '../transport/types.js';
import type { DurabilityJournal } from './durability-journal.js';

export interface DivertOptions {
  queue: FallbackQueue;
  /** Body cap the queued batches are sized to (envelope included). */
  maxBatchBytes: number;
  /** Bytes of that cap the envelope takes (the transport's measure; default batch-builder's reserve). */
  envelopeBytes?: number;
  maxBatchItems: number;
}

/** What the direct ways need of the GuardLogRecordExporter: its encoding (truncation and counts included) and its dropped stats. */
export interface GuardRecordEncoder {
  encodeInto(rec: ReadableLogRecord, items: string[], keys: string[], cap?: number): void;
  /** The size an event is truncated to now (read once per write, not per record). */
  eventCap(): number;
  countDropped(reason: DropReason, count: number): void;
}

/** What one direct write did: queued, not queued because the queue failed (with its error), dropped and counted. */
interface DirectResult {
  queued: number;
  unqueued: number;
  error?: Error;
}

export class JournalSettlingExporter implements LogRecordExporter {
  /** Set when the journal exists (Redis configured and durability 'emit'); until then this forwards only. */
  journal: DurabilityJournal | null = null;
  private divert: DivertOptions | null = null;
  /** Events queued directly after the stop deadline. */
  diverted = 0;
  /** Events the SDK processor refused (queue full), queued directly. */
  refusedQueued = 0;
  /** Events the SDK processor refused that the queue refused too (it failed): lost. */
  refusedLost = 0;

  constructor(private readonly target: LogRecordExporter & GuardRecordEncoder) {}

  /** From now on, exports go to the queue instead of the network (the stop deadline has passed). */
  divertToQueue(options: DivertOptions): void {
    this.divert = options;
  }

  export(records: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    if (this.divert) {
      void this.queueDirectly(records, this.divert).then((r) => {
        this.diverted += r.queued;
        // The SDK does not retry a failed export: these are lost.
        if (r.error) {
          this.target.countDropped('queue_unavailable', r.unqueued);
          diag.error(`guard-agent: ${r.unqueued} event(s) diverted to the fallback queue at the stop deadline could not be queued: ${r.error.message}`);
        }
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

  private countRefused(r: DirectResult, what: string): void {
    this.refusedQueued += r.queued;
    if (!r.error) return;
    this.refusedLost += r.unqueued;
    diag.error(`guard-agent: ${r.unqueued} event(s) ${what} could not be queued either: ${r.error.message}`);
  }

  /** How many events went into the queue, and (on a queue error) how many did not. */
  private async queueDirectly(records: ReadableLogRecord[], d: DivertOptions): Promise<DirectResult> {
    const items: string[] = [];
    const keys: string[] = [];
    const cap = this.target.eventCap();
    for (const rec of records) {
      if (!isGuardRecord(rec)) continue;
      try {
        // Encoded as a live export encodes it: an event over maxEventBytes is truncated (and counted), not lost.
        this.target.encodeInto(rec, items, keys, cap);
      } catch (err) {
        this.target.countDropped('encoding_error', 1);
        diag.error(`guard-agent: could not encode a security event for the fallback queue; dropped: ${(err as Error).message}`);
      }
    }
    return this.enqueueItems(items, keys, d);
  }

  private async enqueueItems(items: string[], keys: string[], d: DivertOptions): Promise<DirectResult> {
    let queued = 0;
    let tooLarge = 0;
    try {
      // Sized like live batches (bytes, then items), with protocol batch ids.
      const batches = buildBatches('events', items, keys, d.maxBatchBytes, Date.now(), {
        maxItems: d.maxBatchItems,
        ...(d.envelopeBytes !== undefined ? { envelopeBytes: d.envelopeBytes } : {}),
        onTooLarge: (n) => {
          // Events are truncated to maxEventBytes; only a cap near maxBodyBytes (or the smaller encrypted budget) leaves one too large.
          tooLarge = n;
          this.target.countDropped('too_large', n);
          diag.error(`guard-agent: ${n} event(s) larger than the body cap on their own could not be queued; dropped`);
        },
      });
      for (const batch of batches) {
        await d.queue.enqueue(batch);
        queued += batch.items.length;
        // Settled batch by batch: what the queue took needs no journal entry any more.
        this.journal?.settle(batch.idempotencyKeys);
      }
      return { queued, unqueued: 0 };
    } catch (err) {
      return { queued, unqueued: items.length - tooLarge - queued, error: err instanceof Error ? err : new Error(String(err)) };
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
