// The dev backend's live page without a browser: its routes, the summary JSON
// and the server-sent event stream, fed by the real HTTPTransport; and the SSE
// hub's limits (heartbeat comments, clients leaving, a slow client dropped).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { resolveConfig } from '../../src/config.js';
import { DevBackend } from '../../src/dev-backend/index.js';
import { SseHub } from '../../src/dev-backend/page/index.js';
import { SecurityEvent, SecurityMetric } from '../../src/models/index.js';
import { HTTPTransport } from '../../src/transport/index.js';

const KEY = 'fg_page_test_key_0123456789';
const SECRET = 'page-test-signing-secret-XYZ';
const INSTALL_ID = '9b2f7c64-1d3e-4a5b-8c6d-7e8f9a0b1c2d';

interface Frame {
  event: string;
  data: Record<string, unknown>;
}

/** Reads an event stream with fetch: keeps every message and comment line. */
class StreamReader {
  readonly frames: Frame[] = [];
  readonly comments: string[] = [];
  raw = '';
  ended = false;
  private readonly abort = new AbortController();
  contentType: string | null = null;

  async open(url: string): Promise<this> {
    const res = await fetch(url, { signal: this.abort.signal });
    assert.equal(res.status, 200);
    this.contentType = res.headers.get('content-type');
    void this.pump(res.body!);
    return this;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        const text = decoder.decode(chunk, { stream: true });
        this.raw += text;
        buffer += text;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let data: string | undefined;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data = line.slice(6);
          }
          if (data !== undefined) this.frames.push({ event, data: JSON.parse(data) as Record<string, unknown> });
        }
      }
    } catch {
      // aborted by close()
    }
    this.ended = true;
  }

  async waitFor<T>(probe: () => T | undefined | false, what: string, ms = 5_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.map((f) => f.event))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  frame(event: string, index = 0): Frame | undefined {
    return this.frames.filter((f) => f.event === event)[index];
  }

  close(): void {
    this.abort.abort();
  }
}

async function summary(url: string): Promise<Record<string, any>> {
  const res = await fetch(url + '/api/dev/summary');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return (await res.json()) as Record<string, any>;
}

function events(): SecurityEvent[] {
  return [
    new SecurityEvent({ eventType: 'rate_limited', ipAddress: '203.0.113.7', actionTaken: 'request_blocked', reason: 'Rate limit exceeded', endpoint: '/login', method: 'POST', metadata: { note: 'metadata stays on the server' } }),
    new SecurityEvent({ eventType: 'rate_limited', ipAddress: '203.0.113.8', actionTaken: 'request_blocked', reason: 'Rate limit exceeded' }),
    new SecurityEvent({ eventType: 'ip_banned', ipAddress: '198.51.100.9', actionTaken: 'ip_banned', reason: 'Too many violations', endpoint: '/admin', method: 'GET' }),
  ];
}

describe('dev backend live page: routes, summary and event stream', function () {
  this.timeout(20_000);
  let backend: DevBackend;
  let url: string;
  let transport: HTTPTransport;
  const readers: StreamReader[] = [];

  async function stream(): Promise<StreamReader> {
    const reader = await new StreamReader().open(url + '/events/stream');
    readers.push(reader);
    return reader;
  }

  beforeEach(async () => {
    backend = new DevBackend({ apiKeys: [KEY], signingSecret: SECRET, rules: { rule_id: 'r1', version: 2, ip_blacklist: ['192.0.2.1'] } });
    url = (await backend.start()).url;
    const config = resolveConfig({ apiKey: KEY, endpoint: url, projectId: 'proj_page', installId: INSTALL_ID, payloadSigningSecret: SECRET, retryAttempts: 0, timeout: 5 }, { env: {} });
    transport = new HTTPTransport(config);
  });

  afterEach(async () => {
    for (const r of readers.splice(0)) r.close();
    await transport.close();
    await backend.stop();
  });

  it('serves the page, its assets and chart.js from this origin under a CSP, and does not count them as API requests', async () => {
    const page = await fetch(url + '/');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    const html = await page.text();
    assert.match(html, /<script src="\/assets\/chart\.umd\.js"/);
    assert.match(html, /<script src="\/assets\/app\.js"/);
    assert.doesNotMatch(html, /https?:\/\//, 'no CDN: the page works offline');

    const chartFile = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.js');
    const chart = await fetch(url + '/assets/chart.umd.js');
    assert.equal(chart.status, 200);
    assert.match(chart.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.ok(Buffer.from(await chart.arrayBuffer()).equals(readFileSync(chartFile)));
    for (const path of ['/assets/app.js', '/assets/style.css', '/index.html']) {
      const res = await fetch(url + path);
      assert.equal(res.status, 200, path);
      assert.ok((await res.text()).length > 100, path);
    }
    const head = await fetch(url + '/', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(html)));
    assert.equal((await fetch(url + '/favicon.ico')).status, 204);
    await summary(url);
    assert.equal(backend.stats.requests, 0, 'page routes are not API requests');

    // Only the known paths: no file outside the list, and other methods fall through to the API's 404.
    assert.equal((await fetch(url + '/assets/../../package.json')).status, 404);
    assert.equal((await fetch(url + '/assets/index.ts')).status, 404);
    assert.equal((await fetch(url + '/', { method: 'POST', body: '{}' })).status, 404);
  });

  it('summary: latest events (new ones only), series, heartbeats and rules, and no secret', async () => {
    const sent = events();
    assert.equal((await transport.sendEvents(sent)).delivered, 3);
    assert.equal((await transport.sendEvents(sent.slice(0, 1))).delivered, 1, 'a retry of the same event');
    const metrics = [
      new SecurityMetric({ metricType: 'request_count', value: 1 }),
      new SecurityMetric({ metricType: 'request_count', value: 1 }),
      new SecurityMetric({ metricType: 'response_time', value: 0.25 }),
    ];
    assert.equal((await transport.sendMetrics(metrics)).delivered, 3);
    assert.equal(await transport.sendStatus({ timestamp: new Date(), status: 'healthy', uptime: 12.5, eventsSent: 4, eventsFailed: 0, bufferSize: 0, lastFlush: null, errors: [] }), true);

    const res = await fetch(url + '/api/dev/summary');
    const text = await res.text();
    for (const secret of [KEY, SECRET, 'v1=']) assert.ok(!text.includes(secret), `summary must not contain ${secret}`);
    const s = JSON.parse(text) as Record<string, any>;
    assert.equal(s.bucket_ms, 5000);
    assert.equal(s.window_ms, 600_000);
    assert.equal(s.stats.duplicateEvents, 1);
    assert.equal(s.events.length, 3);
    assert.deepEqual(Object.keys(s.events[0]).sort(), ['action_taken', 'at', 'endpoint', 'event_type', 'ip_address', 'method', 'reason', 'timestamp']);
    assert.deepEqual(
      s.events.map((e: any) => [e.event_type, e.ip_address, e.action_taken, e.endpoint, e.method, e.reason]),
      [
        ['rate_limited', '203.0.113.7', 'request_blocked', '/login', 'POST', 'Rate limit exceeded'],
        ['rate_limited', '203.0.113.8', 'request_blocked', null, null, 'Rate limit exceeded'],
        ['ip_banned', '198.51.100.9', 'ip_banned', '/admin', 'GET', 'Too many violations'],
      ],
    );
    const eventTotals: Record<string, number> = {};
    for (const b of s.event_series) for (const [t, n] of Object.entries(b.values as Record<string, number>)) eventTotals[t] = (eventTotals[t] ?? 0) + n;
    assert.deepEqual(eventTotals, { rate_limited: 2, ip_banned: 1 });
    for (const b of s.event_series) assert.equal(b.t % 5000, 0);
    const metricTotals: Record<string, { sum: number; count: number }> = {};
    for (const b of s.metric_series) Object.assign(metricTotals, b.values);
    assert.deepEqual(metricTotals, { request_count: { sum: 2, count: 2 }, response_time: { sum: 0.25, count: 1 } });
    assert.equal(s.heartbeats.length, 1);
    assert.equal(s.heartbeats[0].install_id, INSTALL_ID);
    assert.equal(s.heartbeats[0].status, 'healthy');
    assert.equal(s.heartbeats[0].uptime, 12.5);
    assert.equal(s.heartbeats[0].events_sent, 4);
    const rules = await fetch(url + '/api/v1/rules', { headers: { 'x-api-key': KEY } });
    await rules.arrayBuffer();
    assert.deepEqual(s.rules, { version: 2, rule_id: 'r1', etag: rules.headers.get('etag'), rules: { rule_id: 'r1', version: 2, ip_blacklist: ['192.0.2.1'] } });
  });

  it('streams one message per batch, heartbeat, rules change and reset, numbered after the summary', async () => {
    const reader = await stream();
    assert.match(reader.contentType ?? '', /^text\/event-stream/);
    const start = (await summary(url)).seq as number;

    await transport.sendEvents(events());
    const batch = await reader.waitFor(() => reader.frame('batch'), 'a batch message');
    assert.equal(batch.data.seq, start + 1);
    assert.deepEqual(batch.data.counts, { rate_limited: 2, ip_banned: 1 });
    assert.equal((batch.data.events as unknown[]).length, 3);
    assert.equal(batch.data.duplicates, 0);
    assert.equal((batch.data.stats as { eventsReceived: number }).eventsReceived, 3);

    await transport.sendMetrics([new SecurityMetric({ metricType: 'bandwidth_usage', value: 512 }), new SecurityMetric({ metricType: 'bandwidth_usage', value: 256 })]);
    const metricsBatch = await reader.waitFor(() => reader.frame('batch', 1), 'a metrics batch message');
    assert.deepEqual(metricsBatch.data.metrics, { bandwidth_usage: { sum: 768, count: 2 } });
    assert.deepEqual(metricsBatch.data.events, []);

    await transport.sendStatus({ timestamp: new Date(), status: 'degraded', uptime: 1, eventsSent: 3, eventsFailed: 2, bufferSize: 5, lastFlush: null, errors: ['Buffer nearly full'] });
    const status = await reader.waitFor(() => reader.frame('status'), 'a status message');
    assert.equal(status.data.seq, start + 3);
    assert.deepEqual((status.data.heartbeat as { errors: string[] }).errors, ['Buffer nearly full']);
    assert.equal((status.data.heartbeat as { install_id: string }).install_id, INSTALL_ID);

    backend.setRules({ rule_id: 'r1', version: 3 });
    const rules = await reader.waitFor(() => reader.frame('rules'), 'a rules message');
    assert.equal(rules.data.seq, start + 4);
    assert.equal((rules.data.rules as { version: number }).version, 3);
    backend.setRules({ rule_id: 'r1', version: 3 }); // same bytes, same ETag: no change, no message
    backend.setRules(null);
    const cleared = await reader.waitFor(() => reader.frame('rules', 1), 'a second rules message');
    assert.equal(cleared.data.rules, null);

    assert.equal((await summary(url)).seq, start + 5, 'the summary counts the same messages');

    backend.reset();
    const reset = await reader.waitFor(() => reader.frame('reset'), 'a reset message');
    assert.equal(reset.data.seq, start + 6);
    const after = await summary(url);
    assert.deepEqual([after.events, after.event_series, after.metric_series, after.heartbeats], [[], [], [], []]);

    for (const secret of [KEY, SECRET, 'v1=']) assert.ok(!reader.raw.includes(secret), `the stream must not contain ${secret}`);
  });

  it('sends the counters, at most once a second, when requests are rejected', async () => {
    const reader = await stream();
    for (let i = 0; i < 3; i++) {
      const res = await fetch(url + '/api/v1/events', { method: 'POST', headers: { 'x-api-key': 'wrong' }, body: '{}' });
      assert.equal(res.status, 401);
    }
    const stats = await reader.waitFor(() => reader.frame('stats'), 'a stats message', 3_000);
    assert.deepEqual((stats.data.stats as { rejected: unknown }).rejected, { byStatus: { '401': 3 } });
    await new Promise((r) => setTimeout(r, 1_200));
    assert.equal(reader.frames.filter((f) => f.event === 'stats').length, 1);
  });

  it('ends the streams when the backend stops', async () => {
    const reader = await stream();
    await reader.waitFor(() => reader.comments.includes('connected'), 'the opening comment');
    await backend.stop();
    await reader.waitFor(() => reader.ended, 'the end of the stream');
  });
});

describe('SseHub', function () {
  this.timeout(20_000);
  let server: Server;
  let hub: SseHub;
  let url: string;
  let sockets: Socket[];

  async function serve(options: ConstructorParameters<typeof SseHub>[0]): Promise<void> {
    hub = new SseHub(options);
    sockets = [];
    server = createServer((req, res) => hub.attach(req, res));
    server.on('connection', (s: Socket) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }

  afterEach(async () => {
    hub.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('sends a heartbeat comment on idle streams and forgets clients that leave', async () => {
    await serve({ heartbeatMs: 50 });
    const reader = await new StreamReader().open(url);
    await reader.waitFor(() => reader.comments.filter((c) => c === 'ping').length >= 2, 'two heartbeat comments');
    assert.ok(reader.raw.startsWith('retry: 2000\n'));
    assert.equal(hub.size, 1);
    reader.close();
    await reader.waitFor(() => hub.size === 0, 'the client to be removed');
  });

  it('drops a client that does not read instead of buffering for it, and keeps the one that does', async () => {
    const limit = 256 * 1024;
    await serve({ heartbeatMs: 60_000, maxBufferedBytes: limit });
    const reader = await new StreamReader().open(url);
    const slow: Socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise((r) => slow.once('connect', r));
    slow.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    slow.pause(); // never reads again: its kernel buffers fill, then the server-side buffer
    await reader.waitFor(() => hub.size === 2, 'both clients');

    const payload = { pad: 'x'.repeat(64 * 1024) };
    let sent = 0;
    while (hub.size === 2 && sent < 2_000) {
      hub.broadcast('bulk', payload);
      sent += 1;
      // Let the reading client drain between messages, as a live page would.
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(hub.size, 1, `the slow client was dropped (after ${sent} messages)`);
    await reader.waitFor(() => reader.frames.length === sent, 'every message at the reading client', 10_000);
    // The server closed its end of the slow connection; the reading one stays open.
    await reader.waitFor(() => sockets.filter((s) => !s.destroyed).length === 1, 'the slow connection to be closed');
    reader.close();
    slow.destroy();
  });

  it('refuses clients past its limit with 503', async () => {
    await serve({ maxClients: 1 });
    const first = await new StreamReader().open(url);
    const second = await fetch(url);
    assert.equal(second.status, 503);
    await second.arrayBuffer();
    first.close();
  });
});
