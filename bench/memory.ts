/**
 * Memory and wire size.
 *
 * Memory: 100,000 events sent through a standalone GuardAgentHandler much
 * faster than they can be exported (the DevBackend answers every request
 * after a `delay` fault), so they are all in flight at once: in the SDK
 * batch processor's queue (maxQueueSize raised to hold them) and the
 * exports under way. Peak RSS and heap are sampled while they are sent;
 * then a full GC, and the heap still used over the post-GC baseline,
 * divided by the events in flight, is what each one holds. The baseline:
 * the same records, built from the same inputs, emitted by a bare SDK
 * logger into a batch processor whose exporter never answers (what the OTel
 * SDK alone costs to hold them), measured after in the same process.
 *
 * Wire size: once the delay is lifted and everything is delivered, bytes
 * on the wire per event (gzip on, the default) are the transport's
 * `bytesSent` over the events delivered; the uncompressed JSON per event is
 * the dev backend's decoded body bytes over the events it received.
 *
 *   node --expose-gc --import tsx bench/memory.ts [events=100000]
 */
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ExportResult } from '@opentelemetry/core';
import { DevBackend } from '../src/dev-backend/index.js';
import { GuardAgentHandler } from '../src/handler/guard-agent-handler.js';
import { SecurityEvent } from '../src/models/index.js';
import { securityEventToLogRecord } from '../src/otel/event-mapping.js';
import { createBatchLogRecordProcessor, createLoggerProvider } from '../src/otel/sdk-compat.js';
import { makeEventInputs } from './lib/events.js';
import { type BenchResult, figure } from './lib/figures.js';
import { isMain } from './lib/main-guard.js';
import { settle, until } from './lib/timing.js';

const KEY = 'bench-api-key-0123456789';
const CHUNK = 1000;
const MB = 1024 * 1024;
/** Every request waits this long while the events are sent: the batch processor exports one batch at a time, so a few hundred events leave per delay. */
const DELAY_MS = 2000;

interface Peak {
  rss: number;
  heapUsed: number;
}

function sample(peak: Peak): void {
  const m = process.memoryUsage();
  if (m.rss > peak.rss) peak.rss = m.rss;
  if (m.heapUsed > peak.heapUsed) peak.heapUsed = m.heapUsed;
}

async function baseline(): Promise<Peak> {
  await settle();
  await settle();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed };
}

/** An exporter that holds every export until released: the SDK keeps the records. */
class StalledExporter implements LogRecordExporter {
  private pending: Array<() => void> = [];
  private released = false;
  export(_records: ReadableLogRecord[], cb: (r: ExportResult) => void): void {
    if (this.released) cb({ code: 0 });
    else this.pending.push(() => cb({ code: 0 }));
  }
  /** Answers the exports held and every later one at once. */
  release(): void {
    this.released = true;
    for (const p of this.pending.splice(0)) p();
  }
  async shutdown(): Promise<void> {
    this.release();
  }
  async forceFlush(): Promise<void> {}
}

export async function main(argv: string[] = []): Promise<BenchResult> {
  const n = Number(argv[0] ?? 100_000);
  if (!(globalThis as { gc?: unknown }).gc) console.log('(run with --expose-gc for stable baselines)');
  const backend = new DevBackend({ apiKeys: [KEY] });
  const { url } = await backend.start();
  // Inputs are built before the baseline, as the app's own objects would be.
  const inputs = makeEventInputs(n, 11);

  // ---- ours: the handler, backend slowed --------------------------------
  backend.faults.push({ kind: 'delay', ms: DELAY_MS, times: Infinity });
  const handler = new GuardAgentHandler(
    { apiKey: KEY, endpoint: url, maxQueueSize: 131_072, rateLimit: { maxCalls: 1_000_000, windowMs: 60_000 }, timeout: 30 },
    { env: {} },
  );
  await handler.start();
  const base = await baseline();
  const peak: Peak = { ...base };
  const t0 = Date.now();
  for (let i = 0; i < n; i += CHUNK) {
    for (let k = i; k < Math.min(n, i + CHUNK); k++) void handler.sendEvent(inputs[k]);
    sample(peak);
    await new Promise((r) => setImmediate(r));
  }
  const emitMs = Date.now() - t0;
  sample(peak);
  // What stays reachable while the events are in flight (garbage of the sending collected).
  const held = (await baseline()).heapUsed - base.heapUsed;
  const stats = handler.getStats();
  const inFlight = stats.eventsAccepted - stats.eventsSent;
  const sdkDropped = stats.dropped.sdkQueue;

  // Lift the delay and deliver everything (the request already waiting finishes its delay).
  backend.faults.clear();
  const t1 = Date.now();
  const progress = setInterval(() => {
    const st = handler.getStats();
    console.log(`  ... ${((Date.now() - t1) / 1000).toFixed(0)} s: backend ${backend.stats.eventsReceived}, sent ${st.eventsSent}, queued ${st.itemsQueued}, drops ${JSON.stringify(st.dropped)}, transport ${JSON.stringify({ r: st.transport.requestsSent, f: st.transport.requestsFailed, b: st.transport.breakerState })}`);
  }, 5000);
  progress.unref();
  await handler.flushBuffer(180_000);
  await until(() => backend.stats.eventsReceived - backend.stats.duplicateEvents >= n - sdkDropped, 180_000, 'all events at the backend', 50);
  clearInterval(progress);
  const deliverMs = Date.now() - t1;
  const tr = handler.getStats().transport;
  const eventBatches = backend.batches.filter((b) => b.path === '/api/v1/events' && b.status === 200);
  const decoded = eventBatches.reduce((s, b) => s + b.decodedBytes, 0);
  const raw = eventBatches.reduce((s, b) => s + b.rawBytes, 0);
  const received = backend.stats.eventsReceived;
  const wireGzip = tr.bytesSent / tr.itemsDelivered;
  await handler.stop(5000);

  // ---- baseline: the bare SDK holding the same records ------------------
  const stalled = new StalledExporter();
  const processor = createBatchLogRecordProcessor(stalled, { maxQueueSize: 131_072, maxExportBatchSize: 512, scheduledDelayMillis: 30_000 });
  const provider = createLoggerProvider({ processors: [processor] });
  const logger = provider.getLogger('bench-memory');
  const base2 = await baseline();
  const peak2: Peak = { ...base2 };
  for (let i = 0; i < n; i += CHUNK) {
    // The same records, built from the same inputs the way a bare-SDK user would.
    for (let k = i; k < Math.min(n, i + CHUNK); k++) logger.emit(securityEventToLogRecord(new SecurityEvent(inputs[k])) as never);
    sample(peak2);
    await new Promise((r) => setImmediate(r));
  }
  sample(peak2);
  const held2 = (await baseline()).heapUsed - base2.heapUsed;
  stalled.release();
  await provider.shutdown();
  await backend.stop();

  const perEvent = held / n;
  const perEventSdk = held2 / n;
  console.log(`memory, ${n} events sent in ${emitMs} ms against a backend answering after ${DELAY_MS / 1000} s (in flight after sending: ${inFlight}, SDK queue drops ${sdkDropped}):`);
  console.log(`  handler: peak RSS ${(peak.rss / MB).toFixed(1)} MB (+${((peak.rss - base.rss) / MB).toFixed(1)}), peak heap ${(peak.heapUsed / MB).toFixed(1)} MB (+${((peak.heapUsed - base.heapUsed) / MB).toFixed(1)}); held after GC +${(held / MB).toFixed(1)} MB = ${perEvent.toFixed(0)} bytes per event in flight`);
  console.log(`  bare SDK emitting the same records into a stalled exporter: peak heap +${((peak2.heapUsed - base2.heapUsed) / MB).toFixed(1)} MB, held after GC +${(held2 / MB).toFixed(1)} MB = ${perEventSdk.toFixed(0)} bytes per record; handler / SDK = ${(perEvent / perEventSdk).toFixed(2)}x`);
  console.log(`  delivered ${received} events (${backend.stats.duplicateEvents} duplicates) in ${deliverMs} ms after the delay was lifted; ${eventBatches.length} accepted POSTs`);
  console.log(`  wire: ${wireGzip.toFixed(1)} bytes/event gzip (transport bytesSent ${tr.bytesSent} / ${tr.itemsDelivered}; backend saw ${(raw / received).toFixed(1)}), uncompressed JSON ${(decoded / received).toFixed(1)} bytes/event (${((100 * raw) / decoded).toFixed(1)}% after gzip)`);
  return {
    name: 'memory',
    figures: [
      figure('memory.peak_rss_mb', `peak RSS with ${n} events in flight`, peak.rss / MB, 'MB'),
      figure('memory.peak_heap_mb', `peak heap with ${n} events in flight`, peak.heapUsed / MB, 'MB'),
      figure('memory.held_per_event', 'heap held per event in flight (after GC)', perEvent, 'bytes'),
      figure('memory.held_per_event_sdk', 'heap held per record, bare SDK (after GC)', perEventSdk, 'bytes'),
      figure('memory.held_ratio', 'heap held per event: handler / bare SDK', perEvent / perEventSdk, 'x'),
      figure('wire.gzip_bytes_per_event', 'wire bytes per event (gzip, bytesSent / delivered)', wireGzip, 'bytes'),
      figure('wire.json_bytes_per_event', 'uncompressed JSON bytes per event', decoded / received, 'bytes'),
    ],
    details: { events: n, emitMs, deliverMs, inFlight, sdkDropped, base, peak, held, baseSdk: base2, peakSdk: peak2, heldSdk: held2, transport: tr, duplicates: backend.stats.duplicateEvents },
  };
}

if (isMain(import.meta.url)) await main(process.argv.slice(2));
