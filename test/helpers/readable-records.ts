import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { SecurityEvent } from '../../src/models/index.js';
import { securityEventToLogRecord } from '../../src/otel/event-mapping.js';

/** The ReadableLogRecords a real SDK makes of `events`, to hand to an exporter's `export()` directly. */
export async function readableRecords(events: SecurityEvent[]): Promise<ReadableLogRecord[]> {
  const mem = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: mem })] });
  for (const ev of events) provider.getLogger('t').emit(securityEventToLogRecord(ev));
  await provider.forceFlush();
  const out = mem.getFinishedLogRecords();
  await provider.shutdown();
  return out;
}
