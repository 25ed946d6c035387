/**
 * A scanner's 404s must not push the app's real routes into the overflow
 * series. Requests no route template matched fall back to the normalised raw
 * path as their `endpoint`; a scanner trying 2,100 distinct word-only paths
 * used to fill the 2,000 series of an interval, and `/checkout`, seen after,
 * was counted only in the shared `otel.metric.overflow` series.
 *
 * Real servers on 127.0.0.1 (Express 5 and node:http), a real MeterProvider
 * with a delta reader carrying the instrumentation's response-time producer,
 * as guardAgent() wires its guard reader.
 */
import assert from 'node:assert/strict';
import http, { type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { AggregationTemporality, InMemoryMetricExporter, type MeterProvider, type MetricData } from '@opentelemetry/sdk-metrics';
import { GuardInstrumentation, type GuardInstrumentationConfig } from '../../src/otel/guard-instrumentation.js';
import { createMeterProvider, createPeriodicReader } from '../../src/otel/sdk-compat.js';
import { DEFAULT_MAX_UNMATCHED_ROUTE_KEYS, UNMATCHED_ROUTE_KEY } from '../../src/otel/unmatched-routes.js';
import { cleanupsAfterEach, usingHarness } from '../helpers/cleanups.js';

interface Point {
  attributes: Record<string, unknown>;
  value: unknown;
}

interface Harness {
  inst: GuardInstrumentation;
  provider: MeterProvider;
  /** One collection (one delta interval): the points of each guard metric. */
  collect(): Promise<Map<string, Point[]>>;
}

function harness(config: GuardInstrumentationConfig = {}): Harness {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
  const inst = new GuardInstrumentation(config);
  const reader = createPeriodicReader(exporter, { exportIntervalMillis: 600_000, metricProducers: [inst.metricProducer(AggregationTemporality.DELTA)] });
  const provider = createMeterProvider({ readers: [reader] });
  inst.setMeterProvider(provider);
  const collect = async () => {
    const before = exporter.getMetrics().length;
    await provider.forceFlush();
    const out = new Map<string, Point[]>();
    const last = exporter.getMetrics().length > before ? exporter.getMetrics().at(-1) : undefined;
    for (const sm of last?.scopeMetrics ?? []) {
      for (const m of sm.metrics as MetricData[]) out.set(m.descriptor.name, [...(out.get(m.descriptor.name) ?? []), ...(m.dataPoints as Point[])]);
    }
    return out;
  };
  return { inst, provider, collect };
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Sends every request, 16 at a time, and returns each status (in order). */
async function send(base: string, requests: { path: string; method?: string; body?: string }[]): Promise<number[]> {
  const statuses: number[] = new Array<number>(requests.length);
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const i = next++;
      const { path, method = 'GET', body } = requests[i];
      const r = await fetch(base + path, { method, body, headers: body === undefined ? {} : { 'content-type': 'application/json' } });
      await r.arrayBuffer();
      statuses[i] = r.status;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return statuses;
}

/** A distinct word-only path segment for each index (letters only: never collapsed to `:id`). */
function word(i: number): string {
  let s = '';
  let n = i + 26 * 27; // at least three letters
  while (n > 0) {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26);
  }
  return s;
}

/** Waits until the finish callbacks of answered requests have run. */
const settle = () => new Promise((r) => setTimeout(r, 50));

const sum = (points: Point[], filter: (p: Point) => boolean = () => true) => points.filter(filter).reduce((a, p) => a + (p.value as number), 0);
const histCount = (points: Point[], filter: (p: Point) => boolean = () => true) =>
  points.filter(filter).reduce((a, p) => a + (p.value as { count: number }).count, 0);

describe('GuardInstrumentation: unmatched requests get a bounded number of route keys per interval', function () {
  this.timeout(60_000);
  const cleanups = cleanupsAfterEach();
  const use = (h: Harness): Harness => usingHarness(cleanups, h);
  async function serve(listener: RequestListener): Promise<string> {
    const server = http.createServer(listener);
    const base = await listen(server);
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    return base;
  }

  it('Express: 2,100 scanner 404s (and 400s) then real routes: the real routes keep their own series, nothing is lost, the budget resets next interval', async () => {
    const h = use(harness());
    const app = express();
    // Parses before routing, as apps do: a bad body on any path is a 400 without a route.
    app.use(express.json());
    app.get('/checkout', (_req, res) => void res.send('ok'));
    app.get('/api/items/:itemId', (req, res) => void res.status(req.params.itemId === 'gone' ? 404 : 200).json({ id: req.params.itemId }));
    // The app's error handler (Express's default one would print each parse error).
    app.use((err: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(err.status ?? 500).send('bad request'));
    const base = await serve(app);

    const SCANNED = 2_100;
    const BAD_BODIES = 30;
    const scan = Array.from({ length: SCANNED }, (_, i) => ({ path: `/${word(i)}/${word(i % 7)}.php` }));
    const badBodies = Array.from({ length: BAD_BODIES }, (_, i) => ({ path: `/upload/${word(i)}`, method: 'POST', body: '{not json' }));
    const scanStatuses = await send(base, [...scan, ...badBodies]);
    assert.equal(scanStatuses.filter((s) => s === 404).length, SCANNED, 'the app answered the scanner 404');
    assert.equal(scanStatuses.filter((s) => s === 400).length, BAD_BODIES, 'and the bad bodies 400');
    const real = await send(base, [
      ...Array.from({ length: 5 }, () => ({ path: '/checkout' })),
      ...Array.from({ length: 3 }, () => ({ path: '/api/items/gone' })),
      { path: '/api/items/abc' },
      { path: '/api/items/def' },
    ]);
    assert.deepEqual(real, [200, 200, 200, 200, 200, 404, 404, 404, 200, 200]);
    await settle();

    const first = await h.collect();
    const counts = first.get('guard.request.count')!;
    const errors = first.get('guard.request.errors')!;
    const times = first.get('guard.response.time')!;
    for (const [name, points] of [['count', counts], ['errors', errors], ['response time', times]] as const) {
      assert.equal(points.filter((p) => p.attributes['otel.metric.overflow'] === true).length, 0, `${name}: no overflow series`);
    }
    // The real routes: their own series, right counts (a routed 404 is never collapsed).
    const isReal = (p: Point) => p.attributes.endpoint === '/checkout' || p.attributes.endpoint === '/api/items/:itemId';
    assert.equal(sum(counts, (p) => p.attributes.endpoint === '/checkout' && p.attributes.status === 200), 5);
    assert.equal(sum(counts, (p) => p.attributes.endpoint === '/api/items/:itemId' && p.attributes.status === 404), 3);
    assert.equal(sum(counts, (p) => p.attributes.endpoint === '/api/items/:itemId' && p.attributes.status === 200), 2);
    assert.equal(histCount(times, (p) => p.attributes.endpoint === '/checkout'), 5);
    assert.equal(histCount(times, (p) => p.attributes.endpoint === '/api/items/:itemId'), 5);

    // The unmatched ones: at most the budget of distinct paths, plus the shared key; the totals exact.
    const unmatched = counts.filter((p) => !isReal(p));
    const ownKeys = new Set(unmatched.map((p) => p.attributes.endpoint).filter((e) => e !== UNMATCHED_ROUTE_KEY));
    assert.equal(ownKeys.size, DEFAULT_MAX_UNMATCHED_ROUTE_KEYS, 'the first paths of the interval keep their own key, up to the budget');
    for (const key of ownKeys) assert.ok(typeof key === 'string' && key.startsWith('/'), `a path key: ${String(key)}`);
    const shared = unmatched.filter((p) => p.attributes.endpoint === UNMATCHED_ROUTE_KEY);
    assert.deepEqual(shared.map((p) => [p.attributes.method, p.attributes.status]).sort(), [['GET', 404], ['POST', 400]], 'method and status stay on the shared key');
    assert.equal(sum(unmatched), SCANNED + BAD_BODIES, 'every unmatched request counted once');
    assert.equal(sum(unmatched, (p) => p.attributes.status === 404), SCANNED);
    assert.equal(sum(unmatched, (p) => p.attributes.status === 400), BAD_BODIES);
    assert.equal(sum(counts), SCANNED + BAD_BODIES + 10);
    assert.equal(sum(errors), SCANNED + BAD_BODIES + 3);
    assert.equal(histCount(times), SCANNED + BAD_BODIES + 10);
    assert.equal(histCount(times, (p) => p.attributes.endpoint === UNMATCHED_ROUTE_KEY), sum(shared));

    // Next interval: the budget starts again; new paths get their own keys.
    const NEXT = 50;
    await send(base, [...Array.from({ length: NEXT }, (_, i) => ({ path: `/${word(SCANNED + i)}` })), { path: '/checkout' }]);
    await settle();
    const second = (await h.collect()).get('guard.request.count')!;
    assert.equal(second.filter((p) => p.attributes.endpoint === UNMATCHED_ROUTE_KEY).length, 0, 'nothing collapsed in a quiet interval');
    assert.equal(new Set(second.filter((p) => p.attributes.status === 404).map((p) => p.attributes.endpoint)).size, NEXT);
    assert.equal(sum(second, (p) => p.attributes.status === 404), NEXT);
    assert.equal(sum(second, (p) => p.attributes.endpoint === '/checkout'), 1);
  });

  it('node:http (no route templates): with maxUnmatchedRouteKeys 0 every 400/404/405 shares the key; other statuses keep their path', async () => {
    const h = use(harness({ maxUnmatchedRouteKeys: 0 }));
    const statusOf: Record<string, number> = { '/checkout': 200, '/login': 401, '/boom': 500 };
    const base = await serve((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const status = req.method === 'DELETE' ? 405 : (statusOf[path] ?? (path.startsWith('/bad') ? 400 : 404));
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(String(status));
    });
    await send(base, [
      { path: '/checkout' },
      { path: '/login' },
      { path: '/boom' },
      { path: '/nothing' },
      { path: '/nothing/here' },
      { path: '/checkout', method: 'DELETE' },
      { path: '/bad/input' },
    ]);
    await settle();
    const counts = (await h.collect()).get('guard.request.count')!;
    const series = counts.map((p) => [p.attributes.endpoint, p.attributes.method, p.attributes.status, p.value]).sort((a, b) => String(a).localeCompare(String(b)));
    assert.deepEqual(series, [
      [UNMATCHED_ROUTE_KEY, 'DELETE', 405, 1],
      [UNMATCHED_ROUTE_KEY, 'GET', 400, 1],
      [UNMATCHED_ROUTE_KEY, 'GET', 404, 2],
      ['/boom', 'GET', 500, 1],
      ['/checkout', 'GET', 200, 1],
      ['/login', 'GET', 401, 1],
    ]);
  });
});

describe('GuardInstrumentation: setConfig({ maxUnmatchedRouteKeys }) applies while serving', function () {
  this.timeout(30_000);
  const cleanups = cleanupsAfterEach();

  it('a server already observed (instruments built) groups by the new budget from the next request', async () => {
    const h = usingHarness(cleanups, harness());
    const server = http.createServer((_req, res) => {
      res.writeHead(404);
      res.end();
    });
    const base = await listen(server);
    cleanups.push(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
    await send(base, [{ path: '/first' }]);
    await settle();
    await h.collect();
    // Live reconfiguration (README: setConfig applies at the next request): group every unmatched path.
    h.inst.setConfig({ ...h.inst.getConfig(), maxUnmatchedRouteKeys: 0 });
    await send(base, [{ path: '/scan/one' }, { path: '/scan/two' }]);
    await settle();
    const endpoints = (await h.collect()).get('guard.request.count')!.map((p) => [p.attributes.endpoint, p.value]);
    assert.deepEqual(endpoints, [[UNMATCHED_ROUTE_KEY, 2]]);
  });
});
