/**
 * Emit cost: what `handler.sendEvent(event)` costs the host, against a raw
 * `logger.emit()` of the very record the handler emits
 * (`securityEventToLogRecord(ev)`), measured side by side in one run.
 *
 * Fair by construction: both sides go through a LoggerProvider into the
 * SDK's BatchLogRecordProcessor with the same settings (the pipeline's queue
 * size, export batch size, delay and timeout) and into an exporter that does
 * nothing. On the handler side that is the pipeline's own
 * GuardLogRecordExporter with `export()` replaced by a no-op (which still
 * reports what it received, as the real one does, so the handler's
 * drop-detection sees a normal queue); everything between `sendEvent` and
 * the batch processor (validation, redaction, mapping, the guard processor,
 * the forwarding exporter) is the real code.
 *
 * Each round emits BATCH events and then awaits `forceFlush()` (so the
 * no-op exports are inside the clock too, on both sides); rounds of the
 * variants are interleaved and the median ns/event is kept.
 *
 *   node --expose-gc --import tsx bench/emit-cost.ts [rounds=40]
 */
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { DevBackend } from '../src/dev-backend/index.js';
import { DEFAULT_MAX_EXPORT_BATCH_SIZE, DEFAULT_MAX_QUEUE_SIZE } from '../src/handler/guard-pipeline.js';
import { GuardAgentHandler } from '../src/handler/guard-agent-handler.js';
import { SecurityEvent } from '../src/models/index.js';
import { securityEventToLogRecord } from '../src/otel/event-mapping.js';
import { createBatchLogRecordProcessor, createLoggerProvider } from '../src/otel/sdk-compat.js';
import { makeEventInputs } from './lib/events.js';
import { type BenchResult, figure } from './lib/figures.js';
import { isMain } from './lib/main-guard.js';
import { describeSamples, interleave, median, nowNs, settle } from './lib/timing.js';

const KEY = 'bench-api-key-0123456789';
const BATCH = 4000;
const DISTINCT = 1000;
const FLUSH_INTERVAL_S = 30;

class NoopExporter implements LogRecordExporter {
  received = 0;
  export(records: ReadableLogRecord[], cb: (r: ExportResult) => void): void {
    this.received += records.length;
    cb({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
  async forceFlush(): Promise<void> {}
}

export async function main(argv: string[] = []): Promise<BenchResult> {
  const rounds = Number(argv[0] ?? 40);
  const backend = new DevBackend({ apiKeys: [KEY] });
  const { url } = await backend.start();

  const inputs = makeEventInputs(DISTINCT);
  const events = inputs.map((i) => new SecurityEvent(i));
  const records = events.map((e) => securityEventToLogRecord(e));

  // Raw side: the SDK alone, same processor settings as the pipeline's.
  const rawExporter = new NoopExporter();
  const rawProcessor = createBatchLogRecordProcessor(rawExporter, {
    maxQueueSize: DEFAULT_MAX_QUEUE_SIZE,
    maxExportBatchSize: DEFAULT_MAX_EXPORT_BATCH_SIZE,
    scheduledDelayMillis: FLUSH_INTERVAL_S * 1000,
    exportTimeoutMillis: 30_000,
  });
  const rawProvider = createLoggerProvider({ processors: [rawProcessor] });
  const rawLogger = rawProvider.getLogger('bench-raw');

  // Handler side: standalone handler, its exporter's export() made a no-op.
  const handler = new GuardAgentHandler({ apiKey: KEY, endpoint: url, flushInterval: FLUSH_INTERVAL_S }, { env: {} });
  const exporter = handler.pipeline.logExporter as unknown as {
    export: LogRecordExporter['export'];
    receivedCounter?: { add(total: number, guard: number): void };
  };
  let handlerReceived = 0;
  exporter.export = (recs, cb) => {
    handlerReceived += recs.length;
    exporter.receivedCounter?.add(recs.length, recs.length);
    cb({ code: ExportResultCode.SUCCESS });
  };
  await handler.start();

  let cursor = 0;
  const next = (): number => (cursor = cursor + 1 === DISTINCT ? 0 : cursor + 1);
  // CPU time of this process is the headline (other tenants of the box preempt
  // us, which wall time would count); wall time is kept alongside.
  const wall: Record<string, number[]> = { raw: [], handler: [], handlerPlain: [] };
  const timed = async (name: string, emitOne: (i: number) => void, flush: () => Promise<void>): Promise<number> => {
    const c0 = process.cpuUsage();
    const t0 = nowNs();
    for (let k = 0; k < BATCH; k++) emitOne(next());
    await flush();
    const t1 = nowNs();
    const c = process.cpuUsage(c0);
    wall[name].push((t1 - t0) / BATCH);
    return ((c.user + c.system) * 1000) / BATCH;
  };

  const samples = await interleave(
    [
      { name: 'raw', round: () => timed('raw', (i) => rawLogger.emit(records[i] as never), () => rawProcessor.forceFlush()) },
      { name: 'handler', round: () => timed('handler', (i) => void handler.sendEvent(events[i]), () => handler.pipeline.logProcessor.forceFlush()) },
      { name: 'handlerPlain', round: () => timed('handlerPlain', (i) => void handler.sendEvent(inputs[i]), () => handler.pipeline.logProcessor.forceFlush()) },
    ],
    { rounds, warmupRounds: 5, between: settle },
  );

  const stats = handler.getStats();
  const expected = (rounds + 5) * BATCH;
  if (rawExporter.received !== expected || handlerReceived !== 2 * expected || stats.sdk.sdkQueueDropped !== 0) {
    throw new Error(`emit-cost: records lost (raw ${rawExporter.received}, handler ${handlerReceived}, expected ${expected} / ${2 * expected}, sdk drops ${stats.sdk.sdkQueueDropped})`);
  }
  await handler.stop(2000);
  await rawProvider.shutdown();
  await backend.stop();

  // The warm-up rounds' wall samples are not part of the figures.
  for (const k of Object.keys(wall)) wall[k] = wall[k].slice(5);
  const raw = median(samples.raw);
  const h = median(samples.handler);
  const hp = median(samples.handlerPlain);
  const wallRatio = median(wall.handler) / median(wall.raw);
  console.log(`emit cost, ${rounds} interleaved rounds of ${BATCH} events (+ forceFlush), CPU ns/event, median (sorted samples):`);
  console.log(`  raw logger.emit(record)            ${describeSamples(samples.raw, 0)}`);
  console.log(`  handler.sendEvent(SecurityEvent)   ${describeSamples(samples.handler, 0)}`);
  console.log(`  handler.sendEvent(plain object)    ${describeSamples(samples.handlerPlain, 0)}`);
  console.log(`  wall ns/event: raw ${describeSamples(wall.raw, 0)}; handler ${describeSamples(wall.handler, 0)}`);
  console.log(`  ratio handler / raw = ${(h / raw).toFixed(2)}x (wall clock: ${wallRatio.toFixed(2)}x); plain-object input / raw = ${(hp / raw).toFixed(2)}x`);
  return {
    name: 'emit-cost',
    figures: [
      figure('emit.raw_ns', 'raw logger.emit (batch processor, no-op exporter)', raw, 'ns/event'),
      figure('emit.handler_ns', 'handler.sendEvent(SecurityEvent)', h, 'ns/event'),
      figure('emit.ratio', 'emit cost: sendEvent / raw emit', h / raw, 'x', { target: { op: '<=', value: 1.3 }, note: 'CPU time, median of interleaved rounds' }),
      figure('emit.ratio_wall', 'emit cost, wall clock: sendEvent / raw emit', wallRatio, 'x'),
      figure('emit.plain_ns', 'handler.sendEvent(plain object, validated)', hp, 'ns/event'),
      figure('emit.plain_ratio', 'sendEvent(plain object) / raw emit', hp / raw, 'x'),
    ],
    details: { rounds, batch: BATCH, cpuNsPerEvent: samples, wallNsPerEvent: wall },
  };
}

if (isMain(import.meta.url)) await main(process.argv.slice(2));
