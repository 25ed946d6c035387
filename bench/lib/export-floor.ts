/**
 * The floor of the export path for any exporter that sends gzipped JSON
 * behind the SDK's batch processor: what has to happen on the host before a
 * single byte reaches the network. Measured on the records as the SDK hands
 * them to an exporter (emitted through a LoggerProvider): our fast-path
 * encoding of each record, the batch bodies written as bytes, and a
 * synchronous gzip level 1 of each body. No HTTP, no backend.
 */
import { gzipSync } from 'node:zlib';
import { context, trace } from '@opentelemetry/api';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { encodeBatchBody, encodeBatchBodyBytes } from '../../src/models/codec.js';
import type { BatchEnvelope } from '../../src/models/event-batch.js';
import type { GuardLogRecord } from '../../src/otel/event-mapping.js';
import { encodeGuardRecordInto } from '../../src/otel/record-encoder.js';
import { createBatchLogRecordProcessor, createLoggerProvider } from '../../src/otel/sdk-compat.js';
import { GZIP_LEVEL } from '../../src/transport/compression.js';
import { buildBatches } from '../../src/transport/batch-builder.js';
import { median, nowNs } from './timing.js';

/** The records as an exporter receives them; with `inSpan`, emitted inside a sampled span (as in an instrumented request). */
async function exportedRecords(records: GuardLogRecord[], inSpan = false): Promise<ReadableLogRecord[]> {
  const got: ReadableLogRecord[] = [];
  const capture: LogRecordExporter = {
    export: (batch, done) => {
      got.push(...batch);
      done({ code: 0 });
    },
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
  };
  const processor = createBatchLogRecordProcessor(capture, { maxQueueSize: records.length + 1, maxExportBatchSize: 512, scheduledDelayMillis: 60_000 });
  const provider = createLoggerProvider({ processors: [processor] });
  const logger = provider.getLogger('bench-export-floor');
  const ctx = inSpan ? trace.setSpanContext(context.active(), { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 }) : undefined;
  for (const r of records) logger.emit((ctx ? { ...r, context: ctx } : r) as never);
  await provider.forceFlush();
  await provider.shutdown();
  return got;
}

/** Median µs per event of encode + body + gzip over `rounds` passes. */
export async function encodeAndGzipUs(records: GuardLogRecord[], rounds = 3): Promise<number> {
  const exported = await exportedRecords(records);
  const samples: number[] = [];
  for (let r = 0; r < rounds + 1; r++) {
    const t0 = nowNs();
    const items: string[] = [];
    const keys: string[] = [];
    for (const rec of exported) encodeGuardRecordInto(rec, 65_536, items, keys);
    for (const b of buildBatches('events', items, keys)) {
      const body = encodeBatchBodyBytes({ projectId: 'bench', kind: 'events', items: b.items, batchId: b.batchId, createdAt: b.createdAt, agentVersion: 'bench', guardVersion: null, guardCoreVersion: null });
      gzipSync(body, { level: GZIP_LEVEL });
    }
    if (items.length !== exported.length) throw new Error(`export floor: ${exported.length - items.length} record(s) left the fast path`);
    if (r > 0) samples.push((nowNs() - t0) / 1000 / exported.length);
  }
  return median(samples);
}

/**
 * The batch body two ways, on the same encoded records: joined into one
 * string and encoded (`Buffer.from(encodeBatchBody(b))`, the way before) and
 * written item by item into one buffer (`encodeBatchBodyBytes`, the way now).
 * Median µs per event of each over `rounds` passes, interleaved.
 */
export async function bodyBuildUs(records: GuardLogRecord[], rounds = 5): Promise<{ joined: number; written: number }> {
  const exported = await exportedRecords(records);
  const items: string[] = [];
  const keys: string[] = [];
  for (const rec of exported) encodeGuardRecordInto(rec, 65_536, items, keys);
  const envelopes: BatchEnvelope[] = buildBatches('events', items, keys).map((b) => ({
    projectId: 'bench', kind: 'events', items: b.items, batchId: b.batchId, createdAt: b.createdAt, agentVersion: 'bench', guardVersion: null, guardCoreVersion: null,
  }));
  const time = (build: (b: BatchEnvelope) => Buffer): number => {
    const t0 = nowNs();
    let bytes = 0;
    for (const b of envelopes) bytes += build(b).length;
    if (bytes === 0) throw new Error('body build: nothing built');
    return (nowNs() - t0) / 1000 / items.length;
  };
  const joined: number[] = [];
  const written: number[] = [];
  for (let r = 0; r < rounds + 1; r++) {
    const j = time((b) => Buffer.from(encodeBatchBody(b), 'utf8'));
    const w = time((b) => encodeBatchBodyBytes(b));
    if (r > 0) {
      joined.push(j);
      written.push(w);
    }
  }
  return { joined: median(joined), written: median(written) };
}

/**
 * The fast-path encoding alone, median µs per event: records emitted outside
 * a span, and the same records emitted inside one (their metadata then gains
 * `trace_id` and `span_id`, which costs a copy of the metadata map).
 */
export async function encodeUs(records: GuardLogRecord[], rounds = 5): Promise<{ plain: number; inSpan: number }> {
  const sets = { plain: await exportedRecords(records), inSpan: await exportedRecords(records, true) };
  const samples: { plain: number[]; inSpan: number[] } = { plain: [], inSpan: [] };
  for (let r = 0; r < rounds + 1; r++) {
    for (const k of ['plain', 'inSpan'] as const) {
      const items: string[] = [];
      const t0 = nowNs();
      for (const rec of sets[k]) encodeGuardRecordInto(rec, 65_536, items, []);
      const us = (nowNs() - t0) / 1000 / sets[k].length;
      if (items.length !== sets[k].length) throw new Error(`encode: ${sets[k].length - items.length} record(s) left the fast path`);
      if (r > 0) samples[k].push(us);
    }
  }
  return { plain: median(samples.plain), inSpan: median(samples.inSpan) };
}
