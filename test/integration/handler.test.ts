import assert from 'node:assert/strict';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { DevBackend } from '../../src/dev-backend/index.js';
import { parseFaultSpec } from '../../src/dev-backend/fault-spec.js';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { GuardAgentConfigError } from '../../src/errors.js';
import { SecurityEvent, SecurityMetric } from '../../src/models/index.js';
import { GOLDEN } from '../helpers/golden.js';
import { until } from '../helpers/until.js';

const KEY = 'test-api-key-0123456789';

function handlerFor(url: string, extra: Record<string, unknown> = {}, options = {}) {
  return new GuardAgentHandler({ apiKey: KEY, endpoint: url, projectId: 'proj_test', flushInterval: 0.2, retryAttempts: 1, backoffFactor: 0.01, ...extra }, { env: {}, drainIntervalMs: 50, ...options });
}


describe('GuardAgentHandler (standalone, real dev backend)', () => {
  let backend: DevBackend;
  let url: string;
  beforeEach(async () => {
    backend = new DevBackend({ apiKeys: [KEY], rules: GOLDEN.rules });
    ({ url } = await backend.start());
  });
  afterEach(async () => {
    await backend.stop();
  });

  it('ships events exactly as @guardcore/core sends them, and metrics aggregated per interval', async () => {
    const h = handlerFor(url);
    await h.start();
    assert.equal(h.isRunning(), true);
    // camelCase, timestamp as a Date or absent, ipAddress 'system'
    await h.sendEvent({ timestamp: new Date(), eventType: 'ip_banned', ipAddress: '198.51.100.7', country: null, userAgent: 'curl/8', actionTaken: 'request_blocked', reason: 'banned', endpoint: '/login', method: 'POST', metadata: { attempts: 5, authorization: 'Bearer abc' } });
    await h.sendEvent({ eventType: 'dynamic_rule_applied', ipAddress: 'system', actionTaken: 'rules_updated', reason: 'Applied rules rs_42 v7' });
    for (let i = 0; i < 10; i++) {
      await h.sendMetric({ timestamp: new Date(), metricType: 'request_count', value: 1.0, tags: { endpoint: '/login', method: 'POST' } });
      await h.sendMetric({ timestamp: new Date(), metricType: 'response_time', value: 0.01 * (i + 1), tags: { endpoint: '/login', method: 'POST', status: '200' } });
    }
    await h.flushBuffer();
    await until(() => backend.events.length === 2 && backend.metrics.length >= 2);
    const banned = backend.events.find((e) => e.event_type === 'ip_banned')!;
    assert.equal(banned.ip_address, '198.51.100.7');
    assert.equal((banned.metadata as Record<string, unknown>).authorization, '[REDACTED]', 'sensitive metadata redacted');
    assert.equal(backend.events.find((e) => e.event_type === 'dynamic_rule_applied')!.ip_address, 'system');
    const count = backend.metrics.filter((m) => m.metric_type === 'request_count').reduce((a, m) => a + Number(m.value), 0);
    assert.equal(count, 10, 'request_count deltas add up');
    const rt = backend.metrics.find((m) => m.metric_type === 'response_time')!;
    assert.equal((rt.tags as Record<string, string>).count, '10');
    assert.ok(Math.abs(Number(rt.value) - 0.055) < 1e-9, 'response_time is the interval mean');
    await h.stop();
    assert.equal(h.isRunning(), false);
  });

  it('ships metadata as it was at sendEvent: later mutation changes nothing; Dates, BigInt and cycles arrive as the codec writes them, counted', async () => {
    const h = handlerFor(url);
    await h.start();
    const meta: Record<string, unknown> = { attempts: 1, nested: { n: 1, list: ['a'] }, headers: { Cookie: 'c=1', accept: '*/*' } };
    await h.sendEvent({ eventType: 'ip_banned', reason: 'mutated later', metadata: meta });
    // The SDK deep-copied the map at emit: none of this reaches the backend.
    meta.attempts = 99;
    meta.added = true;
    (meta.nested as { n: number; list: string[] }).n = 2;
    (meta.nested as { n: number; list: string[] }).list.push('b');
    (meta.headers as Record<string, string>).accept = 'changed';
    const odd: Record<string, unknown> = { when: new Date('2026-01-02T03:04:05.678Z'), big: 12n, authorization: 'Bearer x' };
    odd.self = odd;
    await h.sendEvent({ eventType: 'ip_banned', reason: 'odd values', metadata: odd });
    await h.flushBuffer();
    await until(() => backend.events.length === 2);
    const metaOf = (reason: string) => backend.events.find((e) => e.reason === reason)!.metadata;
    assert.deepEqual(metaOf('mutated later'), { attempts: 1, nested: { n: 1, list: ['a'] }, headers: { Cookie: '[REDACTED]', accept: '*/*' } });
    assert.deepEqual(metaOf('odd values'), { when: '2026-01-02T03:04:05.678Z', big: '[BigInt: 12]', authorization: '[REDACTED]', self: '[Circular]' });
    assert.equal(h.getStats().codec.unencodable, 2, 'the BigInt and the cycle are counted');
    await h.stop();
  });

  it('a burst larger than the SDK queue loses nothing: what the full queue refuses goes to the fallback queue and arrives', async () => {
    // A queue of 50 records and a backend that answers slowly: the SDK batch processor refuses most of a burst of 600.
    const h = handlerFor(url, { maxQueueSize: 50, maxExportBatchSize: 50, flushInterval: 0.05 });
    backend.faults.push({ kind: 'delay', ms: 150, times: 3 });
    const batchIds: (string | null)[] = [];
    backend.on('batch', (b: { record: { batchId: string | null } }) => batchIds.push(b.record.batchId));
    await h.start();
    const n = 600;
    const sends = [];
    for (let i = 0; i < n; i++) sends.push(h.sendEvent({ eventType: 'rate_limited', ipAddress: `198.51.100.${i % 250}`, reason: `burst ${i}`, metadata: { i } }));
    await Promise.all(sends);
    const during = h.getStats();
    assert.ok(during.sdk.sdkQueueRescued > 0, 'the SDK queue refused part of the burst');
    await h.flushBuffer(10_000);
    await until(() => backend.stats.eventsReceived >= n, 10_000);
    const reasons = new Set(backend.events.map((e) => e.reason));
    for (let i = 0; i < n; i++) assert.ok(reasons.has(`burst ${i}`), `event ${i} arrived`);
    const st = h.getStats();
    assert.equal(st.dropped.sdkQueue, 0, 'nothing lost to the SDK queue');
    assert.equal(st.sdk.sdkQueueRescued, st.sdkQueueRescued, 'every refused record was queued');
    assert.ok(st.sdkQueueRescued > 0);
    assert.equal(st.sdk.sdkQueueDropped, 0);
    // Each arrived once: the rescued ones went only to the queue, not also through the SDK.
    assert.equal(backend.stats.eventsReceived, n);
    assert.equal(backend.stats.duplicateEvents, 0);
    // Queued batches (the rescued events among them) carry the protocol's batch id form, like live ones.
    for (const id of batchIds) assert.match(String(id), /^\d+-[0-9a-f]{8}$/);
    await h.stop();
  });

  it('stop() right after such a burst still delivers every event (the refused ones are queued before the final drain)', async () => {
    const h = handlerFor(url, { maxQueueSize: 50, maxExportBatchSize: 50, flushInterval: 60 });
    await h.start();
    const n = 400;
    await Promise.all(Array.from({ length: n }, (_, i) => h.sendEvent({ eventType: 'ip_banned', ipAddress: '203.0.113.5', reason: `stop burst ${i}` })));
    await h.stop(10_000);
    assert.equal(backend.stats.eventsReceived, n);
    assert.equal(new Set(backend.events.map((e) => e.reason)).size, n);
    const st = h.getStats();
    assert.ok(st.sdkQueueRescued > 0, 'part of the burst went through the fallback queue');
    assert.equal(st.dropped.sdkQueue, 0);
  });

  it('never throws on a stopped agent, disabled kinds or invalid input, and counts the drops', async () => {
    const h = handlerFor(url, { enableMetrics: false });
    await h.start();
    await h.sendEvent({ ipAddress: 'no type' });
    await h.sendEvent(42);
    await h.sendMetric({ metricType: 'request_count', value: 1 });
    await h.stop();
    await h.sendEvent({ eventType: 'ip_banned' });
    const d = h.getStats().dropped.atIngest;
    assert.deepEqual(d, { invalid: 2, disabled: 1, agent_stopped: 1 });
  });

  it('refuses a negative count sample (an OTel counter would ignore it silently) and counts it invalid', async () => {
    const h = handlerFor(url);
    await h.start();
    await h.sendMetric({ metricType: 'request_count', value: -3, endpoint: '/neg' });
    await h.sendMetric({ metricType: 'request_count', value: 2, endpoint: '/neg' });
    await h.sendMetric({ metricType: 'threat_level', value: -0.5, endpoint: '/neg' }); // a gauge may go below zero
    await h.stop();
    const stats = h.getStats();
    assert.deepEqual(stats.dropped.atIngest, { invalid: 1 });
    const neg = backend.metrics.filter((m) => (m.tags as Record<string, string>).endpoint === '/neg');
    assert.deepEqual(neg.map((m) => [m.metric_type, m.value]).sort(), [['request_count', 2], ['threat_level', -0.5]]);
  });

  it('refuses a negative response time (the SDK histogram would drop it silently) and counts it invalid', async () => {
    const h = handlerFor(url);
    await h.start();
    await h.sendMetric({ metricType: 'response_time', value: -0.2, endpoint: '/rt' });
    await h.sendMetric({ metricType: 'response_time', value: 0.2, endpoint: '/rt' });
    await h.stop();
    const stats = h.getStats();
    assert.deepEqual(stats.dropped.atIngest, { invalid: 1 }, 'before, it was counted accepted and never reached the backend');
    assert.equal(stats.metricsAccepted, 1);
    const rt = backend.metrics.filter((m) => m.metric_type === 'response_time');
    assert.deepEqual(rt.map((m) => [m.value, (m.tags as Record<string, string>).count]), [[0.2, '1']]);
  });

  it('refuses a response time tagged count, min or max (the record carries its own there), naming the tag', async () => {
    const warnings: string[] = [];
    diag.setLogger({ error: () => undefined, warn: (m: string) => warnings.push(m), info: () => undefined, debug: () => undefined, verbose: () => undefined }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
    try {
      const h = handlerFor(url);
      await h.start();
      await h.sendMetric({ metricType: 'response_time', value: 0.1, tags: { endpoint: '/c', count: 'mine' } });
      await h.sendMetric({ metricType: 'response_time', value: 0.3, tags: { endpoint: '/c', max: 'x' } });
      await h.sendMetric({ metricType: 'response_time', value: 0.2, tags: { endpoint: '/c' } });
      await h.sendMetric({ metricType: 'request_count', value: 1, tags: { endpoint: '/c', count: 'any' } }); // only response_time sets these
      await h.stop();
      assert.deepEqual(h.getStats().dropped.atIngest, { invalid: 2 });
      assert.ok(warnings.some((w) => w.includes('tags.count')) && warnings.some((w) => w.includes('tags.max')), warnings.join('\n'));
      const rt = backend.metrics.filter((m) => m.metric_type === 'response_time');
      // Before: all three were sent, the app's count 'mine' and max 'x' overwritten by the interval's count and max.
      assert.deepEqual(rt.map((m) => [m.value, m.tags]), [[0.2, { endpoint: '/c', count: '1', min: '0.2', max: '0.2' }]]);
      assert.deepEqual(backend.metrics.filter((m) => m.metric_type === 'request_count').map((m) => m.tags), [{ endpoint: '/c', count: 'any' }]);
    } finally {
      diag.disable();
    }
  });

  it('refuses a summed sample above 2^53 - 1 and counts it invalid: the valid samples of its series still arrive', async () => {
    const h = handlerFor(url);
    await h.start();
    await h.sendMetric({ metricType: 'bandwidth_usage', value: 1e308, endpoint: '/huge' });
    await h.sendMetric({ metricType: 'bandwidth_usage', value: 1e308, endpoint: '/huge' });
    await h.sendMetric({ metricType: 'bandwidth_usage', value: 5, endpoint: '/huge' });
    await h.sendMetric({ metricType: 'response_time', value: 1e20, endpoint: '/huge' });
    await h.sendMetric({ metricType: 'response_time', value: 0.25, endpoint: '/huge' });
    await h.sendMetric({ metricType: 'request_count', value: Number.MAX_SAFE_INTEGER, endpoint: '/max' });
    await h.sendMetric({ metricType: 'threat_level', value: 1e300, endpoint: '/huge' }); // a level is not summed
    await h.stop();
    const stats = h.getStats();
    assert.deepEqual(stats.dropped.atIngest, { invalid: 3 });
    const sent = backend.metrics.map((m) => [m.metric_type, (m.tags as Record<string, string>).endpoint, m.value]).sort();
    // Before: the two 1e308 made the interval's sum Infinity and the whole series (the 5 too) was skipped; 1e20 s hid the 0.25 s.
    assert.deepEqual(sent, [
      ['bandwidth_usage', '/huge', 5],
      ['request_count', '/max', Number.MAX_SAFE_INTEGER],
      ['response_time', '/huge', 0.25],
      ['threat_level', '/huge', 1e300],
    ]);
  });

  it('flushBuffer exports a metric sample sent while a periodic metric export is in flight', async () => {
    const h = handlerFor(url, { flushInterval: 0.1 });
    await h.start();
    // The timer's export waits on a slow backend; the sample below comes after its collection.
    backend.faults.push({ kind: 'delay', ms: 500, times: 1 });
    await h.sendMetric({ metricType: 'request_count', value: 1, endpoint: '/early' });
    await until('a metric export in flight', () => h.getStats().metricExporter.inFlight > 0);
    await h.sendMetric({ metricType: 'request_count', value: 2, endpoint: '/late' });
    await h.flushBuffer();
    const sent = backend.metrics.map((m) => [(m.tags as Record<string, string>).endpoint, m.value]).sort();
    assert.deepEqual(sent, [['/early', 1], ['/late', 2]], 'before, flushBuffer joined the export in flight and /late waited for the next interval');
    await h.stop();
  });

  it('a clean start, send and stop logs no error', async () => {
    const errors: string[] = [];
    const log = (m: string) => errors.push(m);
    diag.setLogger({ error: log, warn: () => undefined, info: () => undefined, debug: () => undefined, verbose: () => undefined }, { logLevel: DiagLogLevel.ERROR, suppressOverrideMessage: true });
    try {
      const h = handlerFor(url);
      await h.start();
      await h.sendEvent({ eventType: 'ip_banned', reason: 'clean' });
      await h.sendMetric({ metricType: 'request_count', value: 1 });
      await h.stop();
      assert.equal(backend.events.length, 1);
      assert.deepEqual(errors, [], 'before, every stop logged "Cannot call shutdown twice." (the reader shut down by the pipeline, then by the agent\'s MeterProvider)');
    } finally {
      diag.disable();
    }
  });

  it('stop() is bounded by its deadline even when the backend hangs', async () => {
    backend.faults.push({ kind: 'delay', ms: 20_000, times: Infinity });
    const h = handlerFor(url, { timeout: 30 });
    await h.start();
    await h.sendEvent({ eventType: 'ip_banned', ipAddress: '10.0.0.1' });
    const t = Date.now();
    await h.stop(1500);
    assert.ok(Date.now() - t < 3500, `stop took ${Date.now() - t} ms`);
    backend.faults.clear();
  });

  it('two handlers in one process work independently', async () => {
    const other = new DevBackend({ apiKeys: [KEY] });
    const { url: url2 } = await other.start();
    const a = handlerFor(url);
    const b = handlerFor(url2);
    await a.start();
    await b.start();
    await a.sendEvent({ eventType: 'ip_banned', reason: 'a' });
    await b.sendEvent({ eventType: 'ip_banned', reason: 'b' });
    await b.sendEvent({ eventType: 'ip_banned', reason: 'b2' });
    await Promise.all([a.flushBuffer(), b.flushBuffer()]);
    await until(() => backend.events.length === 1 && other.events.length === 2);
    assert.deepEqual(backend.events.map((e) => e.reason), ['a']);
    await Promise.all([a.stop(), b.stop()]);
    await other.stop();
  });

  it('healthCheck is false on an auth failure, and updateConfig({ apiKey }) recovers without losing the events', async () => {
    const h = handlerFor(url, { apiKey: 'wrong-key-0123456789' });
    await h.start();
    assert.equal(await h.healthCheck(), true, 'nothing needed sending yet');
    await h.sendEvent({ eventType: 'ip_banned', reason: 'kept through the auth failure' });
    await h.flushBuffer(3000);
    assert.equal(await h.healthCheck(), false);
    assert.equal((await h.getStatus()).status, 'failed');
    assert.equal(backend.events.length, 0);
    await h.updateConfig({ apiKey: KEY });
    await h.flushBuffer(3000);
    await until(() => backend.events.length === 1);
    assert.equal(await h.healthCheck(), true);
    await h.stop();
  });

  it('healthCheck stays false while the backend refuses the waiting data: a rules fetch or a heartbeat it answers is not a delivery', async () => {
    backend.faults.push(parseFaultSpec('successfalsexinf'));
    const h = handlerFor(url, { enableMetrics: false });
    await h.start();
    await h.sendEvent({ eventType: 'ip_banned', reason: 'refused: events quota' });
    await h.flushBuffer(3000);
    assert.equal(h.getStats().queue.depthItems, 1, 'the refused event waits in the queue');
    assert.equal(await h.healthCheck(), false);
    // Before, any 2xx counted as "the backend accepted data recently": a rules GET made the agent healthy.
    await h.getDynamicRules();
    await h.sendStatus();
    assert.equal(backend.events.length, 0);
    assert.equal(await h.healthCheck(), false);
    await h.stop();
  });

  it('initializeRedis with something that is no Redis client (a URL string, a number) is refused with a diagnostic; the agent runs and stops as before', async () => {
    const h = handlerFor(url);
    await h.start();
    const errors: string[] = [];
    diag.setLogger({ error: (m: string) => void errors.push(m), warn: () => undefined, info: () => undefined, debug: () => undefined, verbose: () => undefined }, DiagLogLevel.ERROR);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.prependListener('unhandledRejection', onUnhandled);
    try {
      await h.sendEvent({ eventType: 'ip_banned', reason: 'before' });
      // Before, the queue built around it threw in its start (client.on is not a function), an unhandled rejection that ended the process.
      for (const bad of ['redis://127.0.0.1:6379', 42]) await h.initializeRedis(bad);
      await new Promise((r) => setTimeout(r, 50));
      await h.sendEvent({ eventType: 'ip_banned', reason: 'after' });
      await h.stop(3000);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      diag.disable();
    }
    assert.deepEqual(unhandled, []);
    assert.equal(errors.filter((m) => /initializeRedis expects/.test(m)).length, 2, errors.join('\n'));
    assert.ok(!errors.some((m) => /stop failed/.test(m)), errors.join('\n'));
    assert.deepEqual(backend.events.map((e) => e.reason).sort(), ['after', 'before']);
    assert.equal(h.getStats().queue.backend, 'memory');
  });

  it('a SecurityEvent or SecurityMetric instance the app passes is never changed: what is sent is redacted and cut, the instance keeps its data', async () => {
    const h = handlerFor(url, { maxEventBytes: 2048 });
    await h.start();
    const metadata = { authorization: 'Bearer app-secret', note: 'kept' };
    const event = new SecurityEvent({ eventType: 'ip_banned', ipAddress: '198.51.100.5', reason: 'instance', metadata });
    const big = new SecurityEvent({ eventType: 'ip_banned', ipAddress: '198.51.100.5', reason: 'instance, oversize', metadata: { rows: Array.from({ length: 500 }, (_, i) => i) } });
    const bigMetadata = big.metadata;
    const metric = new SecurityMetric({ metricType: 'request_count', value: 1, tags: { authorization: 'Bearer app-secret', endpoint: '/login' } });
    const tags = metric.tags;
    await h.sendEvent(event);
    await h.sendEvent(big);
    await h.sendMetric(metric);
    await h.flushBuffer(3000);
    await until(() => backend.events.length === 2 && backend.metrics.length === 1);
    const sent = backend.events.find((e) => e.reason === 'instance')!;
    assert.deepEqual(sent.metadata, { authorization: '[REDACTED]', note: 'kept' });
    assert.equal((backend.events.find((e) => e.reason === 'instance, oversize')!.metadata as Record<string, unknown>)._guard_truncated, true);
    assert.equal((backend.metrics[0].tags as Record<string, string>).authorization, '[REDACTED]');
    assert.equal(event.metadata, metadata, 'the instance keeps its own metadata object');
    assert.equal(event.metadata.authorization, 'Bearer app-secret');
    assert.equal(big.metadata, bigMetadata);
    assert.equal(metric.tags, tags);
    assert.equal(metric.tags.authorization, 'Bearer app-secret');
    await h.stop();
  });

  it('a key refused for the rules alone (403 on GET /api/v1/rules: ingest-only, or a plan without rules) does not stop events', async () => {
    backend.faults.push({ kind: 'status', status: 403, path: '/api/v1/rules', times: Infinity, body: { detail: 'Rules are not part of this plan' } });
    const h = handlerFor(url, {}, { rulesIntervalMs: 50 });
    await h.start();
    await until('a refused rules fetch', () => h.getStats().rules.failures >= 2);
    for (let i = 0; i < 5; i++) await h.sendEvent({ eventType: 'ip_banned', ipAddress: '198.51.100.4', reason: `after the refusal ${i}` });
    await h.flushBuffer(3000);
    assert.equal(backend.events.length, 5, 'delivered at once, not held for an auth probe');
    assert.equal(h.getStats().transport.authFailed, false);
    assert.equal(await h.healthCheck(), true);
    assert.equal(await h.getDynamicRules(), null);
    await h.stop();
  });

  it('updateConfig({ maxEventBytes }) applies live: an event sent after it is truncated to the new cap, as with the cap set at construction', async () => {
    const h = handlerFor(url);
    await h.start();
    await h.updateConfig({ maxEventBytes: 2048 });
    await h.sendEvent({ eventType: 'ip_banned', reason: 'large', metadata: { blob: 'x'.repeat(10_000) } });
    await h.flushBuffer(3000);
    await until(() => backend.events.length === 1);
    const sent = backend.events[0];
    // Before, the exporter kept the cap it was built with (64 KiB): the event arrived whole, 10,370 bytes.
    assert.ok(Buffer.byteLength(JSON.stringify(sent)) <= 2048, `${Buffer.byteLength(JSON.stringify(sent))} bytes`);
    assert.equal((sent.metadata as Record<string, unknown>)._guard_truncated, true);
    await h.stop();
  });

  it('updateConfig({ projectId: null }) stops the rules poll (projectId enables it); setting one again starts it', async () => {
    let ruleGets = 0;
    backend.on('request', (r: { method: string; path: string }) => void (r.method === 'GET' && r.path === '/api/v1/rules' && ruleGets++));
    const h = handlerFor(url, {}, { rulesIntervalMs: 30 });
    await h.start();
    await until('a rules poll', () => ruleGets >= 2);
    await h.updateConfig({ projectId: null });
    await new Promise((r) => setTimeout(r, 60));
    const after = ruleGets;
    await new Promise((r) => setTimeout(r, 200));
    // Before, the poll went on every interval without a project (6 more GETs here).
    assert.equal(ruleGets, after, 'no rules poll without a projectId');
    await h.updateConfig({ projectId: 'proj_test' });
    await until('the poll again', () => ruleGets > after);
    await h.stop();
  });

  it('updateConfig applies a new flush interval live and rejects invalid values', async () => {
    const h = handlerFor(url, { flushInterval: 60 });
    await h.start();
    await h.sendEvent({ eventType: 'ip_banned', reason: 'before' });
    await h.updateConfig({ flushInterval: 0.1 });
    await h.sendEvent({ eventType: 'ip_banned', reason: 'after' });
    await until(() => backend.events.length === 2, 4000); // no manual flush: the new interval did it
    await assert.rejects(h.updateConfig({ timeout: -1 }), GuardAgentConfigError);
    await h.stop();
  });

  it('updateConfig swapping the batch processor resolves while steady traffic keeps a slow backend busy, and every event arrives', async () => {
    backend.faults.push({ kind: 'delay', ms: 300, times: Infinity });
    const h = handlerFor(url, { flushInterval: 0.1, maxExportBatchSize: 50, retryAttempts: 0, rateLimit: { maxCalls: 100_000, windowMs: 1000 } });
    await h.start();
    let sent = 0;
    const traffic = setInterval(() => {
      for (let i = 0; i < 20; i++) void h.sendEvent({ eventType: 'ip_banned', ipAddress: '203.0.113.9', reason: `steady ${sent++}` });
    }, 10);
    try {
      await new Promise((r) => setTimeout(r, 500));
      let applied = false;
      const update = h.updateConfig({ flushInterval: 0.2, maxExportBatchSize: 40 }).then(() => (applied = true));
      // Before, it waited for every export of the shared exporter, the new processor's included: as long as the traffic lasted.
      await until(() => applied, 3000);
      await update;
      assert.equal(h.getConfig().maxExportBatchSize, 40);
    } finally {
      clearInterval(traffic);
    }
    backend.faults.clear();
    await h.stop(10_000);
    const got = new Set(backend.events.map((e) => String(e.reason)));
    assert.equal(got.size, sent, `all ${sent} events arrived, each once`);
    assert.equal(backend.events.length, sent);
  });

  it('posts a status heartbeat whose counters reflect the recent past', async () => {
    const h = handlerFor(url);
    await h.start();
    await h.sendEvent({ eventType: 'ip_banned' });
    await h.flushBuffer();
    assert.equal(await h.sendStatus(), true);
    const st = backend.statuses.at(-1)!;
    assert.equal(st.status, 'healthy');
    assert.equal(st.events_sent, 1);
    assert.equal(st.project_id, 'proj_test');
    await h.stop();
  });

  it('the heartbeat counts security events in events_sent/events_failed, as the reference agent does; metric records travel apart', async () => {
    const h = handlerFor(url);
    await h.start();
    await h.sendEvent({ eventType: 'ip_banned' });
    for (const endpoint of ['/a', '/b', '/c']) await h.sendMetric({ metricType: 'request_count', value: 1, tags: { endpoint } });
    await h.flushBuffer();
    await until(() => backend.events.length === 1 && backend.metrics.length === 3);
    assert.equal(await h.sendStatus(), true);
    const st = backend.statuses.at(-1)!;
    // Before, events_sent was 4: the 3 metric records were counted as events sent.
    assert.equal(st.events_sent, 1);
    assert.equal(st.events_failed, 0);
    assert.equal(st.metrics_sent, 3);
    assert.equal(st.events_sent_total, 1);
    assert.equal(st.metrics_sent_total, 3);
    await h.stop();
  });

  it("the heartbeat's last_flush is the agent's last export, the SDK's scheduled ones included, not only flushBuffer()", async () => {
    const h = handlerFor(url, { flushInterval: 0.1 });
    await h.start();
    const before = Date.now();
    await h.sendEvent({ eventType: 'ip_banned' });
    await until('the scheduled export', () => backend.events.length === 1);
    assert.equal(await h.sendStatus(), true);
    // Before, last_flush stayed null until the app called flushBuffer(): the reference's is its buffer's every flush.
    const lastFlush = backend.statuses.at(-1)!.last_flush;
    assert.equal(typeof lastFlush, 'string', `last_flush: ${String(lastFlush)}`);
    assert.ok(Date.parse(lastFlush as string) >= before - 5);
    await h.stop();
  });

  it("the heartbeat's buffer_size counts what waits in memory, the memory fallback queue included (no Redis, backend down)", async () => {
    backend.faults.push(parseFaultSpec('503xinf'));
    const h = handlerFor(url, { enableMetrics: false });
    await h.start();
    for (let i = 0; i < 3; i++) await h.sendEvent({ eventType: 'ip_banned', reason: `waiting ${i}` });
    await h.flushBuffer(2000);
    assert.equal(h.getStats().queue.depthItems, 3);
    // Before, 0: only the SDK processor's queue was counted, and the exported events had left it for the memory queue.
    assert.equal((await h.getStatus()).bufferSize, 3);
    backend.faults.clear();
    await h.stop(3000);
  });

  it('getDynamicRules returns the camelCase rules and keeps the last good ones when a fetch fails', async () => {
    const h = handlerFor(url);
    await h.start();
    const rules = await h.getDynamicRules();
    assert.equal(rules?.ruleId, 'rs_42');
    assert.deepEqual(rules?.endpointRateLimits, { '/api/login': [5, 60] });
    backend.setRules({ rule_id: 'rs_42', version: 'not-a-number' });
    await (h as unknown as { rules: { refresh(): Promise<unknown> } }).rules.refresh();
    assert.equal((await h.getDynamicRules())?.version, 7, 'bad payload does not displace good rules');
    await h.flushBuffer();
    await until(() => backend.events.some((e) => e.event_type === 'dynamic_rule_updated'));
    await h.stop();
  });
});
