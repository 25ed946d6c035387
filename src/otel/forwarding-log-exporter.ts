/**
 * Lets the guard pipeline replace its SDK batch processor (to apply a new
 * flush interval or batch size live) without shutting the shared
 * GuardLogRecordExporter down: the batch processor calls `shutdown()` on its
 * exporter, so each processor gets this forwarder, whose shutdown only waits
 * for what it forwarded. The pipeline shuts the real exporter down itself.
 */
import type { ExportResult } from '@opentelemetry/core';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';

export class ForwardingLogExporter implements LogRecordExporter {
  constructor(private readonly target: LogRecordExporter) {}

  export(records: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    this.target.export(records, resultCallback);
  }

  async forceFlush(): Promise<void> {
    await this.target.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
  }
}
