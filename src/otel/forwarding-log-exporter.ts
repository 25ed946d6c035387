/**
 * Lets the guard pipeline replace its SDK batch processor (to apply a new
 * flush interval or batch size live) without shutting the shared
 * GuardLogRecordExporter down: the batch processor calls `shutdown()` on its
 * exporter, so each processor gets this forwarder, whose shutdown only waits
 * for what it forwarded. The pipeline shuts the real exporter down itself.
 *
 * `forceFlush()` waits for this forwarder's own exports only, not the shared
 * exporter's: a retired processor's flush must end once its own records are
 * delivered or queued, even while the new processor keeps a slow backend
 * busy under steady traffic (waiting for every export of the shared exporter
 * never ended then).
 */
import type { ExportResult } from '@opentelemetry/core';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';

export class ForwardingLogExporter implements LogRecordExporter {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly target: LogRecordExporter) {}

  export(records: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    this.inFlight.add(done);
    let called = false;
    const finish = (result: ExportResult): void => {
      if (called) return;
      called = true;
      this.inFlight.delete(done);
      settle();
      resultCallback(result);
    };
    try {
      this.target.export(records, finish);
    } catch (err) {
      finish({ code: 1, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }

  /** Resolves once every export this forwarder handed on has called back. */
  async forceFlush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
  }
}
