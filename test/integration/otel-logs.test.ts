// The OTel log pipeline against the real dev backend on 127.0.0.1: LoggerProvider +
// BatchLogRecordProcessor + GuardLogRecordProcessor + GuardLogRecordExporter + HTTPTransport,
// with a MemoryFallbackQueue and the QueueDrainer.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import {
  BatchLogRecordProcessor,
  LoggerProvider,
  type ReadableLogRecord,
} from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { DEFAULT_CONFIG } from '../../src/config.js';
import type { AgentConfig } from '../../src/config-types.js';
import { DevBackend } from '../../src/dev-backend/index.js';
import { SecurityEvent } from '../../src/models/index.js';
import { securityEventToLogRecord, GUARD_EVENT_NAME } from '../../src/otel/event-mapping.js';
import { readableRecords } from '../helpers/readable-records.js';
import { GuardLogRecordExporter } from '../../src/otel/guard-log-exporter.js';
import { ExportedRecordCounter, GuardLogRecordProcessor } from '../../src/otel/guard-log-processor.js';
import { QueueFullProbe } from '../../src/otel/queue-full-probe.js';
import { QueueDrainer } from '../../src/queue/drainer.js';
import { MemoryFallbackQueue } from '../../src/queue/memory-fallback-queue.js';
import { HTTPTransport } from '../../src/transport/http-transport.js';

const KEY = 'fg_otel_key_0123456789';
const PROJECT = 'proj_otel';

function event(i: number, extra: Record<string, unknown> = {}): SecurityEvent {
  return new SecurityEvent({
    eventType: i % 2 ? 'ip_blocked' : 'rate_limited',
    ipAddress: `203.0.113.${i % 250}`,
    actionTaken: 'request_blocked',
    reason: `test event ${i}`,
    endpoint: '/api/items',
    method: 'GET',
    statusCode: 429,
    metadata: { i },
    ...extra,
  });
}


function exportOnce(exporter: GuardLogRecordExporter, records: ReadableLogRecord[]): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(records, resolve));
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('OTel log pipeline against the dev backend', () => {
  let backend: DevBackend;
  let url: string;
  let home: string;
  const cleanups: Array<() => Promise<void>> = [];

  function transport(over: Partial<AgentConfig> = {}): HTTPTransport {
    const config: AgentConfig = {
      ...DEFAULT_CONFIG,
      apiKey: KEY,
      endpoint: url,
      projectId: PROJECT,
      backoffFactor: 0.01,
      maxBackoff: 0.05,
      timeout: 5,
      retryAttempts: 1,
      flushInterval: 1,
      breaker: { failureThreshold: 50, recoveryTimeoutMs: 100 },
      rateLimit: { maxCalls: 10_000, windowMs: 1000 },
      ...over,
    };
    const t = new HTTPTransport(config, { installIdHomeDir: home });
    cleanups.push(() => t.close());
    return t;
  }

  /** The full pipeline as the agent wires it. */
  function pipeline(opts: { maxQueueSize?: number; maxExportBatchSize?: number; transportOver?: Partial<AgentConfig> } = {}) {
    const t = transport(opts.transportOver);
    const queue = new MemoryFallbackQueue();
    const counter = new ExportedRecordCounter();
    const exporter = new GuardLogRecordExporter({ transport: t, queue, config: DEFAULT_CONFIG, receivedCounter: counter });
    const maxQueueSize = opts.maxQueueSize ?? 2048;
    const inner = new BatchLogRecordProcessor({
      exporter,
      maxQueueSize,
      maxExportBatchSize: opts.maxExportBatchSize ?? 512,
      scheduledDelayMillis: 60_000,
    });
    const processor = new GuardLogRecordProcessor({ inner, exported: counter, maxQueueSize });
    const provider = new LoggerProvider({ processors: [processor] });
    cleanups.push(() => provider.shutdown());
    return { t, queue, counter, exporter, processor, provider, logger: provider.getLogger('guard-test') };
  }

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'otel-logs-home-'));
    backend = new DevBackend({ apiKeys: [KEY], projectId: PROJECT });
    url = (await backend.start()).url;
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  after(async () => {
    context.disable();
    await backend.stop();
    rmSync(home, { recursive: true, force: true });
  });
  beforeEach(() => backend.reset());
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('delivers exactly the guard events, with trace ids and span events, and passes other records by', async () => {
    const { logger, provider, exporter, processor } = pipeline();
    const spans = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }).getTracer('http');
    const sent = Array.from({ length: 30 }, (_, i) => event(i));
    const inSpan = new Map<string, string>(); // idempotency key -> span id
    sent.forEach((ev, i) => {
      if (i % 3 === 0) {
        tracer.startActiveSpan(`GET /api/items ${i}`, (span) => {
          logger.emit(securityEventToLogRecord(ev));
          inSpan.set(ev.idempotencyKey, span.spanContext().spanId);
          span.end();
        });
      } else {
        logger.emit(securityEventToLogRecord(ev));
      }
      logger.emit({ body: `access log ${i}`, severityNumber: 9, attributes: { 'http.route': '/api/items' } });
    });
    await provider.forceFlush();

    const got = backend.events;
    assert.deepEqual(got.map((e) => e.idempotency_key).sort(), sent.map((e) => e.idempotencyKey).sort());
    for (const e of got) {
      const meta = e.metadata as Record<string, unknown>;
      const spanId = inSpan.get(String(e.idempotency_key));
      if (spanId) {
        assert.equal(meta.span_id, spanId);
        assert.match(String(meta.trace_id), /^[0-9a-f]{32}$/);
      } else {
        assert.equal(meta.trace_id, undefined);
      }
      assert.equal(e.status_code, 429);
      assert.equal(e.endpoint, '/api/items');
    }
    const finished = spans.getFinishedSpans();
    assert.equal(finished.length, 10);
    for (const s of finished) {
      assert.equal(s.events.length, 1);
      assert.equal(s.events[0].name, GUARD_EVENT_NAME);
      assert.equal(s.events[0].attributes?.['guard.action_taken'], 'request_blocked');
    }
    const st = exporter.getStats();
    assert.equal(st.guardRecords, 30);
    assert.equal(st.passedThrough, 30);
    assert.equal(st.eventsDelivered, 30);
    assert.equal(st.eventsQueued, 0);
    assert.deepEqual(processor.getStats(), { emitted: 60, guardEmitted: 30, sdkQueueDropped: 0, guardSdkQueueDropped: 0, sdkQueueRescued: 0, spanEventsAdded: 10 });
  });

  it('backend down: export succeeds with the batches queued; backend back: the drainer delivers them all', async () => {
    // A small body cap, so the 40 events make several batches (sized by the transport's budget).
    const t = transport({ maxBodyBytes: 4096 });
    const queue = new MemoryFallbackQueue();
    const exporter = new GuardLogRecordExporter({ transport: t, queue, config: { ...DEFAULT_CONFIG, maxBodyBytes: 4096 } });
    backend.faults.push({ kind: 'down' });
    const sent = Array.from({ length: 40 }, (_, i) => event(i));
    const result = await exportOnce(exporter, await readableRecords(sent));
    assert.equal(result.code, ExportResultCode.SUCCESS);
    const qs = queue.stats();
    assert.ok(qs.depthBatches > 1, `several byte-sized batches queued (${qs.depthBatches})`);
    assert.equal(qs.depthItems, 40);
    assert.equal(exporter.getStats().eventsQueued, 40);
    assert.equal(backend.events.length, 0);

    const drainer = new QueueDrainer({ transport: t, queue, intervalMs: 30, maxBatchesPerTick: 2 });
    cleanups.push(() => drainer.stop());
    drainer.start();
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(queue.stats().depthItems, 40, 'still down: batches released, none lost');
    assert.ok(drainer.getStats().released > 0);

    backend.faults.clear();
    await waitFor(() => queue.stats().depthBatches === 0, 5000);
    assert.deepEqual(backend.events.map((e) => e.idempotency_key).sort(), sent.map((e) => e.idempotencyKey).sort());
    const ds = drainer.getStats();
    assert.equal(ds.acked, qs.depthBatches);
    assert.equal(ds.itemsDelivered, 40);
    assert.deepEqual(queue.stats().dropped, {});
  });

  it('503 forever through the whole pipeline: nothing lost, then drainNow empties the queue', async () => {
    const { logger, provider, queue, exporter, t } = pipeline();
    backend.faults.push({ kind: 'status', status: 503, times: Infinity });
    const sent = Array.from({ length: 12 }, (_, i) => event(i));
    for (const ev of sent) logger.emit(securityEventToLogRecord(ev));
    await provider.forceFlush();
    assert.equal(queue.stats().depthItems, 12);
    assert.equal(exporter.getStats().eventsQueued, 12);
    backend.faults.clear();
    const drainer = new QueueDrainer({ transport: t, queue });
    cleanups.push(() => drainer.stop());
    assert.equal(await drainer.drainNow(Date.now() + 3000), true);
    assert.equal(backend.events.length, 12);
    assert.equal(queue.stats().depthBatches, 0);
  });

  it('is re-entrant: two overlapping exports against a slow backend both complete, and forceFlush waits for both', async () => {
    const t = transport();
    const queue = new MemoryFallbackQueue();
    const exporter = new GuardLogRecordExporter({ transport: t, queue, config: DEFAULT_CONFIG });
    backend.faults.push({ kind: 'delay', ms: 300, times: 2 });
    const a = Array.from({ length: 5 }, (_, i) => event(i));
    const b = Array.from({ length: 7 }, (_, i) => event(100 + i));
    const results: ExportResult[] = [];
    exporter.export(await readableRecords(a), (r) => results.push(r));
    exporter.export(await readableRecords(b), (r) => results.push(r));
    assert.equal(exporter.getStats().inFlight, 2);
    const t0 = Date.now();
    await exporter.forceFlush();
    assert.ok(Date.now() - t0 >= 200, 'forceFlush waited for the slow sends');
    assert.deepEqual(results.map((r) => r.code), [ExportResultCode.SUCCESS, ExportResultCode.SUCCESS]);
    assert.equal(backend.events.length, 12);
    assert.equal(exporter.getStats().inFlight, 0);
  });

  it('shutdown honours its deadline against a hanging backend and queues what was in flight', async () => {
    const t = transport({ timeout: 30, retryAttempts: 0 });
    const queue = new MemoryFallbackQueue();
    const exporter = new GuardLogRecordExporter({ transport: t, queue, config: DEFAULT_CONFIG });
    backend.faults.push({ kind: 'delay', ms: 20_000 });
    const results: ExportResult[] = [];
    exporter.export(await readableRecords(Array.from({ length: 9 }, (_, i) => event(i))), (r) => results.push(r));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await exporter.shutdown(400);
    const took = Date.now() - t0;
    assert.ok(took < 400 + 150, `shutdown took ${took} ms`);
    assert.equal(queue.stats().depthItems, 9);
    assert.deepEqual(results.map((r) => r.code), [ExportResultCode.SUCCESS]);

    const late: ExportResult[] = [];
    exporter.export(await readableRecords([event(1)]), (r) => late.push(r));
    assert.equal(late[0].code, ExportResultCode.FAILED, 'no export after shutdown');
    assert.equal(exporter.getStats().eventsDropped.agent_stopped, 1);
  });

  it("detects the SDK batch processor's silent queue-full drops exactly", async () => {
    const { logger, provider, processor, counter, exporter } = pipeline({ maxQueueSize: 10, maxExportBatchSize: 10 });
    backend.faults.push({ kind: 'delay', ms: 200, times: 10 });
    const sent = Array.from({ length: 100 }, (_, i) => event(i));
    for (const ev of sent) logger.emit(securityEventToLogRecord(ev));
    await provider.forceFlush();
    const st = processor.getStats();
    assert.equal(st.emitted, 100);
    assert.ok(st.sdkQueueDropped > 0, 'the SDK dropped records');
    assert.equal(st.sdkQueueDropped, st.emitted - counter.total);
    assert.equal(st.guardSdkQueueDropped, st.sdkQueueDropped);
    assert.equal(backend.events.length, counter.total, 'every record the exporter received was delivered');
    assert.equal(exporter.getStats().eventsDelivered, counter.total);
  });

  it('with a QueueFullProbe, sees each record the full SDK queue refuses as it happens, and hands the guard ones over', async () => {
    const counter = new ExportedRecordCounter();
    const t = transport();
    const exporter = new GuardLogRecordExporter({ transport: t, queue: new MemoryFallbackQueue(), config: DEFAULT_CONFIG, receivedCounter: counter });
    const probe = new QueueFullProbe();
    const inner = new BatchLogRecordProcessor({ exporter, maxQueueSize: 10, maxExportBatchSize: 10, scheduledDelayMillis: 60_000, selfObsMeterProvider: probe } as never);
    assert.equal(probe.isAttached, true, 'the SDK reports queue-full drops to the probe');
    const handedOver: string[] = [];
    const processor = new GuardLogRecordProcessor({
      inner,
      probe,
      exported: counter,
      maxQueueSize: 10,
      onQueueFull: (rec) => handedOver.push(String(rec.attributes['guard.idempotency_key'])) > 0,
    });
    const provider = new LoggerProvider({ processors: [processor] });
    cleanups.push(() => provider.shutdown());
    const logger = provider.getLogger('guard-test');
    backend.faults.push({ kind: 'delay', ms: 100, times: 10 });
    const sent = Array.from({ length: 100 }, (_, i) => event(i));
    for (const ev of sent) {
      logger.emit(securityEventToLogRecord(ev));
      logger.emit({ body: 'an app log line', attributes: { 'app.request': 1 } });
    }
    assert.equal(probe.queueSize(), 10, 'the exact queue depth: full');
    await provider.forceFlush();
    const st = processor.getStats();
    assert.equal(probe.refused, st.emitted - counter.total, 'every record the exporter did not get was refused, and counted once');
    assert.equal(st.sdkQueueRescued, handedOver.length);
    assert.equal(st.sdkQueueRescued + counter.guard, 100, 'every guard record was either exported or handed over');
    assert.equal(st.guardSdkQueueDropped, 0);
    assert.equal(st.sdkQueueDropped, probe.refused - handedOver.length, 'the app lines refused are the drops');
    assert.ok(st.sdkQueueDropped > 0);
    const delivered = new Set(backend.events.map((e) => e.idempotency_key));
    for (const key of handedOver) assert.ok(!delivered.has(key), 'a handed-over record is not exported too');
    assert.equal(new Set([...delivered, ...handedOver]).size, 100);
  });
});
