/**
 * Events the backend could not take as they are, end to end against the real
 * dev backend (which validates like the backend's pydantic models): a
 * timestamp outside years 1-9999 is refused at ingest (or, from a plain OTel
 * logger, stamped now) instead of making the backend reject its whole batch
 * with 422; an event over maxEventBytes is cut to fit, in bytes, and
 * delivered on every path; what truly cannot be sent is counted, so
 * accepted = delivered + counted drops.
 */
import assert from 'node:assert/strict';
import { BatchLogRecordProcessor, LoggerProvider, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { DEFAULT_CONFIG } from '../../src/config.js';
import { DevBackend } from '../../src/dev-backend/index.js';
import { JournalSettlingExporter } from '../../src/handler/durability-exporter.js';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { encodeEvent, SecurityEvent } from '../../src/models/index.js';
import { CUT_SUFFIX } from '../../src/models/json-bytes.js';
import { EVENT_ATTRIBUTES as A, GUARD_EVENT_NAME, securityEventToLogRecord } from '../../src/otel/event-mapping.js';
import { readableRecords } from '../helpers/readable-records.js';
import { GuardLogRecordExporter } from '../../src/otel/guard-log-exporter.js';
import { MemoryFallbackQueue } from '../../src/queue/memory-fallback-queue.js';
import { buildBatches } from '../../src/transport/batch-builder.js';
import { HTTPTransport } from '../../src/transport/http-transport.js';

const KEY = 'test-api-key-0123456789';
const ENCRYPTION_KEY = Buffer.alloc(32, 9).toString('base64url');

const sum = (o: Partial<Record<string, number>>) => Object.values(o).reduce((a: number, b) => a + (b ?? 0), 0);


describe('events the backend could not take as they are (real dev backend)', function () {
  this.timeout(20_000);
  let backend: DevBackend;
  let url: string;
  const cleanups: Array<() => Promise<unknown>> = [];

  async function startBackend(options: ConstructorParameters<typeof DevBackend>[0] = {}): Promise<void> {
    backend = new DevBackend({ apiKeys: [KEY], ...options });
    ({ url } = await backend.start());
  }

  function handler(extra: Record<string, unknown> = {}): GuardAgentHandler {
    const h = new GuardAgentHandler({ apiKey: KEY, endpoint: url, projectId: 'limits', flushInterval: 0.05, retryAttempts: 0, ...extra }, { env: {}, drainIntervalMs: 50 });
    cleanups.push(() => h.stop(2000));
    return h;
  }

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await backend.stop();
  });

  it('one event with a timestamp outside years 1-9999 is counted invalid at sendEvent; the 100 good events around it all arrive', async () => {
    await startBackend();
    const h = handler({ flushInterval: 0.2 });
    await h.start();
    for (let i = 0; i < 100; i++) {
      await h.sendEvent({ eventType: 'ip_banned', ipAddress: '203.0.113.9', reason: `good ${i}` });
      // An epoch in microseconds (year ~57,000), and a Date past year 9999: neither throws.
      if (i === 50) await h.sendEvent({ eventType: 'ip_banned', ipAddress: '203.0.113.9', reason: 'bad ts', timestamp: Date.now() * 1000 });
      if (i === 70) await h.sendEvent({ eventType: 'ip_banned', reason: 'bad date', timestamp: new Date('+010000-01-01T00:00:00Z') });
    }
    await h.sendMetric({ metricType: 'response_time', value: 0.1, timestamp: new Date('0000-12-31T00:00:00Z') });
    await h.flushBuffer(5000);
    const st = h.getStats();
    assert.equal(backend.events.length, 100);
    assert.deepEqual(new Set(backend.events.map((e) => e.reason)), new Set(Array.from({ length: 100 }, (_, i) => `good ${i}`)));
    assert.deepEqual(backend.stats.rejected.byStatus, {}, 'no batch was refused');
    assert.equal(st.eventsAccepted, 100);
    assert.deepEqual(st.dropped.atIngest, { invalid: 3 });
    assert.deepEqual(st.dropped.events, {});
  });

  it('a guard record a plain OTel logger emits with such a timestamp is stamped now and counted; its batch arrives whole', async () => {
    await startBackend();
    const t = new HTTPTransport({ ...DEFAULT_CONFIG, apiKey: KEY, endpoint: url, projectId: 'limits', retryAttempts: 0 });
    const exporter = new GuardLogRecordExporter({ transport: t, queue: new MemoryFallbackQueue(), config: DEFAULT_CONFIG });
    const provider = new LoggerProvider({ processors: [new BatchLogRecordProcessor({ exporter, scheduledDelayMillis: 60_000 })] });
    cleanups.push(() => t.close(), () => provider.shutdown());
    const logger = provider.getLogger('app');
    for (let i = 0; i < 20; i++) logger.emit(securityEventToLogRecord(new SecurityEvent({ eventType: 'ip_banned', reason: `good ${i}` })) as never);
    logger.emit({ eventName: GUARD_EVENT_NAME, body: 'from a plain logger', timestamp: Date.now() * 1000, attributes: { [A.eventType]: 'rate_limited' } });
    await provider.forceFlush();
    assert.equal(backend.events.length, 21);
    assert.deepEqual(backend.stats.rejected.byStatus, {});
    const plain = backend.events.find((e) => e.reason === 'from a plain logger')!;
    assert.ok(Math.abs(Date.parse(String(plain.timestamp)) - Date.now()) < 10_000, `stamped now, got ${String(plain.timestamp)}`);
    assert.equal(exporter.getStats().malformedFields, 1);
    assert.deepEqual(exporter.getStats().eventsDropped, {});
  });

  it('a burst over the SDK queue with 300 KB strings: every event arrives, the long ones cut to maxEventBytes; accepted = delivered', async () => {
    await startBackend();
    const h = handler({ maxQueueSize: 20, maxExportBatchSize: 20 });
    await h.start();
    const huge = 'h'.repeat(300_000);
    const sends = [];
    for (let i = 0; i < 100; i++) sends.push(h.sendEvent({ eventType: 'ip_banned', ipAddress: '203.0.113.9', reason: `e${i}`, handlerName: i % 10 === 9 ? huge : 'login' }));
    await Promise.all(sends);
    await h.flushBuffer(5000);
    const st = h.getStats();
    assert.ok(st.sdkQueueRescued > 0, 'part of the burst took the fallback-queue path');
    assert.equal(st.eventsAccepted, 100);
    assert.equal(backend.events.length, 100);
    const long = backend.events.filter((e) => String(e.handler_name).length > 100);
    assert.equal(long.length, 10);
    for (const e of long) {
      assert.ok(String(e.handler_name).endsWith(CUT_SUFFIX));
      assert.ok(Buffer.byteLength(JSON.stringify(e)) <= 65_536);
    }
    assert.equal(st.codec.truncated, 10, 'each truncation counted, on either path');
    assert.equal(sum(st.dropped.events) + st.dropped.sdkQueue + sum(st.dropped.queue) + sum(st.dropped.replay), 0);
  });

  it('events too large for the encrypted body are truncated to fit it and delivered, on the fallback-queue path too', async () => {
    // maxEventBytes may be up to maxBodyBytes - 1024, but the encrypted route leaves about 3/4 of the body for the plaintext:
    // the exporter truncates to the smaller of the two.
    await startBackend({ encryptionKey: ENCRYPTION_KEY, maxBodyBytes: 8192 });
    const h = handler({ projectEncryptionKey: ENCRYPTION_KEY, maxBodyBytes: 8192, maxEventBytes: 7168, maxQueueSize: 20, maxExportBatchSize: 20 });
    await h.start();
    const pad = 'p'.repeat(6500);
    const sends = [];
    for (let i = 0; i < 100; i++) sends.push(h.sendEvent({ eventType: 'ip_banned', reason: `e${i}`, metadata: i % 10 === 9 ? { pad } : { i } }));
    await Promise.all(sends);
    await h.flushBuffer(5000);
    const st = h.getStats();
    assert.ok(st.sdkQueueRescued > 0, 'part of the burst took the fallback-queue path');
    assert.equal(backend.events.length, 100);
    assert.equal(sum(st.dropped.events), 0);
    assert.equal(st.codec.truncated, 10, 'the padded ones cut to the encrypted budget, counted');
    assert.equal(st.eventsAccepted, backend.events.length);
  });

  it('every way into the queue truncates to the same cap: the smaller encrypted budget when maxEventBytes exceeds it', async () => {
    await startBackend();
    const config = { ...DEFAULT_CONFIG, apiKey: KEY, endpoint: url, projectId: 'limits', projectEncryptionKey: ENCRYPTION_KEY, maxBodyBytes: 8192, maxEventBytes: 7168 };
    const encrypted = new HTTPTransport(config);
    const plain = new HTTPTransport({ ...config, projectEncryptionKey: null });
    cleanups.push(() => encrypted.close(), () => plain.close());
    const cap = new GuardLogRecordExporter({ transport: encrypted, queue: null, config }).eventCap();
    const budget = encrypted.batchBudget('events');
    assert.ok(cap < 7168 && cap === budget.limit - budget.envelopeBytes, `cap ${cap}, budget ${JSON.stringify(budget)}`);
    assert.equal(new GuardLogRecordExporter({ transport: plain, queue: null, config }).eventCap(), 7168, 'unencrypted, maxEventBytes fits and applies');
    // An event held for NodeSDK past its cap, or journaled, is encoded by the handler with this same cap.
    const h = handler({ projectEncryptionKey: ENCRYPTION_KEY, maxBodyBytes: 8192, maxEventBytes: 7168 });
    assert.equal(h.pipeline.logExporter.eventCap(), cap);
    const json = encodeEvent(new SecurityEvent({ eventType: 'ip_banned', reason: 'r', metadata: { pad: 'p'.repeat(7000) } }), { maxEventBytes: h.pipeline.logExporter.eventCap() });
    assert.ok(Buffer.byteLength(json) <= cap);
    await h.stop();
  });

  it('a 422 naming some items drops only those, counted, and sends the rest again (e.g. a batch an older agent queued in Redis)', async () => {
    await startBackend();
    const calls: Array<Record<string, unknown>> = [];
    const t = new HTTPTransport({ ...DEFAULT_CONFIG, apiKey: KEY, endpoint: url, projectId: 'limits', retryAttempts: 0, onError: (_s, _e, ctx) => calls.push(ctx) });
    cleanups.push(() => t.close());
    const events = Array.from({ length: 6 }, (_, i) => new SecurityEvent({ eventType: 'ip_banned', reason: `r${i}` }));
    const items = events.map((e) => encodeEvent(e));
    // What the agent no longer builds, but a queue written before this fix may hold.
    items[1] = items[1].replace(/"timestamp":"[^"]+"/, '"timestamp":"+057000-01-01T00:00:00.000Z"');
    items[4] = items[4].replace(/"timestamp":"[^"]+"/, '"timestamp":"-000001-01-01T00:00:00.000Z"');
    const [batch] = buildBatches('events', items, events.map((e) => e.idempotencyKey), 256 * 1024, Date.now());
    const r = await t.sendBatch(batch);
    assert.equal(r.outcome, 'delivered');
    assert.equal(r.delivered, 4);
    assert.deepEqual(r.dropped, [{ count: 2, reason: 'permanent_rejection' }]);
    assert.deepEqual(backend.events.map((e) => e.reason), ['r0', 'r2', 'r3', 'r5']);
    assert.deepEqual(backend.batches.map((b) => [b.itemCount, b.status]), [[6, 422], [4, 200]]);
    assert.notEqual(backend.batches[0].batchId, backend.batches[1].batchId, 'the resend has a batch id of its own');
    assert.equal(t.getStats().dropped.permanent_rejection, 2);
    assert.deepEqual(calls, [{ dataType: 'events', itemCount: 2, status: 422 }]);

    // Every item bad: nothing to resend, the batch is dropped whole as before.
    backend.reset();
    const allBad = buildBatches('events', [items[1], items[4]], [events[1].idempotencyKey, events[4].idempotencyKey], 256 * 1024, Date.now())[0];
    const r2 = await t.sendBatch(allBad);
    assert.deepEqual(r2.dropped, [{ count: 2, reason: 'permanent_rejection' }]);
    assert.equal(backend.batches.length, 1);
  });

  it("the fallback queue's direct writes (SDK refusals, the stop divert) count what they cannot queue in the exporter's drops", async () => {
    await startBackend();
    const t = new HTTPTransport({ ...DEFAULT_CONFIG, apiKey: KEY, endpoint: url, projectId: 'limits' });
    const exporter = new GuardLogRecordExporter({ transport: t, queue: null, config: DEFAULT_CONFIG });
    const journalExporter = new JournalSettlingExporter(exporter);
    cleanups.push(() => t.close());
    const queue = new MemoryFallbackQueue();
    // A 4 KB body cap with events encoded to the 64 KB maxEventBytes: the 6 KB one cannot go in any batch.
    const options = { queue, maxBatchBytes: 4096, maxBatchItems: 100 };
    const [good, big] = await readableRecords([
      new SecurityEvent({ eventType: 'ip_banned', reason: 'fits' }),
      new SecurityEvent({ eventType: 'ip_banned', reason: 'too big for the body', metadata: { pad: 'x'.repeat(6000) } }),
    ]);
    // A record whose metadata attribute throws when read: it cannot be encoded.
    const hostileAttributes = { [A.eventType]: 'ip_banned', [A.reason]: 'hostile' };
    Object.defineProperty(hostileAttributes, A.metadata, { enumerable: true, get: () => { throw new Error('hostile getter'); } });
    const hostile = { eventName: GUARD_EVENT_NAME, hrTime: good.hrTime, attributes: hostileAttributes } as unknown as ReadableLogRecord;

    await journalExporter.queueRefused([good, big, hostile], options);
    assert.equal(queue.stats().depthItems, 1);
    assert.equal(journalExporter.refusedQueued, 1);
    assert.deepEqual(exporter.getStats().eventsDropped, { too_large: 1, encoding_error: 1 });

    journalExporter.divertToQueue(options);
    const result = await new Promise<{ code: number }>((resolve) => journalExporter.export([good, big, hostile], resolve));
    assert.equal(result.code, 0);
    assert.equal(journalExporter.diverted, 1);
    assert.equal(queue.stats().depthItems, 2);
    assert.deepEqual(exporter.getStats().eventsDropped, { too_large: 2, encoding_error: 2 });
  });
});
