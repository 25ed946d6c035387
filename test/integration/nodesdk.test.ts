/**
 * guardAgent() inside a real NodeSDK (of whichever OpenTelemetry JS line is
 * installed), fanning out to a real OTLP/HTTP receiver and a real dev guard
 * backend: the same security events and metrics reach both, trace context
 * links them, plain app logs reach the collector only, and the agent's
 * shutdown is bounded even when the backend hangs.
 */
import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { DevBackend } from '../../src/dev-backend/index.js';
import { GuardAgentConfigError } from '../../src/errors.js';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { GUARD_EVENT_NAME } from '../../src/otel/event-mapping.js';
import { guardAgent, type GuardAgentSetup } from '../../src/otel/guard-agent.js';
import { detectOtelLine } from '../../src/otel/otel-line.js';
import { OtlpReceiver } from '../helpers/otlp-receiver.js';
import { resetOtelGlobals } from '../helpers/otel-globals.js';
import { startRedisServer } from '../helpers/redis-server.js';

const KEY = 'nodesdk-test-key-0123456789';
type Wire = Record<string, unknown>;

function startSdk(guard: GuardAgentSetup): NodeSDK {
  const sdk = new NodeSDK({
    autoDetectResources: false,
    serviceName: 'guard-nodesdk-test',
    // The plural names: the only ones NodeSDK accepts on both lines.
    logRecordProcessors: guard.logRecordProcessors,
    metricReaders: guard.metricReaders,
    spanProcessors: guard.spanProcessors,
    instrumentations: [guard.instrumentation],
  });
  sdk.start();
  return sdk;
}

function setupFor(backendUrl: string, otlpUrl: string, extra: Record<string, unknown> = {}): GuardAgentSetup {
  return guardAgent({
    apiKey: KEY,
    endpoint: backendUrl,
    projectId: 'proj_nodesdk',
    retryAttempts: 0,
    otlp: { url: otlpUrl, metricIntervalMs: 60_000 },
    handlerOptions: { env: {}, drainIntervalMs: 50 },
    ...extra,
  });
}

async function get(url: string): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

describe(`guardAgent() in a real NodeSDK with OTLP fan-out (OpenTelemetry JS ${detectOtelLine()}.x line)`, function () {
  this.timeout(20_000);
  let backend: DevBackend;
  let receiver: OtlpReceiver;
  let server: http.Server;
  let appUrl: string;
  let guard: GuardAgentSetup | undefined;
  let sdk: NodeSDK | undefined;

  beforeEach(async () => {
    backend = new DevBackend({ apiKeys: [KEY] });
    await backend.start();
    receiver = new OtlpReceiver();
    await receiver.start();
    server = http.createServer((req, res) => {
      res.statusCode = req.url === '/search' ? 429 : 200;
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await guard?.shutdown(2000);
    guard?.instrumentation.disable();
    await sdk?.shutdown();
    guard = undefined;
    sdk = undefined;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    backend.faults.clear();
    await backend.stop();
    await receiver.stop();
    resetOtelGlobals();
  });

  it('delivers the same events and metrics to the guard backend and the OTLP receiver, linked to the active span', async () => {
    guard = setupFor(backend.url, receiver.url);
    sdk = startSdk(guard);
    const appLogger = guard.instrumentation.getLoggerProvider()!.getLogger('the-app');

    // Observed by the instrumentation: two request metrics series and one rate_limited event.
    assert.equal(await get(`${appUrl}/users/1`), 200);
    assert.equal(await get(`${appUrl}/search`), 429);

    // Through the handler, inside a span.
    let spanIds: { traceId: string; spanId: string } | undefined;
    await trace.getTracer('the-app').startActiveSpan('checkout', async (span) => {
      spanIds = { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
      await guard!.handler.sendEvent({ eventType: 'suspicious_request', ipAddress: '203.0.113.7', actionTaken: 'logged', reason: 'card testing', metadata: { card: { bin: '411111', attempts: 3 }, tags: ['a', 'b'] } });
      span.end();
    });
    // A seed-style metric sample through the handler.
    await guard.handler.sendMetric({ metricType: 'threat_level', value: 0.7, tags: { source: 'test' } });
    // Through a plain OTel logger: a guard event, and an ordinary app record.
    appLogger.emit({ eventName: GUARD_EVENT_NAME, attributes: { 'guard.event_type': 'brute_force_detected', 'client.address': '198.51.100.23' } });
    appLogger.emit({ severityNumber: 9, body: 'order 1234 placed', attributes: { 'order.id': 1234 } });

    await guard.shutdown(5000);
    await sdk.shutdown();
    sdk = undefined;

    // The guard backend: the three security events, not the app's own log record.
    const types = backend.events.map((e) => e.event_type).sort();
    assert.deepEqual(types, ['brute_force_detected', 'rate_limited', 'suspicious_request']);
    assert.equal(backend.events.some((e) => String(e.reason).includes('order 1234')), false);

    // The OTLP receiver: the same events as log records with the guard attributes, plus the app record.
    const guardLogs = receiver.logs.filter((l) => l.eventName === GUARD_EVENT_NAME);
    assert.deepEqual(guardLogs.map((l) => l.attributes['guard.event_type']).sort(), types);
    assert.equal(receiver.logs.filter((l) => l.body === 'order 1234 placed').length, 1);
    // Same events on both sides: the handler's records carry their idempotency key to both.
    const keyed = guardLogs.filter((l) => typeof l.attributes['guard.idempotency_key'] === 'string');
    assert.equal(keyed.length, 2, 'handler-emitted records (instrumentation + sendEvent) carry their key');
    for (const l of keyed) {
      const ev = backend.events.find((e) => e.idempotency_key === l.attributes['guard.idempotency_key']);
      assert.ok(ev, `backend has the event ${String(l.attributes['guard.idempotency_key'])}`);
      assert.equal(ev.event_type, l.attributes['guard.event_type']);
    }

    // Trace context: the span has the span event, the backend event the span's ids.
    const suspicious = backend.events.find((e) => e.event_type === 'suspicious_request')!;
    const meta = suspicious.metadata as Wire;
    assert.deepEqual(meta.card, { bin: '411111', attempts: 3 });
    // The OTLP side gets the metadata as a kvlist (decoded to an object), not a JSON string.
    const suspiciousLog = guardLogs.find((l) => l.attributes['guard.event_type'] === 'suspicious_request')!;
    assert.deepEqual(suspiciousLog.attributes['guard.metadata'], { card: { bin: '411111', attempts: 3 }, tags: ['a', 'b'] });
    assert.equal(meta.trace_id, spanIds!.traceId);
    assert.equal(meta.span_id, spanIds!.spanId);
    const span = receiver.spans.find((s) => s.name === 'checkout');
    assert.ok(span, 'the span reached the receiver');
    assert.equal(span.traceId, spanIds!.traceId);
    const spanEvent = span.events.find((e) => e.name === GUARD_EVENT_NAME);
    assert.ok(spanEvent, 'the span carries the guard span event');
    assert.equal(spanEvent.attributes['guard.event_type'], 'suspicious_request');
    assert.equal(spanEvent.attributes['guard.idempotency_key'], suspicious.idempotency_key);

    // Metrics on both sides: route-keyed request counts, errors, the handler's sample.
    const count = (m: Wire) => backend.metrics.filter((x) => x.metric_type === m.metric_type && (x.tags as Wire).endpoint === m.endpoint);
    assert.equal(count({ metric_type: 'request_count', endpoint: '/users/:id' }).reduce((a, m) => a + Number(m.value), 0), 1);
    assert.equal(count({ metric_type: 'error_rate', endpoint: '/search' }).reduce((a, m) => a + Number(m.value), 0), 1);
    assert.equal(backend.metrics.find((m) => m.metric_type === 'threat_level')?.value, 0.7);
    assert.equal(receiver.points('guard.request.count').find((p) => p.attributes.endpoint === '/users/:id')?.value, 1);
    assert.equal(receiver.points('guard.request.errors').find((p) => p.attributes.endpoint === '/search')?.value, 1);
    assert.equal(receiver.points('guard.threat.level')[0]?.value, 0.7);
    // Response times: the instrumentation's histogram reaches both readers through their producers.
    const rt = count({ metric_type: 'response_time', endpoint: '/users/:id' });
    assert.equal(rt.length, 1);
    assert.equal((rt[0].tags as Wire).count, '1');
    assert.ok(Number(rt[0].value) > 0 && Number(rt[0].value) < 5);
    const rtPoints = receiver.points('guard.response.time').filter((p) => p.attributes.endpoint === '/users/:id');
    assert.equal(rtPoints.length, 1);
    assert.equal(rtPoints[0].kind, 'histogram');
    assert.equal(Number(rtPoints[0].count), 1);
    assert.equal(receiver.logs[0]?.resource['service.name'], 'guard-nodesdk-test');
  });

  it('guard.shutdown(deadline) returns within its deadline when the backend hangs, and the SDK still shuts down', async () => {
    backend.faults.push({ kind: 'delay', ms: 15_000, times: Infinity });
    guard = setupFor(backend.url, receiver.url, { timeout: 30 });
    sdk = startSdk(guard);
    for (let i = 0; i < 5; i++) await guard.handler.sendEvent({ eventType: 'ip_banned', ipAddress: `10.0.0.${i}` });
    await get(`${appUrl}/search`);

    const t0 = Date.now();
    await guard.shutdown(1500);
    const took = Date.now() - t0;
    assert.ok(took < 2500, `guard.shutdown(1500) took ${took} ms`);
    const t1 = Date.now();
    await sdk.shutdown();
    sdk = undefined;
    assert.ok(Date.now() - t1 < 3000, `sdk.shutdown() after it took ${Date.now() - t1} ms`);

    // Nothing reached the hung backend; the collector still got every record.
    assert.equal(backend.events.length, 0);
    assert.equal(receiver.logs.filter((l) => l.eventName === GUARD_EVENT_NAME).length, 6);
    const stats = guard.handler.getStats();
    assert.equal(stats.eventsSent, 0);
    // Without Redis the fallback queue is memory: the six events were queued, and at stop they are
    // counted as lost (shutdown_timeout), not silently gone.
    assert.equal(stats.logExporter.eventsQueued, 6);
    assert.ok((stats.queue.dropped.shutdown_timeout ?? 0) >= 6, JSON.stringify(stats.queue.dropped));
  });

  it('events and metrics sent before sdk.start() are held, snapshotted, and shipped as soon as NodeSDK hands its providers over', async () => {
    guard = setupFor(backend.url, receiver.url);
    const meta = { step: 'before start', authorization: 'Bearer early' };
    for (let i = 0; i < 3; i++) await guard.handler.sendEvent({ eventType: 'ip_banned', ipAddress: `10.1.0.${i}`, reason: `early ${i}`, metadata: meta });
    await guard.handler.sendMetric({ metricType: 'threat_level', value: 0.4, tags: { source: 'early' } });
    meta.step = 'changed after sendEvent';
    assert.equal(guard.handler.getStats().pendingBeforeSdkStart, 4);
    sdk = startSdk(guard);
    // No further call into the handler: the hand-over alone releases what was held.
    await new Promise((r) => setImmediate(r));
    assert.equal(guard.handler.getStats().pendingBeforeSdkStart, 0);
    await guard.shutdown(5000);
    await sdk.shutdown(); // the OTLP processor flushes here
    sdk = undefined;
    const early = backend.events.filter((e) => String(e.reason).startsWith('early'));
    assert.equal(early.length, 3);
    for (const e of early) assert.deepEqual(e.metadata, { step: 'before start', authorization: '[REDACTED]' });
    assert.equal(receiver.logs.filter((l) => String(l.attributes['guard.reason']).startsWith('early')).length, 3);
    assert.equal(backend.metrics.find((m) => m.metric_type === 'threat_level')?.value, 0.4);
  });

  it('a stop before NodeSDK ever started still ships what was held (nothing accepted is lost)', async () => {
    guard = setupFor(backend.url, receiver.url);
    for (let i = 0; i < 2; i++) await guard.handler.sendEvent({ eventType: 'ip_banned', ipAddress: `10.2.0.${i}`, reason: `never started ${i}` });
    assert.equal(guard.handler.getStats().pendingBeforeSdkStart, 2);
    await guard.shutdown(5000);
    assert.equal(backend.events.filter((e) => String(e.reason).startsWith('never started')).length, 2);
    assert.equal(guard.handler.getStats().pendingBeforeSdkStart, 0);
  });

  it('past the 10,000 held before sdk.start(), the oldest events go to the fallback queue and still arrive', async () => {
    guard = setupFor(backend.url, receiver.url);
    const n = 10_050;
    for (let i = 0; i < n; i++) void guard.handler.sendEvent({ eventType: 'rate_limited', ipAddress: '10.3.0.1', reason: `held ${i}` });
    assert.equal(guard.handler.getStats().pendingBeforeSdkStart, 10_000);
    sdk = startSdk(guard);
    await guard.shutdown(10_000);
    const got = new Set(backend.events.map((e) => String(e.reason)).filter((r) => r.startsWith('held ')));
    assert.equal(got.size, n, `all ${n} arrived`);
    for (let i = 0; i < 50; i++) assert.ok(got.has(`held ${i}`), `the oldest (${i}) went through the queue`);
    const stats = guard.handler.getStats();
    assert.equal(stats.sdkQueueRescued, 50);
    assert.equal(stats.dropped.atIngest.sdk_queue_full ?? 0, 0);
  });

  it('past the 10,000 held before sdk.start(), the oldest metric samples go to the fallback queue and their values still arrive', async () => {
    guard = setupFor(backend.url, receiver.url);
    const n = 10_030;
    // Distinct endpoints for the first 30: the ones pushed out of the hold, each its own series on the wire.
    for (let i = 0; i < n; i++) void guard.handler.sendMetric({ metricType: 'request_count', value: 1, endpoint: i < 30 ? `/held-${i}` : '/held-rest' });
    // One response time pushed out too: it keeps the count, min and max tags every response_time record carries.
    void guard.handler.sendMetric({ metricType: 'response_time', value: 0.25, endpoint: '/held-rt' });
    for (let i = 0; i < 10_000; i++) void guard.handler.sendMetric({ metricType: 'request_count', value: 1, endpoint: '/held-rest' });
    assert.equal(guard.handler.getStats().pendingBeforeSdkStart, 10_000);
    sdk = startSdk(guard);
    await guard.shutdown(10_000);
    const endpointOf = (m: Wire): string => String((m.tags as Record<string, string>).endpoint);
    const counts = backend.metrics.filter((m) => m.metric_type === 'request_count' && endpointOf(m).startsWith('/held-'));
    const total = counts.reduce((a, m) => a + Number(m.value), 0);
    assert.equal(total, n + 10_000, `the sum of every sample (${n + 10_000}) arrived`);
    const rt = backend.metrics.filter((m) => m.metric_type === 'response_time' && endpointOf(m) === '/held-rt');
    assert.equal(rt.length, 1);
    assert.equal(rt[0]!.value, 0.25);
    assert.deepEqual(rt[0]!.tags, { endpoint: '/held-rt', count: '1', min: '0.25', max: '0.25' });
    // Shaped as the SDK path ships a series: the endpoint in the tags, the record's own field null.
    for (let i = 0; i < 30; i++) assert.ok(counts.some((m) => endpointOf(m) === `/held-${i}` && m.endpoint === null), `the oldest (${i}) went through the queue`);
    assert.ok(guard.handler.pipeline.metricExporter.getStats().metricsQueued >= 30, 'counted where the README says: the metric exporter\'s metricsQueued');
    assert.equal(guard.handler.getStats().dropped.atIngest.sdk_queue_full ?? 0, 0);
  });

  it('requests an instrumented server answers while stop() replays the queue are still counted and delivered', async () => {
    guard = setupFor(backend.url, receiver.url, { flushInterval: 60 });
    sdk = startSdk(guard);
    // The stop's first export fails once (queued), and its replay is slow: the stop is busy replaying for 600 ms.
    backend.faults.push({ kind: 'status', status: 503, times: 1 }, { kind: 'delay', ms: 600, times: 1 });
    await guard.handler.sendEvent({ eventType: 'ip_banned', ipAddress: '10.4.0.1', reason: 'queued at stop' });
    const stopping = guard.shutdown(5000);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await get(`${appUrl}/late`), 200, 'the app still serves while the agent stops');
    await stopping;
    await sdk.shutdown();
    sdk = undefined;
    assert.ok(backend.events.some((e) => e.reason === 'queued at stop'), 'the replay delivered the queued event');
    const late = backend.metrics.filter((m) => m.metric_type === 'request_count' && (m.tags as Record<string, string>).endpoint === '/late');
    assert.equal(late.reduce((a, m) => a + Number(m.value), 0), 1, 'the request during the stop was collected once more and delivered');
  });

  it('a standalone handler beside a guardAgent() in NodeSDK: each ships only its own events', async () => {
    const other = new DevBackend({ apiKeys: [KEY] });
    await other.start();
    const standalone = new GuardAgentHandler({ apiKey: KEY, endpoint: other.url, projectId: 'proj_other', retryAttempts: 0 }, { env: {} });
    try {
      guard = setupFor(backend.url, receiver.url);
      sdk = startSdk(guard);
      await standalone.start();

      await guard.handler.sendEvent({ eventType: 'ip_banned', reason: 'sdk agent' });
      await standalone.sendEvent({ eventType: 'ip_banned', reason: 'standalone 1' });
      await standalone.sendEvent({ eventType: 'rate_limited', reason: 'standalone 2' });
      await standalone.sendMetric({ metricType: 'request_count', value: 3, tags: { endpoint: '/standalone' } });
      await get(`${appUrl}/search`); // observed by the SDK agent's instrumentation only

      await Promise.all([guard.shutdown(5000), standalone.stop(5000)]);
      await sdk.shutdown();
      sdk = undefined;

      assert.deepEqual(backend.events.map((e) => e.reason).sort(), ['sdk agent', 'the app answered 429']);
      assert.deepEqual(other.events.map((e) => e.reason).sort(), ['standalone 1', 'standalone 2']);
      assert.equal(other.metrics.filter((m) => m.metric_type === 'request_count').length, 1);
      assert.equal(backend.metrics.some((m) => (m.tags as Wire).endpoint === '/standalone'), false);
      // The standalone handler's private providers are not the SDK's: nothing of it reaches the collector.
      assert.equal(receiver.logs.some((l) => String(l.attributes['guard.reason']).startsWith('standalone')), false);
      assert.equal(receiver.points('guard.request.count').some((p) => p.attributes.endpoint === '/standalone'), false);
    } finally {
      await standalone.stop(1000);
      await other.stop();
    }
  });
});

describe('guardAgent() refusing its configuration', function () {
  this.timeout(20_000);

  it('a bad otlp URL is a config error naming otlp.url, and leaves nothing running (no Redis connection, no observation)', async () => {
    const redis = await startRedisServer();
    try {
      const clients = async () => Number(/connected_clients:(\d+)/.exec(await redis.command('INFO', 'clients'))?.[1]);
      const before = await clients();
      const observers = () => dc.channel('http.server.request.start').hasSubscribers;
      const observedBefore = observers();
      // Neither parses as an http(s) URL: the first is a URL of scheme 'collector:', which the OTLP exporters take and never reach.
      for (const [url, why] of [['collector:4318', "its scheme is 'collector:'"], ['not a url', 'it does not parse as a URL']]) {
        assert.throws(
          () => guardAgent({ apiKey: KEY, endpoint: 'http://127.0.0.1:9', projectId: 'proj_nodesdk', redisUrl: redis.url, otlp: url, handlerOptions: { env: {} } }),
          (err: unknown) => err instanceof GuardAgentConfigError && err.field === 'otlp.url' && err.message.includes(why),
        );
      }
      // A URL's credentials are never quoted back.
      assert.throws(
        () => guardAgent({ apiKey: KEY, endpoint: 'http://127.0.0.1:9', projectId: 'proj_nodesdk', otlp: 'ftp://user:s3cret@collector', handlerOptions: { env: {} } }),
        (err: unknown) => err instanceof GuardAgentConfigError && !err.message.includes('s3cret'),
      );
      // Before, the handler built before the OTLP parts kept its Redis connections (the process did not exit for 13 s).
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await clients(), before, 'no Redis connection left open');
      if (!observedBefore) assert.equal(observers(), false, 'the instrumentation no longer observes requests');
    } finally {
      await redis.stop();
    }
  });
});
