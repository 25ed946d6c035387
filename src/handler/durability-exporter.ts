/**
 * Sits between the SDK batch processor and the guard log exporter in
 * `durability: 'emit'` mode: once an export reports success (every event of
 * it delivered or safely in the fallback queue), the events' journal entries
 * are settled. A failed export leaves them journaled: the next replay sends
 * them again (a duplicate the backend drops), never a loss.
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { EVENT_ATTRIBUTES } from '../otel/event-mapping.js';
import type { DurabilityJournal } from './durability-journal.js';

export class JournalSettlingExporter implements LogRecordExporter {
  /** Set when the journal exists (Redis configured and durability 'emit'); until then this forwards only. */
  journal: DurabilityJournal | null = null;

  constructor(private readonly target: LogRecordExporter) {}

  export(records: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    const journal = this.journal;
    if (!journal) return this.target.export(records, resultCallback);
    const keys: string[] = [];
    for (const rec of records) {
      const key = rec.attributes?.[EVENT_ATTRIBUTES.idempotencyKey];
      if (typeof key === 'string') keys.push(key);
    }
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
}
