// The dev backend answers like the guard backend (reference section 3), over real HTTP.
import assert from 'node:assert/strict';
import { createCipheriv, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { DevBackend } from '../../src/dev-backend/index.js';

const KEY = 'dev-api-key-0123456789';

// Reference 3.8 A and B, byte for byte.
const GOLDEN_A =
  '{"project_id":"proj_7Qk2","events":[{"idempotency_key":"9b1e4c2a-7d3f-4a8e-b5c6-1f2e3d4c5b6a","timestamp":"2026-09-02 14:03:11.482910+00:00","event_type":"rate_limited","ip_address":"198.51.100.23","country":"DE","user_agent":"curl/8.5.0","action_taken":"request_blocked","reason":"Rate limit exceeded","endpoint":"/api/login","method":"POST","status_code":429,"response_time":null,"decorator_type":null,"rule_type":null,"pattern_matched":null,"handler_name":null,"metadata":{"limit":10,"window":60}}],"metrics":[],"batch_id":"1788357791483-4e7a9c1b","created_at":"2026-09-02 14:03:12.007311+00:00","compressed":false,"agent_version":"2.8.1","guard_version":"7.4.1"}';
const GOLDEN_B =
  '{"project_id":"proj_7Qk2","events":[],"metrics":[{"timestamp":"2026-09-02 14:03:11.480001+00:00","metric_type":"response_time","value":0.0042,"endpoint":null,"tags":{"endpoint":"/api/login","method":"POST","status":"429"}},{"timestamp":"2026-09-02 14:03:11.480105+00:00","metric_type":"request_count","value":1.0,"endpoint":null,"tags":{"endpoint":"/api/login","method":"POST"}},{"timestamp":"2026-09-02 14:03:11.480190+00:00","metric_type":"error_rate","value":1.0,"endpoint":null,"tags":{"endpoint":"/api/login","method":"POST","status":"429"}}],"batch_id":"1788357791500-0c9d2e11","created_at":"2026-09-02 14:03:12.010002+00:00","compressed":false,"agent_version":"2.8.1","guard_version":"7.4.1"}';
const GOLDEN_C =
  '{"timestamp":"2026-09-02 14:08:12.000120+00:00","status":"degraded","uptime":300.04,"events_sent":180,"events_failed":40,"buffer_size":12,"last_flush":"2026-09-02 14:08:10.511000+00:00","errors":["High failure rate: 18.2%"]}';
const RULES = {
  rule_id: 'rs_42',
  version: 7,
  timestamp: '2026-09-02T13:55:00Z',
  ttl: 120,
  ip_blacklist: ['203.0.113.9'],
  endpoint_rate_limits: { '/api/login': [5, 60] },
};

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function send(url: string, path: string, body: string | Buffer | undefined, headers: Record<string, string> = {}, method = 'POST'): Promise<Reply> {
  const res = await fetch(url + path, {
    method,
    headers: { 'content-type': 'application/json', 'x-api-key': KEY, ...headers },
    body,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

function event(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    idempotency_key: randomUUID(),
    timestamp: new Date().toISOString(),
    event_type: 'ip_blocked',
    ip_address: '203.0.113.5',
    action_taken: 'block',
    reason: 'test',
    metadata: {},
    ...overrides,
  };
}

function metric(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { timestamp: new Date().toISOString(), metric_type: 'request_count', value: 1, endpoint: null, tags: { method: 'GET' }, ...overrides };
}

function batch(events: unknown[], metrics: unknown[] = []): string {
  return JSON.stringify({ project_id: 'default', events, metrics, batch_id: `${Date.now()}-abcd1234`, created_at: new Date().toISOString(), compressed: false });
}

function sign(secret: string, bytes: string | Buffer): string {
  return 'v1=' + createHmac('sha256', secret).update(bytes).digest('hex');
}

function encrypt(keyB64: string, plaintext: string): string {
  const key = Buffer.from(keyB64, 'base64url');
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  // Python's urlsafe_b64encode keeps the '=' padding.
  return Buffer.concat([nonce, ct, cipher.getAuthTag()]).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

describe('dev-backend: ingest routes', () => {
  let backend: DevBackend;
  let url: string;

  beforeEach(async () => {
    backend = new DevBackend();
    ({ url } = await backend.start());
  });
  afterEach(async () => {
    await backend.stop();
  });

  it('accepts golden payload A (events) and answers with reference 3.8 F', async () => {
    const r = await send(url, '/api/v1/events', GOLDEN_A, { 'X-Project-ID': 'proj_7Qk2', 'User-Agent': 'guard-agent/2.8.1' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
      success: true,
      events_received: 1,
      events_dropped_invalid_timestamp: 0,
      metrics_received: 0,
      events_processed: 1,
      metrics_processed: 0,
      errors: null,
    });
    assert.equal(backend.events.length, 1);
    assert.deepEqual(backend.events[0], JSON.parse(GOLDEN_A).events[0]);
    const rec = backend.batches[0];
    assert.equal(rec.batchId, '1788357791483-4e7a9c1b');
    assert.equal(rec.itemCount, 1);
    assert.equal(rec.status, 200);
    assert.equal(rec.gzip, false);
    assert.equal(rec.rawBytes, Buffer.byteLength(GOLDEN_A));
    assert.equal(rec.headers['x-project-id'], 'proj_7Qk2');
  });

  it('accepts golden payload B (metrics) gzipped, recording wire and decoded sizes', async () => {
    const gz = gzipSync(GOLDEN_B, { level: 9 });
    const r = await send(url, '/api/v1/metrics', gz, { 'Content-Encoding': 'gzip' });
    assert.equal(r.status, 200);
    assert.equal(r.json.metrics_received, 3);
    assert.equal(r.json.events_received, 0);
    assert.deepEqual(backend.metrics.map((m) => m.metric_type), ['response_time', 'request_count', 'error_rate']);
    assert.equal(backend.batches[0].gzip, true);
    assert.equal(backend.batches[0].rawBytes, gz.length);
    assert.equal(backend.batches[0].decodedBytes, Buffer.byteLength(GOLDEN_B));
    assert.equal(backend.stats.metricsReceived, 3);
  });

  it('accepts golden status C with {"success":true}', async () => {
    const r = await send(url, '/api/v1/status', GOLDEN_C);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { success: true });
    assert.equal(backend.statuses.length, 1);
    assert.equal(backend.statuses[0].status, 'degraded');
    assert.equal(backend.stats.statuses, 1);
  });

  it('422 for a status body outside the AgentStatus model; 415 for an unknown Content-Encoding', async () => {
    const bad = await send(url, '/api/v1/status', JSON.stringify({ ...JSON.parse(GOLDEN_C), status: 'sleepy', events_sent: 1.5 }));
    assert.equal(bad.status, 422);
    assert.deepEqual(
      bad.json.detail.map((d: { loc: unknown[]; type: string }) => [d.loc.join('.'), d.type]),
      [
        ['body.status', 'literal_error'],
        ['body.events_sent', 'int_from_float'],
      ],
    );
    assert.equal(backend.statuses.length, 0);
    const br = await send(url, '/api/v1/events', GOLDEN_A, { 'content-encoding': 'br' });
    assert.equal(br.status, 415);
  });

  it('rejects malformed gzip with 400', async () => {
    const r = await send(url, '/api/v1/events', Buffer.from('definitely not gzip'), { 'Content-Encoding': 'gzip' });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, { detail: 'Malformed gzip request body' });
    assert.equal(backend.events.length, 0);
  });

  it('401 for a missing or unknown API key, whatever the header case', async () => {
    const missing = await fetch(url + '/api/v1/events', { method: 'POST', body: GOLDEN_A });
    assert.equal(missing.status, 401);
    assert.deepEqual(await missing.json(), { detail: 'Invalid API key or project ID' });
    const wrong = await send(url, '/api/v1/events', GOLDEN_A, { 'x-api-key': 'fg_live_wrong_key_1234' });
    assert.equal(wrong.status, 401);
    const upper = await fetch(url + '/api/v1/events', { method: 'POST', body: GOLDEN_A, headers: { 'X-API-KEY': KEY } });
    assert.equal(upper.status, 200);
    assert.deepEqual(backend.stats.rejected.byStatus, { '401': 2 });
  });

  it('422 with pydantic-like detail for an unknown metric_type, rejecting the whole batch', async () => {
    const r = await send(url, '/api/v1/metrics', batch([], [metric(), metric({ metric_type: 'latency_p99' })]));
    assert.equal(r.status, 422);
    assert.equal(r.json.detail.length, 1);
    assert.deepEqual(r.json.detail[0].loc, ['body', 'metrics', 1, 'metric_type']);
    assert.equal(r.json.detail[0].type, 'literal_error');
    assert.match(r.json.detail[0].msg, /'request_count'.*'cache_hit_rate'/);
    assert.equal(backend.metrics.length, 0);
  });

  it('422 for missing timestamp, non-string event_type and non-string tag values; 400 for invalid JSON', async () => {
    const r = await send(
      url,
      '/api/v1/events',
      batch([event({ timestamp: undefined }), event({ event_type: 7 })], [metric({ tags: { status: 429 } }), metric({ value: 'fast' })]),
    );
    assert.equal(r.status, 422);
    const locs = r.json.detail.map((d: { loc: unknown[] }) => d.loc.join('.'));
    assert.deepEqual(locs, ['body.events.0.timestamp', 'body.events.1.event_type', 'body.metrics.0.tags.status', 'body.metrics.1.value']);
    assert.equal(r.json.detail[0].type, 'missing');
    // JS writes 1e21 as 1e+21; pydantic's int takes a float-written number only within 64 bits.
    const hugeBody = batch([event({ status_code: 1e21 })]);
    assert.ok(hugeBody.includes('"status_code":1e+21'));
    const huge = await send(url, '/api/v1/events', hugeBody);
    assert.equal(huge.status, 422);
    assert.equal(huge.json.detail[0].type, 'int_parsing_size');
    assert.deepEqual(huge.json.detail[0].loc, ['body', 'events', 0, 'status_code']);
    // pydantic's UUID takes hyphenated or 32-hex forms, not a partly hyphenated one.
    const key = await send(url, '/api/v1/events', batch([event({ idempotency_key: '9b1e4c2a-7d3f4a8e-b5c6-1f2e3d4c5b6a' }), event({ idempotency_key: '9b1e4c2a7d3f4a8eb5c61f2e3d4c5b6a' })]));
    assert.equal(key.status, 422);
    assert.deepEqual(key.json.detail.map((d: { loc: unknown[] }) => d.loc.join('.')), ['body.events.0.idempotency_key']);
    const bad = await send(url, '/api/v1/events', '{"events": [');
    assert.equal(bad.status, 400);
    const notObject = await send(url, '/api/v1/events', '[]');
    assert.equal(notObject.status, 422);
  });

  it('422 for a body that is not an EventBatch: an encrypted envelope on the plain route, no batch_id, project_id or created_at', async () => {
    // guard_agent.models.EventBatch requires project_id, batch_id and created_at; accepting
    // these with 200 and 0 items would hide an agent that posts the wrong body to the wrong path.
    const envelope = await send(url, '/api/v1/events', JSON.stringify({ encrypted_payload: 'AAAA', batch_id: '1788357791483-4e7a9c1b', agent_version: '2.8.1', guard_version: null }));
    assert.equal(envelope.status, 422);
    assert.deepEqual(envelope.json.detail.map((d: { loc: unknown[] }) => d.loc.join('.')), ['body.project_id', 'body.created_at']);
    const empty = await send(url, '/api/v1/metrics', '{}');
    assert.equal(empty.status, 422);
    assert.deepEqual(empty.json.detail.map((d: { loc: unknown[] }) => d.loc.join('.')), ['body.project_id', 'body.batch_id', 'body.created_at']);
    assert.ok(empty.json.detail.every((d: { type: string }) => d.type === 'missing'));
    assert.equal(backend.stats.eventsReceived + backend.stats.metricsReceived, 0);
  });

  it('accepts ISO, Python str() and Unix timestamps; rejects an impossible date', async () => {
    const ok = await send(
      url,
      '/api/v1/events',
      batch([
        event({ timestamp: '2026-05-12T10:00:00.123Z' }),
        event({ timestamp: '2026-05-12 10:00:00.123456+00:00' }),
        event({ timestamp: '2026-05-12 10:00:01' }),
        event({ timestamp: 1778580000.5 }),
      ]),
    );
    assert.equal(ok.status, 200);
    assert.equal(ok.json.events_received, 4);
    const bad = await send(url, '/api/v1/events', batch([event({ timestamp: '2026-02-30T10:00:00Z' })]));
    assert.equal(bad.status, 422);
    assert.deepEqual(bad.json.detail[0].loc, ['body', 'events', 0, 'timestamp']);
    // What pydantic 2 refuses too: an hour-only offset, and Unix times past year 9999 (milliseconds above 2e10).
    const refused = ['2026-05-12T10:00:00+05', 1e15, 253402300800000, '99999999999999999999'];
    const more = await send(url, '/api/v1/events', batch(refused.map((timestamp) => event({ timestamp }))));
    assert.equal(more.status, 422);
    assert.deepEqual(more.json.detail.map((d: { loc: unknown[] }) => d.loc[2]), [0, 1, 2, 3]);
    const edges = await send(url, '/api/v1/events', batch([event({ timestamp: '2026-05-12T10:00:00+0530' }), event({ timestamp: 253402300799999 })]));
    assert.equal(edges.status, 200);
  });

  it('deduplicates a resent event by idempotency_key and counts the duplicate', async () => {
    const ev = event();
    assert.equal((await send(url, '/api/v1/events', batch([ev]))).status, 200);
    const again = await send(url, '/api/v1/events', batch([ev, event()]));
    assert.equal(again.status, 200);
    assert.equal(again.json.events_received, 2);
    assert.equal(backend.events.length, 2);
    assert.equal(backend.stats.eventsReceived, 3);
    assert.equal(backend.stats.duplicateEvents, 1);
  });

  it('reads the UUID forms pydantic reads as one key (braces, urn:uuid:, no hyphens, upper case) as duplicates', async () => {
    const key = randomUUID();
    const hex = key.replace(/-/g, '');
    const forms = [key, `{${key}}`, `urn:uuid:${key}`, hex.toUpperCase()];
    const r = await send(url, '/api/v1/events', batch(forms.map((k) => event({ idempotency_key: k }))));
    assert.equal(r.status, 200);
    assert.equal(backend.events.length, 1);
    assert.equal(backend.eventCount, 1);
    assert.equal(backend.stats.duplicateEvents, forms.length - 1);
    for (const k of forms) assert.ok(backend.hasEvent(k), k);
    assert.equal(backend.hasEvent(randomUUID()), false);
    assert.equal(backend.hasEvent('not a uuid'), false);
  });

  it('emits batch and request events', async () => {
    const seen: string[] = [];
    backend.on('batch', (b) => seen.push(`batch:${b.events.length}:${b.record.status}`));
    backend.on('request', (r) => seen.push(`request:${r.path}:${r.status}`));
    await send(url, '/api/v1/events', batch([event()]));
    assert.deepEqual(seen, ['batch:1:200', 'request:/api/v1/events:200']);
  });

  it('404 for unknown routes, 405 for a wrong method, 307 for a trailing slash', async () => {
    const nf = await send(url, '/api/v2/events', '{}');
    assert.equal(nf.status, 404);
    assert.deepEqual(nf.json, { detail: 'Not Found' });
    const wm = await send(url, '/api/v1/events', undefined, {}, 'GET');
    assert.equal(wm.status, 405);
    assert.equal(wm.headers.get('allow'), 'POST');
    const slash = await fetch(url + '/api/v1/events/', { method: 'POST', body: '{}', redirect: 'manual', headers: { 'x-api-key': KEY } });
    assert.equal(slash.status, 307);
    assert.equal(slash.headers.get('location'), '/api/v1/events');
  });
});

describe('dev-backend: options', () => {
  let backend: DevBackend | undefined;
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dev-backend-'));
  });
  afterEach(async () => {
    await backend?.stop();
    backend = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('keepEvents: false keeps the keys and counts, not the event objects', async () => {
    backend = new DevBackend({ keepEvents: false });
    const { url } = await backend.start();
    const seen: number[] = [];
    backend.on('batch', (b) => seen.push(b.events.length));
    const first = [event(), event(), event({ idempotency_key: undefined })];
    assert.equal((await send(url, '/api/v1/events', batch(first, [metric()]))).status, 200);
    const again = await send(url, '/api/v1/events', batch([first[0], event()]));
    assert.equal(again.status, 200);
    assert.equal(again.json.events_received, 2);
    assert.deepEqual(backend.events, []);
    assert.equal(backend.eventCount, 4);
    assert.ok(backend.hasEvent(String(first[0].idempotency_key)) && backend.hasEvent(String(first[1].idempotency_key)));
    assert.equal(backend.stats.eventsReceived, 5);
    assert.equal(backend.stats.duplicateEvents, 1);
    assert.equal(backend.metrics.length, 1);
    assert.deepEqual(seen, [3, 2]);
    const state = (await send(url, '/__control/state', undefined, {}, 'GET')).json;
    assert.equal(state.eventCount, 4);
    assert.deepEqual(state.idempotencyKeys, []);
    backend.reset();
    assert.equal(backend.eventCount, 0);
    assert.equal(backend.hasEvent(String(first[0].idempotency_key)), false);
  });

  it('checks X-Project-ID when projectId is set, and accepts several API keys', async () => {
    backend = new DevBackend({ apiKeys: ['fg_live_0123456789abcdef', 'fg_live_second_key_000'], projectId: 'proj_7Qk2' });
    const { url } = await backend.start();
    const headers = { 'x-api-key': 'fg_live_second_key_000' };
    assert.equal((await send(url, '/api/v1/events', GOLDEN_A, { ...headers, 'X-Project-ID': 'proj_7Qk2' })).status, 200);
    const wrong = await send(url, '/api/v1/events', GOLDEN_A, { ...headers, 'X-Project-Id': 'proj_other' });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.json, { detail: 'Invalid API key or project ID' });
    assert.equal((await send(url, '/api/v1/events', GOLDEN_A, headers)).status, 401);
  });

  it('413 on the decompressed size, including a gzip bomb far over the cap', async () => {
    backend = new DevBackend({ maxBodyBytes: 4096 });
    const { url } = await backend.start();
    const big = batch(Array.from({ length: 40 }, () => event()));
    assert.ok(Buffer.byteLength(big) > 4096);
    const plain = await send(url, '/api/v1/events', big);
    assert.equal(plain.status, 413);
    assert.deepEqual(plain.json, { detail: 'Payload exceeds 4096 bytes' });
    const gz = gzipSync(big);
    assert.ok(gz.length < 4096, 'compressed body is under the cap: only the decoded size exceeds it');
    assert.equal((await send(url, '/api/v1/events', gz, { 'content-encoding': 'gzip' })).status, 413);
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    const b = await send(url, '/api/v1/events', bomb, { 'content-encoding': 'gzip' });
    assert.equal(b.status, 413);
    const small = batch([event()]);
    assert.ok(Buffer.byteLength(small) < 4096);
    assert.equal((await send(url, '/api/v1/events', small)).status, 200);
  });

  it("verifies signatures over the uncompressed body in 'uncompressed' mode", async () => {
    const secret = 'sign-secret-abc';
    backend = new DevBackend({ signingSecret: secret });
    const { url } = await backend.start();
    const gz = gzipSync(GOLDEN_A);
    const good = await send(url, '/api/v1/events', gz, { 'content-encoding': 'gzip', 'x-payload-signature': sign(secret, GOLDEN_A) });
    assert.equal(good.status, 200);
    const overWire = await send(url, '/api/v1/events', gz, { 'content-encoding': 'gzip', 'x-payload-signature': sign(secret, gz) });
    assert.equal(overWire.status, 401);
    assert.deepEqual(overWire.json, { detail: 'Invalid payload signature' });
    const missing = await send(url, '/api/v1/events', GOLDEN_A);
    assert.equal(missing.status, 401);
    assert.deepEqual(missing.json, { detail: 'Invalid payload signature' });
    const wrongSecret = await send(url, '/api/v1/events', GOLDEN_A, { 'x-payload-signature': sign('other', GOLDEN_A) });
    assert.equal(wrongSecret.status, 401);
    const malformed = await send(url, '/api/v1/events', GOLDEN_A, { 'x-payload-signature': 'v1=abc' });
    assert.equal(malformed.status, 401);
  });

  it("verifies signatures over the exact wire bytes in 'wire' mode", async () => {
    const secret = 'sign-secret-abc';
    backend = new DevBackend({ signingSecret: secret, signatureMode: 'wire' });
    const { url } = await backend.start();
    const gz = gzipSync(GOLDEN_A);
    assert.equal((await send(url, '/api/v1/events', gz, { 'content-encoding': 'gzip', 'x-payload-signature': sign(secret, gz) })).status, 200);
    assert.equal((await send(url, '/api/v1/events', gz, { 'content-encoding': 'gzip', 'x-payload-signature': sign(secret, GOLDEN_A) })).status, 401);
    assert.equal((await send(url, '/api/v1/events', gz, { 'content-encoding': 'gzip' })).status, 401);
  });

  it('decrypts the encrypted route (padded and unpadded), and rejects a tampered payload', async () => {
    const keyB64 = randomBytes(32).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
    backend = new DevBackend({ encryptionKey: keyB64 });
    const { url } = await backend.start();
    // Reference 3.6: sorted keys, ISO datetimes with T; a metrics batch goes to the same path.
    const plaintext = JSON.stringify({
      events: [],
      metrics: [{ endpoint: null, metric_type: 'request_count', tags: { endpoint: '/api/login', method: 'POST' }, timestamp: '2026-09-02T14:03:11.480105+00:00', value: 1.0 }],
    });
    const payload = encrypt(keyB64, plaintext);
    assert.ok(payload.endsWith('=') || payload.length % 4 === 0);
    const envelope = (p: string): string => JSON.stringify({ encrypted_payload: p, batch_id: '1788357791483-4e7a9c1b', agent_version: '2.8.1', guard_version: '7.4.1' });
    const ok = await send(url, '/api/v1/events/encrypted', envelope(payload));
    assert.equal(ok.status, 200);
    assert.equal(ok.json.metrics_received, 1);
    assert.equal(backend.metrics[0].metric_type, 'request_count');
    assert.equal(backend.batches[0].encrypted, true);
    assert.equal(backend.batches[0].batchId, '1788357791483-4e7a9c1b');

    const evPlain = JSON.stringify({ events: [event()], metrics: [] });
    const unpadded = encrypt(keyB64, evPlain).replace(/=+$/, '');
    assert.equal((await send(url, '/api/v1/events/encrypted', envelope(unpadded))).status, 200);
    assert.equal(backend.events.length, 1);

    const raw = Buffer.from(payload, 'base64url');
    raw[20] ^= 0x01;
    const tampered = await send(url, '/api/v1/events/encrypted', envelope(raw.toString('base64url')));
    assert.equal(tampered.status, 400);
    assert.deepEqual(tampered.json, { detail: 'Failed to decrypt payload: Invalid or tampered payload' });
    const otherKey = encrypt(randomBytes(32).toString('base64url'), plaintext);
    assert.equal((await send(url, '/api/v1/events/encrypted', envelope(otherKey))).status, 400);
    const noPayload = await send(url, '/api/v1/events/encrypted', JSON.stringify({ batch_id: 'x' }));
    assert.equal(noPayload.status, 422);
    assert.deepEqual(noPayload.json.detail[0].loc, ['body', 'encrypted_payload']);
  });

  it('refuses an encryption key that is not 32 bytes, without echoing it', () => {
    assert.throws(() => new DevBackend({ encryptionKey: 'c2hvcnQta2V5' }), (err: Error) => !err.message.includes('c2hvcnQta2V5'));
  });

  it('serves rules with an ETag, 304 on If-None-Match, 404 when there are none', async () => {
    backend = new DevBackend();
    const { url } = await backend.start();
    const none = await send(url, '/api/v1/rules', undefined, {}, 'GET');
    assert.equal(none.status, 404);
    assert.deepEqual(none.json, { detail: 'No rules' });
    backend.setRules(RULES);
    const first = await send(url, '/api/v1/rules', undefined, {}, 'GET');
    assert.equal(first.status, 200);
    assert.deepEqual(first.json, RULES);
    const etag = first.headers.get('etag');
    assert.ok(etag && /^".+"$/.test(etag));
    const again = await send(url, '/api/v1/rules', undefined, { 'if-none-match': etag }, 'GET');
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
    assert.equal(again.headers.get('etag'), etag);
    backend.setRules({ ...RULES, version: 8 });
    const changed = await send(url, '/api/v1/rules', undefined, { 'if-none-match': etag }, 'GET');
    assert.equal(changed.status, 200);
    assert.equal(changed.json.version, 8);
    assert.notEqual(changed.headers.get('etag'), etag);
    assert.equal((await send(url, '/api/v1/rules', undefined, { 'x-api-key': 'nope-nope-nope' }, 'GET')).status, 401);
    backend.setRules(null);
    assert.equal((await send(url, '/api/v1/rules', undefined, {}, 'GET')).status, 404);
  });

  it('reloads a rules file when it changes, keeping the last good rules on a bad write', async () => {
    const file = join(dir, 'rules.json');
    writeFileSync(file, JSON.stringify(RULES));
    backend = new DevBackend({ rules: file, rulesPollMs: 50 });
    const { url } = await backend.start();
    const changes: unknown[] = [];
    backend.on('rules', (r) => changes.push(r));
    assert.equal((await send(url, '/api/v1/rules', undefined, {}, 'GET')).json.version, 7);
    await sleep(20);
    writeFileSync(file, JSON.stringify({ ...RULES, version: 9, message: 'reloaded' }));
    const deadline = Date.now() + 5000;
    while (changes.length === 0 && Date.now() < deadline) await sleep(25);
    const reloaded = await send(url, '/api/v1/rules', undefined, {}, 'GET');
    assert.equal(reloaded.json.version, 9);
    assert.equal(reloaded.json.message, 'reloaded');
    writeFileSync(file, '{ not json');
    await sleep(300);
    assert.equal((await send(url, '/api/v1/rules', undefined, {}, 'GET')).json.version, 9);
  });

  it('appends accepted batches and statuses to recordFile as JSON lines, without secrets', async () => {
    const file = join(dir, 'record.jsonl');
    backend = new DevBackend({ recordFile: file, signingSecret: 's3cret-signing' });
    const { url } = await backend.start();
    const body = batch([event()]);
    await send(url, '/api/v1/events', body, { 'x-payload-signature': sign('s3cret-signing', body) });
    await send(url, '/api/v1/status', GOLDEN_C, { 'x-payload-signature': sign('s3cret-signing', GOLDEN_C) });
    await send(url, '/api/v1/events', body, { 'x-payload-signature': 'v1=' + '0'.repeat(64) }); // rejected: not recorded
    const text = readFileSync(file, 'utf8');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.equal(lines[0].type, 'batch');
    assert.equal(lines[0].events.length, 1);
    assert.equal(lines[0].events[0].idempotency_key, JSON.parse(body).events[0].idempotency_key);
    assert.equal(lines[1].type, 'status');
    assert.equal(lines[1].status.status, 'degraded');
    assert.ok(!text.includes(KEY), 'API key must not be written');
    assert.equal(lines[0].headers['x-api-key'], '[redacted]');
  });
});
