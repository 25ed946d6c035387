// HTTPTransport against the real dev backend on 127.0.0.1: every outcome row of the
// response table (reference 3.4 as fixed by section 11), retries, breaker, auth mode, 413 split.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG } from '../../src/config.js';
import type { AgentConfig } from '../../src/config-types.js';
import { DevBackend } from '../../src/dev-backend/index.js';
import { SecurityEvent, SecurityMetric } from '../../src/models/index.js';
import { generateBatchId } from '../../src/transport/batch-builder.js';
import { HTTPTransport } from '../../src/transport/http-transport.js';
import type { WireBatch } from '../../src/transport/types.js';
import { USER_AGENT } from '../../src/version.js';

const KEY = 'fg_test_key_0123456789';
const PROJECT = 'proj_T1';

let seq = 0;
function eventItem(extra: Record<string, unknown> = {}): { item: string; key: string } {
  const key = `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`;
  const item = JSON.stringify({
    idempotency_key: key,
    timestamp: new Date(1_788_357_791_000 + seq).toISOString(),
    event_type: 'rate_limited',
    ip_address: '198.51.100.23',
    action_taken: 'request_blocked',
    reason: 'Rate limit exceeded',
    metadata: { n: seq },
    ...extra,
  });
  return { item, key };
}

function eventBatch(n: number, extra: Record<string, unknown> = {}): WireBatch {
  const made = Array.from({ length: n }, () => eventItem(extra));
  return { kind: 'events', batchId: generateBatchId(), items: made.map((m) => m.item), idempotencyKeys: made.map((m) => m.key), createdAt: Date.now() };
}

function events(n: number): SecurityEvent[] {
  return Array.from(
    { length: n },
    (_, i) =>
      new SecurityEvent({
        eventType: 'suspicious_request',
        ipAddress: `203.0.113.${i % 250}`,
        actionTaken: 'logged',
        reason: 'pattern matched',
        metadata: { i, pad: 'p'.repeat(200) },
      }),
  );
}

describe('HTTPTransport against the dev backend', () => {
  let backend: DevBackend;
  let url: string;
  let home: string;
  let offset: number;
  const now = (): number => Date.now() + offset;
  const transports: HTTPTransport[] = [];

  function make(over: Partial<AgentConfig> = {}, opts: { random?: () => number } = {}): HTTPTransport {
    const config: AgentConfig = {
      ...DEFAULT_CONFIG,
      apiKey: KEY,
      endpoint: url,
      projectId: PROJECT,
      backoffFactor: 0.01,
      maxBackoff: 0.05,
      timeout: 2,
      retryAttempts: 2,
      flushInterval: 1,
      ...over,
    };
    const t = new HTTPTransport(config, { installIdHomeDir: home, now, ...opts });
    transports.push(t);
    return t;
  }

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'transport-home-'));
    backend = new DevBackend({ apiKeys: [KEY], projectId: PROJECT });
    url = (await backend.start()).url;
  });
  after(async () => {
    await backend.stop();
    rmSync(home, { recursive: true, force: true });
  });
  beforeEach(() => {
    backend.reset();
    offset = 0;
  });
  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close()));
  });

  it("leaves nothing attached to a caller's long-lived abort signal after its requests (no AbortSignal.any pile-up)", async () => {
    // The exporter and the drainer pass one signal for the agent's whole life. AbortSignal.any() on Node 20 kept every
    // signal combined with it: one per request, never freed (nodejs/node#55351).
    const t = make({ retryAttempts: 0, rateLimit: { maxCalls: 1000, windowMs: 60_000 } });
    const lifelong = new AbortController().signal;
    for (let i = 0; i < 200; i++) assert.equal((await t.sendBatch(eventBatch(1), { signal: lifelong })).outcome, 'delivered');
    assert.equal(getEventListeners(lifelong, 'abort').length, 0, 'no listener left');
    const dependants = Object.getOwnPropertySymbols(lifelong).find((sym) => sym.description === 'kDependantSignals');
    const held = dependants === undefined ? 0 : ((lifelong as unknown as Record<symbol, Set<unknown> | undefined>)[dependants]?.size ?? 0);
    assert.equal(held, 0, `signals held by the lifelong one (${held})`);
  });

  it('a request in flight still ends when its caller aborts', async () => {
    backend.faults.push({ kind: 'delay', ms: 5000 });
    const t = make({ retryAttempts: 0 });
    const caller = new AbortController();
    const started = Date.now();
    const sending = t.sendBatch(eventBatch(1), { signal: caller.signal });
    setTimeout(() => caller.abort(), 100);
    const report = await sending;
    assert.notEqual(report.outcome, 'delivered');
    assert.ok(Date.now() - started < 2000, `ended ${Date.now() - started} ms after it started`);
    assert.equal(getEventListeners(caller.signal, 'abort').length, 0);
  });

  it('delivers a batch with the protocol headers and body, and counts it', async () => {
    const t = make();
    const batch = eventBatch(3);
    const report = await t.sendBatch(batch);
    assert.deepEqual(report, { outcome: 'delivered', delivered: 3, dropped: [], pending: [], lastStatus: 200 });
    assert.equal(backend.events.length, 3);
    const rec = backend.batches[0];
    assert.equal(rec.path, '/api/v1/events');
    assert.equal(rec.batchId, batch.batchId);
    assert.equal(rec.headers['user-agent'], USER_AGENT);
    assert.equal(rec.headers['content-type'], 'application/json');
    assert.equal(rec.headers['x-api-key'], KEY);
    assert.equal(rec.headers['x-project-id'], PROJECT);
    assert.equal(rec.headers['x-agent-install-id'], t.getInstallId());
    assert.match(t.getInstallId(), /^[0-9a-f-]{36}$/);
    assert.equal(rec.headers['x-payload-signature'], undefined);
    const s = t.getStats();
    assert.equal(s.requestsSent, 1);
    assert.equal(s.itemsDelivered, 3);
    assert.equal(s.batchesDelivered, 1);
    assert.equal(s.bytesSent, rec.rawBytes);
    assert.equal(s.lastStatus, 200);
    assert.ok(s.lastSuccessAt);
    assert.equal(t.isHealthy(), true);
  });

  it('sends X-Project-ID only when projectId is set, and normalises a /api/v1/ endpoint', async () => {
    await backend.stop();
    backend = new DevBackend({ apiKeys: [KEY] });
    url = (await backend.start()).url;
    const t = make({ projectId: null, endpoint: `${url}/api/v1/` });
    assert.equal((await t.sendBatch(eventBatch(1))).outcome, 'delivered');
    assert.equal(backend.batches[0].path, '/api/v1/events');
    assert.equal(backend.batches[0].headers['x-project-id'], undefined);
    await backend.stop();
    backend = new DevBackend({ apiKeys: [KEY], projectId: PROJECT });
    url = (await backend.start()).url;
  });

  it('encodes and sends SecurityEvents and SecurityMetrics, metrics to /api/v1/metrics', async () => {
    const t = make();
    const r1 = await t.sendEvents(events(4));
    assert.equal(r1.outcome, 'delivered');
    assert.equal(r1.delivered, 4);
    const r2 = await t.sendMetrics([
      new SecurityMetric({ metricType: 'request_count', value: 3, tags: { endpoint: '/a' } }),
      new SecurityMetric({ metricType: 'response_time', value: 0.2 }),
    ]);
    assert.equal(r2.delivered, 2);
    assert.equal(backend.events.length, 4);
    assert.equal(backend.metrics.length, 2);
    assert.deepEqual(backend.batches.map((b) => b.path), ['/api/v1/events', '/api/v1/metrics']);
    assert.equal((await t.sendEvents([])).outcome, 'delivered');
  });

  it('gzips at the compression threshold and not one byte below it', async () => {
    const batch = eventBatch(5);
    const probe = make({ compressionThreshold: 1_000_000 });
    await probe.sendBatch(batch);
    const size = backend.batches[0].decodedBytes;
    assert.equal(backend.batches[0].gzip, false);
    await probe.sendBatch({ ...batch }); // duplicate keys are fine: the backend dedups
    make({ compressionThreshold: size });
    make({ compressionThreshold: size + 1 });
    await transports[1].sendBatch(batch);
    await transports[2].sendBatch(batch);
    const [atThreshold, below] = backend.batches.slice(2);
    assert.equal(atThreshold.gzip, true, 'body length == threshold is gzipped');
    assert.equal(atThreshold.decodedBytes, size);
    assert.ok(atThreshold.rawBytes < size);
    assert.equal(atThreshold.headers['content-encoding'], 'gzip');
    assert.equal(below.gzip, false, 'body length == threshold - 1 is not');
    assert.equal(below.headers['content-encoding'], undefined);
  });

  it('retries 5xx with the same batch_id and delivers', async () => {
    backend.faults.push({ kind: 'status', status: 503, times: 2 });
    const t = make();
    const batch = eventBatch(2);
    const r = await t.sendBatch(batch);
    assert.equal(r.outcome, 'delivered');
    assert.deepEqual(backend.batches.map((b) => [b.status, b.batchId]), [
      [503, batch.batchId],
      [503, batch.batchId],
      [200, batch.batchId],
    ]);
    const s = t.getStats();
    assert.equal(s.retries, 2);
    assert.equal(s.failuresByClass['5xx'], 2);
    assert.equal(s.requestsSent, 3);
    assert.equal(s.requestsFailed, 2);
  });

  it('returns the batch pending (same batch_id, attempts counted) when the retry budget runs out', async () => {
    backend.faults.push({ kind: 'status', status: 500, times: 3, body: '<html>\n  maintenance   page </html>' });
    const t = make({ retryAttempts: 2 });
    const batch = eventBatch(2);
    const r = await t.sendBatch(batch);
    assert.equal(r.outcome, 'retry_later');
    assert.equal(r.lastStatus, 500);
    assert.equal(r.pending.length, 1);
    assert.equal(r.pending[0].batchId, batch.batchId);
    assert.deepEqual(r.pending[0].items, batch.items);
    assert.equal(r.pending[0].attempts, 3);
    assert.equal(backend.batches.length, 3);
  });

  it('retries connection resets and timeouts, classifying them', async () => {
    backend.faults.push({ kind: 'reset' }, { kind: 'delay', ms: 400 });
    const t = make({ timeout: 0.15 });
    const r = await t.sendBatch(eventBatch(1));
    assert.equal(r.outcome, 'delivered');
    const s = t.getStats();
    assert.equal(s.failuresByClass.network, 1);
    assert.equal(s.failuresByClass.timeout, 1);
    assert.equal(s.retries, 2);
  });

  it('retries an unexpected status (409) with backoff, as class other; 202/204 and non-JSON 2xx are success', async () => {
    backend.faults.push({ kind: 'status', status: 409 });
    const t = make();
    assert.equal((await t.sendBatch(eventBatch(1))).outcome, 'delivered');
    assert.equal(t.getStats().failuresByClass.other, 1);
    for (const fault of [{ kind: 'status' as const, status: 202, body: '' }, { kind: 'status' as const, status: 204 }, { kind: 'garbage' as const }]) {
      backend.faults.push(fault);
      const r = await t.sendBatch(eventBatch(1));
      assert.equal(r.outcome, 'delivered', JSON.stringify(fault));
      assert.equal(r.delivered, 1);
    }
    backend.faults.push({ kind: 'status', status: 200, body: {} });
    assert.equal((await t.sendBatch(eventBatch(1))).outcome, 'delivered', '200 {} is success');
  });

  it('counts the events a success reply says the backend dropped for an invalid timestamp, and does not resend them', async () => {
    const reply = (dropped: unknown) => ({ success: true, events_received: 3, events_dropped_invalid_timestamp: dropped, metrics_received: 0, events_processed: 3, metrics_processed: 0, errors: null });
    backend.faults.push({ kind: 'status', status: 200, body: reply(2) }, { kind: 'status', status: 200, body: reply('2') }, { kind: 'status', status: 200, body: reply(0) });
    const t = make();
    for (let i = 0; i < 3; i++) assert.equal((await t.sendBatch(eventBatch(3))).outcome, 'delivered');
    const s = t.getStats();
    assert.equal(s.backendDroppedEvents, 2, 'only a positive integer counts');
    assert.equal(s.requestsSent, 3, 'nothing sent again');
  });

  it('honours Retry-After in seconds within the budget', async () => {
    backend.faults.push({ kind: 'status', status: 429, headers: { 'Retry-After': '0.3' } });
    const t = make({ maxBackoff: 1 });
    const t0 = Date.now();
    const r = await t.sendBatch(eventBatch(1));
    const elapsed = Date.now() - t0;
    assert.equal(r.outcome, 'delivered');
    assert.ok(elapsed >= 280, `waited only ${elapsed} ms`);
    assert.equal(t.getStats().failuresByClass['429'], 1);
  });

  it('honours Retry-After as an HTTP-date: a long wait returns the batch pending with retryAfterMs', async () => {
    backend.faults.push({ kind: 'status', status: 429, retryAfterDateSeconds: 120 });
    const t = make({ maxBackoff: 1 });
    const t0 = Date.now();
    const r = await t.sendBatch(eventBatch(1));
    assert.ok(Date.now() - t0 < 1000, 'did not sleep 120 s in the call');
    assert.equal(r.outcome, 'retry_later');
    assert.equal(r.lastStatus, 429);
    assert.ok(r.retryAfterMs !== undefined && r.retryAfterMs > 118_000 && r.retryAfterMs <= 120_000, String(r.retryAfterMs));
    assert.equal(r.pending.length, 1);
  });

  it('uses backoff for a malformed Retry-After, and does not count 429 toward the breaker', async () => {
    backend.faults.push({ kind: 'status', status: 429, times: 6, headers: { 'Retry-After': 'soon' } });
    const t = make({ breaker: { failureThreshold: 2, recoveryTimeoutMs: 60_000 }, retryAttempts: 2 });
    const r1 = await t.sendBatch(eventBatch(1));
    const r2 = await t.sendBatch(eventBatch(1));
    assert.equal(r1.outcome, 'retry_later');
    assert.equal(r2.outcome, 'retry_later');
    assert.equal(t.getStats().failuresByClass['429'], 6);
    assert.equal(t.getStats().breakerState, 'CLOSED');
    assert.equal((await t.sendBatch(eventBatch(1))).outcome, 'delivered');
  });

  for (const status of [400, 404, 422]) {
    it(`drops the batch on ${status} (permanent_rejection), fires onError, does not retry or trip the breaker`, async () => {
      backend.faults.push({ kind: 'status', status, times: 3 });
      const calls: Array<[string, string, Record<string, unknown>]> = [];
      const t = make({ onError: (stage, err, ctx) => calls.push([stage, err.message, ctx]), breaker: { failureThreshold: 1, recoveryTimeoutMs: 60_000 } });
      const r = await t.sendBatch(eventBatch(3));
      assert.equal(r.outcome, 'delivered');
      assert.deepEqual(r.dropped, [{ count: 3, reason: 'permanent_rejection' }]);
      assert.deepEqual(r.pending, []);
      assert.equal(backend.batches.length, 1);
      assert.equal(calls.length, 1);
      assert.equal(calls[0][0], 'transport_send');
      assert.deepEqual(calls[0][2], { dataType: 'events', itemCount: 3, status });
      const s = t.getStats();
      assert.equal(s.dropped.permanent_rejection, 3);
      assert.equal(s.failuresByClass['4xx_permanent'], 1);
      assert.equal(s.breakerState, 'CLOSED');
    });
  }

  it('413: splits in halves, re-sending only the halves that fail, each with a new batch_id', async () => {
    backend.faults.push({ kind: 'maxItems', max: 2 });
    const t = make();
    const batch = eventBatch(5);
    const r = await t.sendBatch(batch);
    assert.equal(r.outcome, 'delivered');
    assert.equal(r.delivered, 5);
    const recs = backend.batches.map((b) => [b.itemCount, b.status]);
    assert.deepEqual(recs, [
      [5, 413],
      [2, 200],
      [3, 413],
      [1, 200],
      [2, 200],
    ]);
    assert.equal(backend.stats.duplicateEvents, 0, 'no accepted item was re-sent');
    assert.deepEqual(new Set(backend.events.map((e) => e.idempotency_key)), new Set(batch.idempotencyKeys));
    const ids = backend.batches.map((b) => b.batchId);
    assert.equal(ids[0], batch.batchId);
    assert.equal(new Set(ids).size, 5);
    assert.equal(t.getStats().failuresByClass['413'], 2);
  });

  it('413 on a single item drops it as too_large', async () => {
    backend.faults.push({ kind: 'maxItems', max: 0 });
    const errors: string[] = [];
    const t = make({ onError: (_s, e) => errors.push(e.message) });
    const r = await t.sendBatch(eventBatch(2));
    assert.deepEqual(r.dropped, [{ count: 2, reason: 'too_large' }]);
    assert.equal(r.outcome, 'delivered');
    assert.equal(backend.batches.length, 3);
    assert.equal(t.getStats().dropped.too_large, 2);
    assert.equal(errors.length, 2);
  });

  it('success:false backs off with a growing gate and keeps the batch pending; success clears it', async () => {
    backend.faults.push({ kind: 'successFalse', times: 2 });
    const t = make({ flushInterval: 10 });
    const batch = eventBatch(2);
    const r1 = await t.sendBatch(batch);
    assert.equal(r1.outcome, 'retry_later');
    assert.equal(r1.retryAfterMs, 10_000);
    assert.equal(r1.pending[0].batchId, batch.batchId);
    assert.equal(backend.batches.length, 1, 'no retry within the call');
    const gated = await t.sendBatch(batch);
    assert.equal(gated.outcome, 'retry_later');
    assert.ok(gated.retryAfterMs! > 9_000);
    assert.equal(backend.batches.length, 1, 'gated: nothing sent');
    offset += 10_001;
    const r2 = await t.sendBatch(batch);
    assert.equal(r2.retryAfterMs, 20_000, 'streak 2 doubles the gate');
    offset += 20_001;
    const r3 = await t.sendBatch(batch);
    assert.equal(r3.outcome, 'delivered');
    assert.equal((await t.sendBatch(eventBatch(1))).outcome, 'delivered', 'gate cleared');
    assert.equal(t.getStats().failuresByClass.partial, 2);
  });

  it('success:false gates only its own kind: events refused (quota) neither hold metrics back nor have their streak reset by them', async () => {
    backend.faults.push({ kind: 'successFalse', times: Infinity, path: '/api/v1/events' });
    const t = make({ flushInterval: 10 });
    const metric = () => t.sendMetrics([new SecurityMetric({ metricType: 'request_count', value: 1 })]);
    assert.equal((await t.sendBatch(eventBatch(1))).retryAfterMs, 10_000);
    const m1 = await metric();
    assert.equal(m1.outcome, 'delivered', 'metrics are not gated by the events refusal');
    assert.equal(backend.metrics.length, 1);
    offset += 10_001;
    assert.equal((await metric()).outcome, 'delivered');
    assert.equal((await t.sendBatch(eventBatch(1))).retryAfterMs, 20_000, 'a metrics success does not reset the events streak');
    assert.equal((await t.sendBatch(eventBatch(1))).outcome, 'retry_later', 'events still gated');
    assert.equal(backend.batches.filter((b) => b.path === '/api/v1/events').length, 2);
  });

  it('caps the success:false gate at 300 s', async () => {
    backend.faults.push({ kind: 'successFalse', times: 10 });
    const t = make({ flushInterval: 100 });
    let last = 0;
    for (let i = 0; i < 4; i++) {
      last = (await t.sendBatch(eventBatch(1))).retryAfterMs!;
      offset += last + 1;
    }
    assert.equal(last, 300_000);
  });

  it('401/403: keeps data, enters auth-failed mode, probes once a minute; a success clears it', async () => {
    backend.faults.push({ kind: 'status', status: 403 }, { kind: 'status', status: 401 });
    const errs: unknown[] = [];
    const t = make({ onError: (_s, _e, c) => errs.push(c) });
    const batch = eventBatch(2);
    const r1 = await t.sendBatch(batch);
    assert.equal(r1.outcome, 'auth_failed');
    assert.equal(r1.pending[0].batchId, batch.batchId);
    assert.equal(r1.retryAfterMs, 60_000);
    assert.equal(backend.batches.length, 1, 'auth failures are not retried');
    assert.equal(t.getStats().authFailed, true);
    assert.equal(t.isHealthy(), false);
    assert.equal(errs.length, 1);

    offset += 30_000;
    const r2 = await t.sendBatch(batch);
    assert.equal(r2.outcome, 'auth_failed');
    assert.ok(r2.retryAfterMs! <= 30_000 && r2.retryAfterMs! > 29_000);
    assert.equal((await t.fetchRules()).status, 'error');
    assert.equal(await t.sendStatus({ timestamp: new Date(), status: 'healthy', uptime: 1, eventsSent: 0, eventsFailed: 0, bufferSize: 0, lastFlush: null, errors: [] }), false);
    assert.equal(backend.stats.requests, 1, 'no request in auth-failed mode before the probe is due');

    offset += 30_000;
    const [p1, p2] = await Promise.all([t.sendBatch(batch), t.sendBatch(batch)]);
    assert.equal(backend.stats.requests, 2, 'exactly one probe');
    assert.deepEqual([p1.outcome, p2.outcome], ['auth_failed', 'auth_failed']);

    offset += 60_000;
    const r3 = await t.sendBatch(batch);
    assert.equal(r3.outcome, 'delivered');
    assert.equal(t.getStats().authFailed, false);
    assert.equal(t.isHealthy(), true);
    assert.equal(t.getStats().failuresByClass.auth, 2);
  });

  it('a wrong API key: auth-failed until updateConfig brings the right key', async () => {
    const t = make({ apiKey: 'fg_wrong_key_999999' });
    assert.equal((await t.sendBatch(eventBatch(1))).outcome, 'auth_failed');
    assert.equal((await t.sendBatch(eventBatch(1))).outcome, 'auth_failed');
    assert.equal(backend.batches.length, 1);
    t.updateConfig({ ...DEFAULT_CONFIG, apiKey: KEY, endpoint: url, projectId: PROJECT, backoffFactor: 0.01, maxBackoff: 0.05 });
    assert.equal(t.getStats().authFailed, false);
    assert.equal((await t.sendBatch(eventBatch(1))).outcome, 'delivered');
    assert.equal(backend.batches[1].headers['x-api-key'], KEY);
  });

  it('updateConfig switches endpoint, retries and breaker options live', async () => {
    const second = new DevBackend({ apiKeys: [KEY], projectId: PROJECT });
    const { url: url2 } = await second.start();
    try {
      const t = make({ retryAttempts: 0 });
      backend.faults.push({ kind: 'status', status: 503, times: 2 });
      assert.equal((await t.sendBatch(eventBatch(1))).outcome, 'retry_later', 'no retries with retryAttempts 0');
      t.updateConfig({ ...DEFAULT_CONFIG, apiKey: KEY, endpoint: `${url2}/`, projectId: PROJECT, backoffFactor: 0.01, maxBackoff: 0.05, retryAttempts: 1 });
      second.faults.push({ kind: 'status', status: 503 });
      assert.equal((await t.sendBatch(eventBatch(1))).outcome, 'delivered', 'one retry now allowed');
      assert.equal(second.batches.length, 2);
      assert.equal(backend.batches.length, 1);
    } finally {
      await second.stop();
    }
  });

  it('breaker: opens on 5xx, short-circuits, admits exactly one half-open probe, closes on success', async () => {
    backend.faults.push({ kind: 'down' });
    const t = make({ breaker: { failureThreshold: 3, recoveryTimeoutMs: 10_000 }, retryAttempts: 5 });
    const r1 = await t.sendBatch(eventBatch(1));
    assert.equal(backend.batches.length, 3, 'stops retrying once the breaker opens');
    assert.equal(r1.outcome, 'retry_later');
    assert.ok(r1.retryAfterMs! > 9_000);
    assert.equal(t.getStats().breakerState, 'OPEN');
    assert.equal(t.isHealthy(), false);

    const r2 = await t.sendBatch(eventBatch(1));
    assert.equal(r2.outcome, 'breaker_open');
    assert.equal(backend.batches.length, 3);

    backend.faults.clear();
    backend.faults.push({ kind: 'delay', ms: 200 });
    offset += 10_000;
    assert.equal(t.getStats().breakerState, 'HALF_OPEN');
    const [a, b, c] = await Promise.all([t.sendBatch(eventBatch(1)), t.sendBatch(eventBatch(1)), t.sendBatch(eventBatch(1))]);
    assert.deepEqual([a.outcome, b.outcome, c.outcome].sort(), ['breaker_open', 'breaker_open', 'delivered']);
    assert.equal(backend.batches.length, 4, 'a single probe');
    assert.equal(t.getStats().breakerState, 'CLOSED');
    assert.equal((await t.sendBatch(eventBatch(1))).outcome, 'delivered');
  });

  it('breaker: a failed probe reopens it', async () => {
    backend.faults.push({ kind: 'down' });
    const t = make({ breaker: { failureThreshold: 1, recoveryTimeoutMs: 5_000 }, retryAttempts: 0 });
    await t.sendBatch(eventBatch(1));
    assert.equal(t.getStats().breakerState, 'OPEN');
    offset += 5_000;
    await t.sendBatch(eventBatch(1));
    assert.equal(backend.batches.length, 2);
    assert.equal(t.getStats().breakerState, 'OPEN');
    assert.equal((await t.sendBatch(eventBatch(1))).outcome, 'breaker_open');
  });

  it('client-side token bucket: no token, no request', async () => {
    const t = make({ rateLimit: { maxCalls: 2, windowMs: 60_000 } });
    assert.equal((await t.sendBatch(eventBatch(1))).outcome, 'delivered');
    assert.equal((await t.sendBatch(eventBatch(1))).outcome, 'delivered');
    const r = await t.sendBatch(eventBatch(1));
    assert.equal(r.outcome, 'rate_limited_locally');
    assert.equal(r.pending.length, 1);
    assert.ok(r.retryAfterMs! > 29_000 && r.retryAfterMs! <= 30_000);
    assert.equal(backend.batches.length, 2);
    offset += 30_000;
    assert.equal((await t.sendBatch(eventBatch(1))).outcome, 'delivered');
  });

  it('honours the deadline and the abort signal: pending, never lost', async () => {
    backend.faults.push({ kind: 'down' });
    const t = make({ backoffFactor: 0.2, maxBackoff: 5, retryAttempts: 10 }, { random: () => 1 });
    const t0 = Date.now();
    const r = await t.sendBatch(eventBatch(2), { deadline: Date.now() + 300 });
    assert.ok(Date.now() - t0 < 600, `took ${Date.now() - t0} ms`);
    assert.equal(r.pending.length, 1);
    assert.equal(r.pending[0].items.length, 2);

    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t1 = Date.now();
    const r2 = await t.sendBatch(eventBatch(2), { signal: ac.signal });
    assert.ok(Date.now() - t1 < 500);
    assert.equal(r2.outcome, 'retry_later');
    assert.equal(r2.pending[0].items.length, 2);
  });

  it('splits by bytes so no body exceeds maxBodyBytes (plaintext and encrypted)', async () => {
    await backend.stop();
    const key = Buffer.alloc(32, 7).toString('base64url');
    backend = new DevBackend({ apiKeys: [KEY], projectId: PROJECT, maxBodyBytes: 4096, encryptionKey: key });
    url = (await backend.start()).url;
    try {
      const plain = make({ maxBodyBytes: 4096, maxEventBytes: 2048, compressionEnabled: false });
      const r = await plain.sendEvents(events(60));
      assert.equal(r.outcome, 'delivered');
      assert.equal(r.delivered, 60);
      assert.ok(backend.batches.length > 5);
      for (const b of backend.batches) {
        assert.equal(b.status, 200);
        assert.ok(b.decodedBytes <= 4096, `${b.decodedBytes} bytes`);
        assert.ok(b.decodedBytes > 2500, `batches are filled (${b.decodedBytes} bytes)`);
      }
      backend.reset();
      const enc = make({ maxBodyBytes: 4096, maxEventBytes: 2048, projectEncryptionKey: key });
      assert.ok(enc.batchBudget('events').limit < plain.batchBudget('events').limit, 'base64 expansion leaves less room when encrypting');
      const r2 = await enc.sendEvents(events(60));
      assert.equal(r2.delivered, 60);
      assert.equal(backend.events.length, 60);
      for (const b of backend.batches) {
        assert.equal(b.path, '/api/v1/events/encrypted');
        assert.ok(b.decodedBytes <= 4096, `${b.decodedBytes} bytes`);
      }
      // A queued batch built under a larger cap is split before sending, not sent to earn a 413.
      backend.reset();
      const big = eventBatch(40, { metadata: { pad: 'z'.repeat(300) } });
      const r3 = await plain.sendBatch(big);
      assert.equal(r3.delivered, 40);
      assert.ok(backend.batches.every((b) => b.status === 200 && b.decodedBytes <= 4096));
    } finally {
      await backend.stop();
      backend = new DevBackend({ apiKeys: [KEY], projectId: PROJECT });
      url = (await backend.start()).url;
    }
  });

  it('fetches rules with ETag: ok, not_modified, none on 404', async () => {
    backend.setRules({ rule_id: 'rs_1', version: 2, timestamp: '2026-09-02T13:55:00Z', ip_blacklist: ['203.0.113.9'] });
    const t = make();
    const r1 = await t.fetchRules();
    assert.equal(r1.status, 'ok');
    assert.ok(r1.status === 'ok' && r1.etag);
    assert.deepEqual((r1 as { body: { rule_id: string } }).body.rule_id, 'rs_1');
    const r2 = await t.fetchRules((r1 as { etag: string }).etag);
    assert.deepEqual(r2, { status: 'not_modified' });
    backend.setRules(null);
    assert.deepEqual(await t.fetchRules(), { status: 'none' });
    assert.equal(t.getStats().breakerState, 'CLOSED');
  });

  it('GET /rules: a 400 or 422 is final (one request, not retried, breaker untouched), 5xx is retried, 200 {} means no rules', async () => {
    backend.setRules({ rule_id: 'rs_1', version: 2, timestamp: '2026-09-02T13:55:00Z' });
    const t = make({ retryAttempts: 3, breaker: { failureThreshold: 1, recoveryTimeoutMs: 60_000 } });
    for (const status of [400, 422]) {
      backend.faults.push({ kind: 'status', status, times: 4, path: '/api/v1/rules' });
      const before = t.getStats().requestsSent;
      const r = await t.fetchRules();
      assert.equal(r.status, 'error');
      assert.equal((r as { httpStatus?: number }).httpStatus, status);
      assert.equal(t.getStats().requestsSent - before, 1, `${status} is not retried (the Python agent sent it 4 times)`);
      assert.equal(t.getStats().breakerState, 'CLOSED');
      backend.faults.clear();
    }
    const t2 = make({ retryAttempts: 3 });
    backend.faults.push({ kind: 'status', status: 503, times: 2, path: '/api/v1/rules' });
    assert.equal((await t2.fetchRules()).status, 'ok', '5xx is retried within the budget');
    assert.equal(t2.getStats().requestsSent, 3);
    backend.faults.push({ kind: 'status', status: 200, body: {}, path: '/api/v1/rules' });
    assert.deepEqual(await t2.fetchRules(), { status: 'none' }, '200 {} is "no rules", not a failure');
  });

  it('takes a large ruleset whole (10,000 IPs, past the 64 KiB cap of other answers) and refuses one over 8 MiB by its size', async () => {
    const ips = (n: number) => Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    backend.setRules({ rule_id: 'big', version: 1, timestamp: '2026-09-02T13:55:00Z', ip_blacklist: ips(10_000) });
    const t = make();
    const r = await t.fetchRules();
    assert.equal(r.status, 'ok', JSON.stringify(r).slice(0, 200));
    assert.equal((r as { body: { ip_blacklist: string[] } }).body.ip_blacklist.length, 10_000);

    backend.setRules({ rule_id: 'huge', version: 2, timestamp: '2026-09-02T13:55:00Z', ip_blacklist: ips(600_000) });
    const huge = await t.fetchRules();
    assert.equal(huge.status, 'error');
    assert.match((huge as { error: string }).error, /rules response larger than 8388608 bytes/);
  });

  it('sends status heartbeats (never encrypted)', async () => {
    const t = make({ projectEncryptionKey: Buffer.alloc(32, 1).toString('base64url') });
    const ok = await t.sendStatus({
      timestamp: new Date(),
      status: 'degraded',
      uptime: 12.5,
      eventsSent: 3,
      eventsFailed: 1,
      bufferSize: 0,
      lastFlush: null,
      errors: ['Buffer nearly full'],
    });
    assert.equal(ok, true);
    assert.equal(backend.statuses.length, 1);
    assert.equal(backend.batches[0].path, '/api/v1/status');
    assert.equal(backend.batches[0].encrypted, false);
  });

  it('a closed transport hands batches back and does not throw', async () => {
    const t = make();
    await t.close();
    const r = await t.sendBatch(eventBatch(1));
    assert.equal(r.pending.length, 1);
    assert.equal((await t.fetchRules()).status, 'error');
    assert.equal(backend.batches.length, 0);
  });
});
