/**
 * Export path: N security events from `logger.emit()` until the backend has
 * them all, through our exporter and through the stock OTLP/HTTP JSON log
 * exporter, in the same run.
 *
 *  - ours: LoggerProvider -> BatchLogRecordProcessor -> GuardLogRecordExporter
 *    -> HTTPTransport (default config: gzip level 1) -> DevBackend (a real
 *    guard backend: gunzip, validation, dedup, storage);
 *  - OTLP: the same records -> BatchLogRecordProcessor (same settings) ->
 *    OTLPLogExporter (its default: JSON, no compression) -> OtlpReceiver (a
 *    real receiver: JSON decode of every record).
 *
 * Both are measured again against one minimal loopback sink (a node:http
 * server that only reads the body), which isolates the client side. Last,
 * the floor of any gzipped-JSON exporter is measured on the same records:
 * the emit loop plus encoding and gzip with no network (lib/export-floor.ts). The
 * clock runs from the first emit until `forceFlush()` resolves, which the
 * batch processor does only once every export has called back, i.e. once
 * the server has answered for every record; the counts are checked after.
 * Rounds of the variants are interleaved; the median µs/event is kept.
 *
 * Headline (the target, ours <= 1/3 of OTLP): each exporter with its
 * defaults, i.e. ours gzips (level 1) and OTLP sends plain JSON; `vs OTLP gzip`
 * is printed alongside as the like-for-like figure. Both sides share the
 * processor settings below and flush the same way. Note that the SDK's
 * `forceFlush()` exports the queued batches strictly one after the other
 * (it awaits each export, then the exporter's own forceFlush), so neither
 * exporter overlaps requests here; an exporter acknowledging early would
 * gain nothing, as its forceFlush must still wait for every send.
 *
 *   node --expose-gc --import tsx bench/export-path.ts [events=20000] [rounds=3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { DEFAULT_CONFIG } from '../src/config.js';
import type { AgentConfig } from '../src/config-types.js';
import { DevBackend } from '../src/dev-backend/index.js';
import { SecurityEvent } from '../src/models/index.js';
import { securityEventToLogRecord, type GuardLogRecord } from '../src/otel/event-mapping.js';
import { GuardLogRecordExporter } from '../src/otel/guard-log-exporter.js';
import { createBatchLogRecordProcessor, createLoggerProvider } from '../src/otel/sdk-compat.js';
import { OtlpReceiver } from '../src/otlp-receiver/index.js';
import { HTTPTransport } from '../src/transport/http-transport.js';
import { makeEventInputs } from './lib/events.js';
import { bodyBuildUs, encodeAndGzipUs, encodeUs } from './lib/export-floor.js';
import { type BenchResult, figure } from './lib/figures.js';
import { isMain } from './lib/main-guard.js';
import { MinimalSink } from './lib/sink.js';
import { describeSamples, interleave, median, nowNs, settle } from './lib/timing.js';

const KEY = 'bench-api-key-0123456789';

interface Pipeline {
  /** Emits every record, flushes, and returns µs per event (wall clock), total and of the emit loop alone. */
  run(records: GuardLogRecord[]): Promise<{ total: number; emit: number }>;
  /** How many records the far end has after the last run (or -1 when it cannot tell). */
  received(): number;
  reset(): void;
  close(): Promise<void>;
}

function pipeline(exporter: LogRecordExporter, n: number, received: () => number, reset: () => void): Pipeline {
  const processor = createBatchLogRecordProcessor(exporter, {
    maxQueueSize: Math.max(2048, n),
    maxExportBatchSize: 512,
    scheduledDelayMillis: 1000,
    exportTimeoutMillis: 30_000,
  });
  const provider = createLoggerProvider({ processors: [processor] });
  const logger = provider.getLogger('bench-export-path');
  return {
    async run(records) {
      const t0 = nowNs();
      // Synchronous: the first export starts only after the loop, so this part is the emit alone.
      for (const r of records) logger.emit(r as never);
      const t1 = nowNs();
      await processor.forceFlush();
      const per = (ns: number): number => ns / 1000 / records.length;
      return { total: per(nowNs() - t0), emit: per(t1 - t0) };
    },
    received,
    reset,
    close: () => provider.shutdown(),
  };
}

export async function main(argv: string[] = []): Promise<BenchResult> {
  const n = Number(argv[0] ?? 20_000);
  const rounds = Number(argv[1] ?? 3);
  const home = mkdtempSync(join(tmpdir(), 'bench-export-'));
  const backend = new DevBackend({ apiKeys: [KEY] });
  const receiver = new OtlpReceiver();
  const sink = new MinimalSink();
  const backendUrl = (await backend.start()).url;
  const receiverUrl = (await receiver.start()).url;
  const sinkUrl = await sink.start();

  const records = makeEventInputs(n, 7).map((i) => securityEventToLogRecord(new SecurityEvent(i)));
  // The client-side rate limit is raised: the bench sends ~80 requests per round.
  const config = (endpoint: string): AgentConfig => ({ ...DEFAULT_CONFIG, apiKey: KEY, endpoint, rateLimit: { maxCalls: 1_000_000, windowMs: 60_000 } });
  const transports: HTTPTransport[] = [];
  const guardExporter = (endpoint: string): GuardLogRecordExporter => {
    const transport = new HTTPTransport(config(endpoint), { installIdHomeDir: home });
    transports.push(transport);
    return new GuardLogRecordExporter({ transport, queue: null, config: config(endpoint) });
  };
  const oursBackendExporter = guardExporter(backendUrl);
  const oursSinkExporter = guardExporter(sinkUrl);
  const delivered = (e: GuardLogRecordExporter) => e.getStats().eventsDelivered;
  let oursSinkBase = 0;
  let otlpSinkDone = 0;

  const variants: Record<string, Pipeline> = {
    ours: pipeline(oursBackendExporter, n, () => backend.stats.eventsReceived, () => backend.reset()),
    otlp: pipeline(new OTLPLogExporter({ url: `${receiverUrl}/v1/logs` }), n, () => receiver.logs.length, () => receiver.reset()),
    oursSink: pipeline(oursSinkExporter, n, () => delivered(oursSinkExporter) - oursSinkBase, () => (oursSinkBase = delivered(oursSinkExporter))),
    otlpSink: pipeline(new OTLPLogExporter({ url: `${sinkUrl}/v1/logs` }), n, () => otlpSinkDone, () => undefined),
    otlpGzip: pipeline(
      new OTLPLogExporter({ url: `${receiverUrl}/v1/logs`, compression: 'gzip' as never }),
      n,
      () => receiver.logs.length,
      () => receiver.reset(),
    ),
  };

  const problems: string[] = [];
  const emitSamples: Record<string, number[]> = {};
  const samples = await interleave(
    Object.entries(variants).map(([name, p]) => ({
      name,
      round: async () => {
        p.reset();
        const { total: us, emit } = await p.run(records);
        (emitSamples[name] ??= []).push(emit);
        if (name === 'otlpSink') otlpSinkDone = n; // forceFlush resolved: every export called back
        const got = p.received();
        if (got !== n) problems.push(`${name}: far end has ${got} of ${n}`);
        return us;
      },
    })),
    { rounds, warmupRounds: 1, between: settle },
  );
  const bytes = { sink: sink.bytes, requests: sink.requests };
  for (const p of Object.values(variants)) await p.close();
  for (const t of transports) await t.close();
  await Promise.all([backend.stop(), receiver.stop(), sink.stop()]);
  rmSync(home, { recursive: true, force: true });
  if (problems.length) throw new Error(`export-path: not everything arrived: ${problems.join('; ')}`);

  const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  console.log(`export path, ${n} events per run, ${rounds} interleaved rounds, µs/event from first emit to all acknowledged, median (sorted samples):`);
  console.log(`  ours -> DevBackend (gzip)           ${describeSamples(samples.ours)}`);
  console.log(`  OTLP JSON -> OtlpReceiver           ${describeSamples(samples.otlp)}`);
  console.log(`  OTLP JSON gzip -> OtlpReceiver      ${describeSamples(samples.otlpGzip)}`);
  console.log(`  ours -> minimal sink (gzip)         ${describeSamples(samples.oursSink)}`);
  console.log(`  OTLP JSON -> minimal sink           ${describeSamples(samples.otlpSink)}`);
  console.log(`  ours / OTLP: real backends ${(m.ours / m.otlp).toFixed(2)}x, minimal sink ${(m.oursSink / m.otlpSink).toFixed(2)}x, vs OTLP gzip ${(m.ours / m.otlpGzip).toFixed(2)}x`);
  // The emit loop is the same SDK code on both sides; what is left is each exporter's own path.
  const emitUs = median(Object.values(emitSamples).flatMap((x) => x.slice(1)));
  const oursExport = m.oursSink - median(emitSamples.oursSink.slice(1));
  const otlpExport = m.otlpSink - median(emitSamples.otlpSink.slice(1));
  console.log(`  the emit loop alone: ${emitUs.toFixed(2)} µs/event (${((100 * emitUs) / m.otlp).toFixed(0)}% of OTLP's total to its receiver); after it, to the minimal sink: ours ${oursExport.toFixed(2)}, OTLP ${otlpExport.toFixed(2)} µs/event (${(oursExport / otlpExport).toFixed(2)}x)`);
  console.log(`  backend share: DevBackend adds ${(m.ours - m.oursSink).toFixed(2)} µs/event over the sink, OtlpReceiver ${(m.otlp - m.otlpSink).toFixed(2)}`);
  // The floor for any gzipped-JSON exporter behind the SDK processor: the emit plus encoding and gzip, before any network.
  const encodeGzipUs = await encodeAndGzipUs(records);
  const floorUs = emitUs + encodeGzipUs;
  console.log(`  floor before the network: emit ${emitUs.toFixed(2)} + encode and gzip ${encodeGzipUs.toFixed(2)} = ${floorUs.toFixed(2)} µs/event, ${(floorUs / m.otlp).toFixed(2)}x of OTLP's total (the target is 0.33x)`);
  const enc = await encodeUs(records);
  console.log(`  encoding alone: ${enc.plain.toFixed(2)} µs/event outside a span, ${enc.inSpan.toFixed(2)} inside one (trace ids added to the metadata)`);
  const body = await bodyBuildUs(records);
  console.log(`  batch body: joined into a string then encoded ${body.joined.toFixed(2)}, written item by item into one buffer ${body.written.toFixed(2)} µs/event`);
  const target = { op: '<=' as const, value: 0.333 };
  return {
    name: 'export-path',
    figures: [
      figure('export.ours_us', 'export: ours -> DevBackend (gzip)', m.ours, 'µs/event'),
      figure('export.otlp_us', 'export: OTLP JSON -> OtlpReceiver', m.otlp, 'µs/event'),
      figure('export.ratio', 'export: ours / OTLP (real backends)', m.ours / m.otlp, 'x', { target, note: 'first emit to all acknowledged' }),
      figure('export.ours_sink_us', 'export: ours -> minimal sink', m.oursSink, 'µs/event'),
      figure('export.otlp_sink_us', 'export: OTLP JSON -> minimal sink', m.otlpSink, 'µs/event'),
      figure('export.ratio_sink', 'export: ours / OTLP (minimal sink, client side)', m.oursSink / m.otlpSink, 'x', { target }),
      figure('export.ratio_otlp_gzip', 'export: ours / OTLP gzip (real backends)', m.ours / m.otlpGzip, 'x'),
      figure('export.emit_us', 'export: the emit loop alone (both sides)', emitUs, 'µs/event'),
      figure('export.ratio_after_emit', 'export: ours / OTLP after the emit (minimal sink)', oursExport / otlpExport, 'x'),
      figure('export.encode_gzip_us', 'export: encode + gzip alone (no network)', encodeGzipUs, 'µs/event'),
      figure('export.encode_us', 'export: encoding alone, outside a span', enc.plain, 'µs/event'),
      figure('export.encode_in_span_us', 'export: encoding alone, inside a span', enc.inSpan, 'µs/event'),
      figure('export.body_joined_us', 'export: batch body joined then encoded', body.joined, 'µs/event'),
      figure('export.body_written_us', 'export: batch body written into one buffer', body.written, 'µs/event'),
      figure('export.floor_ratio', 'export: floor (emit + encode + gzip) / OTLP total', floorUs / m.otlp, 'x', { note: 'no exporter of gzipped JSON goes below this' }),
    ],
    details: { events: n, rounds, samplesUsPerEvent: samples, emitLoopUsPerEvent: emitSamples, sink: bytes },
  };
}

if (isMain(import.meta.url)) await main(process.argv.slice(2));
