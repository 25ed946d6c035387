// Fault injection of the dev backend, programmatic and through the HTTP control API, over real HTTP.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { DevBackend, parseFaultSpec } from '../../src/dev-backend/index.js';

const KEY = 'dev-api-key-0123456789';

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
  ms: number;
}

async function send(url: string, path: string, body?: string, method = 'POST', headers: Record<string, string> = {}): Promise<Reply> {
  const started = Date.now();
  const res = await fetch(url + path, { method, headers: { 'content-type': 'application/json', 'x-api-key': KEY, ...headers }, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json, ms: Date.now() - started };
}

function events(n: number): string {
  const list = Array.from({ length: n }, () => ({ idempotency_key: randomUUID(), timestamp: new Date().toISOString(), event_type: 'ip_blocked' }));
  return JSON.stringify({ project_id: 'default', events: list, metrics: [], batch_id: `b-${randomUUID().slice(0, 8)}`, created_at: new Date().toISOString() });
}

const jsonOf = (r: Response): Promise<any> => r.json();

/** Raw node:http POST: resolves with the status or rejects with the socket error. */
function rawPost(url: string, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json', connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('dev-backend: fault injection', () => {
  let backend: DevBackend;
  let url: string;

  beforeEach(async () => {
    backend = new DevBackend();
    ({ url } = await backend.start());
  });
  afterEach(async () => {
    await backend.stop();
  });

  it('status faults are consumed in FIFO order, `times` at a time, then handling is normal', async () => {
    backend.faults.push({ kind: 'status', status: 503, times: 2 }, { kind: 'status', status: 429, headers: { 'Retry-After': '2' } });
    const a = await send(url, '/api/v1/events', events(1));
    const b = await send(url, '/api/v1/events', events(1));
    const c = await send(url, '/api/v1/events', events(1));
    const d = await send(url, '/api/v1/events', events(1));
    assert.deepEqual([a.status, b.status, c.status, d.status], [503, 503, 429, 200]);
    assert.deepEqual(a.json, { detail: 'Service Unavailable' });
    assert.equal(c.headers.get('retry-after'), '2');
    assert.equal(backend.events.length, 1);
    assert.deepEqual(backend.batches.map((r) => r.status), [503, 503, 429, 200]);
    assert.equal(backend.batches[0].itemCount, 1, 'faulted requests are recorded with their batch');
    assert.deepEqual(backend.stats.rejected.byStatus, { '503': 2, '429': 1 });
  });

  it('a status fault can carry a custom body and an HTTP-date Retry-After', async () => {
    backend.faults.push({ kind: 'status', status: 429, retryAfterDateSeconds: 5, body: 'slow down' });
    const r = await send(url, '/api/v1/metrics', events(1));
    assert.equal(r.status, 429);
    assert.equal(r.text, 'slow down');
    const at = Date.parse(r.headers.get('retry-after') ?? '');
    assert.ok(at - Date.now() > 3000 && at - Date.now() <= 6000, `Retry-After ${r.headers.get('retry-after')}`);
  });

  it('path limits a fault to matching routes; by default GET /rules is untouched', async () => {
    backend.setRules({ rule_id: 'r', version: 1 });
    backend.faults.push({ kind: 'status', status: 500, path: '/api/v1/metrics' }, { kind: 'status', status: 502 });
    assert.equal((await send(url, '/api/v1/rules', undefined, 'GET')).status, 200);
    assert.equal((await send(url, '/api/v1/events', events(1))).status, 502);
    assert.equal((await send(url, '/api/v1/metrics', events(1))).status, 500);
    backend.faults.push({ kind: 'status', status: 503, path: '/api/v1/rules' });
    assert.equal((await send(url, '/api/v1/rules', undefined, 'GET')).status, 503);
    assert.equal(backend.faults.size, 0);
  });

  it('delay waits, then answers normally', async () => {
    backend.faults.push({ kind: 'delay', ms: 300 });
    const r = await send(url, '/api/v1/events', events(2));
    assert.equal(r.status, 200);
    assert.ok(r.ms >= 280, `took ${r.ms} ms`);
    assert.equal(backend.events.length, 2);
  });

  it('a client timing out during a delay loses the ACK, but the batch is stored and a resend is deduplicated', async () => {
    backend.faults.push({ kind: 'delay', ms: 300 });
    const body = events(3);
    const signal = AbortSignal.timeout(100);
    await assert.rejects(fetch(url + '/api/v1/events', { method: 'POST', headers: { 'x-api-key': KEY }, body, signal }));
    const deadline = Date.now() + 3000;
    while (backend.events.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(backend.events.length, 3);
    assert.equal((await send(url, '/api/v1/events', body)).status, 200);
    assert.equal(backend.events.length, 3);
    assert.equal(backend.stats.duplicateEvents, 3);
  });

  it('stop() during an injected delay closes the connection promptly', async () => {
    backend.faults.push({ kind: 'delay', ms: 10_000 });
    const pending = send(url, '/api/v1/events', events(1)).then(
      () => 'answered',
      () => 'failed',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await backend.stop();
    assert.equal(await pending, 'failed');
    assert.ok(Date.now() - started < 2000);
    ({ url } = await backend.start());
    assert.equal((await send(url, '/api/v1/events', events(1))).status, 200);
  });

  it('a client hanging up mid-body leaves the server healthy', async () => {
    await new Promise<void>((resolve) => {
      const req = request(url + '/api/v1/events', { method: 'POST', headers: { 'x-api-key': KEY, 'content-length': '100000' } });
      req.on('error', () => resolve());
      req.write('{"events":[');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await send(url, '/api/v1/events', events(1))).status, 200);
    assert.equal(backend.batches.length, 1, 'the aborted request is not recorded as a batch');
  });

  it('reset destroys the socket after reading the request', async () => {
    backend.faults.push({ kind: 'reset' });
    await assert.rejects(rawPost(url, '/api/v1/events', events(1)), (err: NodeJS.ErrnoException) => {
      assert.ok(err.code === 'ECONNRESET' || /socket hang up/.test(err.message), String(err));
      return true;
    });
    assert.equal(backend.batches[0].status, 0);
    assert.equal(backend.stats.rejected.byStatus.reset, 1);
    assert.equal(await rawPost(url, '/api/v1/events', events(1)), 200);
    // fetch sees it too.
    backend.faults.push({ kind: 'reset' });
    await assert.rejects(send(url, '/api/v1/events', events(1)));
  });

  it('garbage answers 200 with a non-JSON body', async () => {
    backend.faults.push({ kind: 'garbage' });
    const r = await send(url, '/api/v1/events', events(1));
    assert.equal(r.status, 200);
    assert.equal(r.text, '<html>maintenance</html>');
    assert.equal(r.json, undefined);
    assert.equal(backend.events.length, 0);
  });

  it('oversized streams a body of exactly the requested size', async () => {
    backend.faults.push({ kind: 'oversized', bytes: 3 * 1024 * 1024 + 7 }, { kind: 'oversized', bytes: 10, status: 200 });
    const big = await send(url, '/api/v1/events', events(1));
    assert.equal(big.status, 500);
    assert.equal(Buffer.byteLength(big.text), 3 * 1024 * 1024 + 7);
    assert.ok(big.text.startsWith('<html>') && big.text.endsWith('</html>'));
    const tiny = await send(url, '/api/v1/events', events(1));
    assert.equal(tiny.status, 200);
    assert.equal(Buffer.byteLength(tiny.text), 10);
  });

  it('oversized stops writing when the client goes away', async () => {
    backend.faults.push({ kind: 'oversized', bytes: 200 * 1024 * 1024 });
    const res = await fetch(url + '/api/v1/events', { method: 'POST', headers: { 'x-api-key': KEY }, body: events(1) });
    assert.equal(res.status, 500);
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    // The server is still healthy afterwards.
    assert.equal((await send(url, '/api/v1/events', events(1))).status, 200);
  });

  it('successFalse answers 200 with success:false and the quota error, storing nothing', async () => {
    backend.faults.push({ kind: 'successFalse' }, { kind: 'successFalse', errors: ['custom'] });
    const r = await send(url, '/api/v1/events', events(1));
    assert.deepEqual(r.json, { success: false, errors: ['Event quota exceeded. Upgrade your plan.'] });
    assert.deepEqual((await send(url, '/api/v1/events', events(1))).json.errors, ['custom']);
    assert.equal(backend.events.length, 0);
  });

  it('maxItems answers 413 to batches over the limit until cleared, and lets smaller ones through', async () => {
    backend.faults.push({ kind: 'maxItems', max: 10 });
    const big = await send(url, '/api/v1/events', events(40));
    assert.equal(big.status, 413);
    assert.equal((await send(url, '/api/v1/events', events(20))).status, 413);
    assert.equal((await send(url, '/api/v1/events', events(10))).status, 200);
    assert.equal((await send(url, '/api/v1/events', events(10))).status, 200);
    assert.equal(backend.events.length, 20);
    assert.equal(backend.faults.size, 1);
    backend.faults.clear();
    assert.equal((await send(url, '/api/v1/events', events(40))).status, 200);
  });

  it('down answers 503 on every API route (rules included) until it expires', async () => {
    backend.setRules({ rule_id: 'r', version: 1 });
    backend.faults.push({ kind: 'down', untilMs: Date.now() + 400 });
    const r = await send(url, '/api/v1/events', events(1));
    assert.equal(r.status, 503);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.equal((await send(url, '/api/v1/status', '{}')).status, 503);
    assert.equal((await send(url, '/api/v1/rules', undefined, 'GET')).status, 503);
    await new Promise((resolve) => setTimeout(resolve, 450));
    assert.equal((await send(url, '/api/v1/events', events(1))).status, 200);
    backend.faults.push({ kind: 'down' });
    assert.equal((await send(url, '/api/v1/events', events(1))).status, 503);
    backend.reset();
    assert.equal((await send(url, '/api/v1/events', events(1))).status, 200);
    assert.equal(backend.events.length, 1, 'reset cleared the stored data too');
  });

  it('an invalid fault is refused with a clear error and nothing is queued', () => {
    assert.throws(() => backend.faults.push({ kind: 'status', status: 99 } as never), /status must be an HTTP status/);
    assert.throws(() => backend.faults.push({ kind: 'explode' } as never), /unknown kind/);
    assert.equal(backend.faults.size, 0);
  });

  it('control API: append faults (object, array, spec), inspect state, clear, reset, set rules', async () => {
    const post = (path: string, body: unknown, method = 'POST') =>
      fetch(url + path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    let r = await post('/__control/faults', { kind: 'status', status: 500, times: 'Infinity' });
    assert.equal(r.status, 200);
    assert.equal((await jsonOf(r)).faults[0].remaining, 'Infinity');
    assert.equal((await send(url, '/api/v1/events', events(1))).status, 500);
    assert.equal((await send(url, '/api/v1/events', events(1))).status, 500);
    assert.equal((await fetch(url + '/__control/faults', { method: 'DELETE' })).status, 200);

    r = await post('/__control/faults', [{ kind: 'status', status: 503 }, { kind: 'garbage' }]);
    assert.equal(r.status, 200);
    r = await post('/__control/faults', { spec: '429:ra=1' });
    assert.equal(r.status, 200);
    assert.equal((await send(url, '/api/v1/events', events(1))).status, 503);
    assert.equal((await send(url, '/api/v1/events', events(1))).text, '<html>maintenance</html>');
    const limited = await send(url, '/api/v1/events', events(1));
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '1');

    const body = events(2);
    assert.equal((await send(url, '/api/v1/events', body)).status, 200);
    const state = await jsonOf(await fetch(url + '/__control/state'));
    assert.equal(state.eventCount, 2);
    assert.deepEqual(state.idempotencyKeys, JSON.parse(body).events.map((e: { idempotency_key: string }) => e.idempotency_key));
    assert.equal(state.stats.rejected.byStatus['500'], 2);

    const bad = await post('/__control/faults', { spec: '503x3,bogus' });
    assert.equal(bad.status, 400);
    assert.match((await jsonOf(bad)).detail, /bogus/);

    assert.equal((await post('/__control/rules', { rule_id: 'ctl', version: 3 }, 'PUT')).status, 200);
    assert.equal((await send(url, '/api/v1/rules', undefined, 'GET')).json.rule_id, 'ctl');

    assert.equal((await fetch(url + '/__control/reset', { method: 'POST' })).status, 200);
    const after = await jsonOf(await fetch(url + '/__control/state'));
    assert.equal(after.eventCount, 0);
    assert.equal(after.stats.requests, 0);
  });

  it('parseFaultSpec output drives the server end to end', async () => {
    backend.faults.push(parseFaultSpec('503x2, 413max=1'));
    assert.equal((await send(url, '/api/v1/events', events(1))).status, 503);
    assert.equal((await send(url, '/api/v1/events', events(1))).status, 503);
    assert.equal((await send(url, '/api/v1/events', events(2))).status, 413);
    assert.equal((await send(url, '/api/v1/events', events(1))).status, 200);
  });
});
