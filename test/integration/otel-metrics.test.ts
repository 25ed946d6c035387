// Guard metrics through a real MeterProvider + PeriodicExportingMetricReader + GuardMetricExporter
// + HTTPTransport to the real dev backend on 127.0.0.1.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { DEFAULT_CONFIG } from '../../src/config.js';
import type { AgentConfig } from '../../src/config-types.js';
import { DevBackend } from '../../src/dev-backend/index.js';
import { GuardInstruments } from '../../src/otel/guard-instruments.js';
import { GuardMetricExporter } from '../../src/otel/guard-metric-exporter.js';
import { GuardMetricReader } from '../../src/otel/guard-metric-reader.js';
import { QueueDrainer } from '../../src/queue/drainer.js';
import { MemoryFallbackQueue } from '../../src/queue/memory-fallback-queue.js';
import { HTTPTransport } from '../../src/transport/http-transport.js';
import { until } from '../helpers/until.js';

const KEY = 'fg_otel_key_0123456789';
const PROJECT = 'proj_otel_metrics';

type Wire = Record<string, unknown> & { tags: Record<string, string> };

describe('OTel metric pipeline against the dev backend', () => {
  let backend: DevBackend;
  let home: string;
  let config: AgentConfig;
  const cleanups: Array<() => Promise<void>> = [];

  function pipeline() {
    const transport = new HTTPTransport(config, { installIdHomeDir: home });
    const queue = new MemoryFallbackQueue();
    const exporter = new GuardMetricExporter({ transport, queue, config });
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ readers: [reader] });
    cleanups.push(() => transport.close(), () => provider.shutdown());
    const meter = provider.getMeter('guard-test');
    return { transport, queue, exporter, reader, meter, instruments: new GuardInstruments(meter) };
  }

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'otel-metrics-home-'));
    backend = new DevBackend({ apiKeys: [KEY], projectId: PROJECT });
    const { url } = await backend.start();
    config = { ...DEFAULT_CONFIG, apiKey: KEY, endpoint: url, projectId: PROJECT, backoffFactor: 0.01, maxBackoff: 0.05, retryAttempts: 1, timeout: 5 };
  });
  after(async () => {
    await backend.stop();
    rmSync(home, { recursive: true, force: true });
  });
  beforeEach(() => backend.reset());
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('sends one record per series per interval, values as interval deltas, tags as strings', async () => {
    const { reader, instruments, meter, exporter } = pipeline();
    meter.createCounter('app.orders').add(3); // not a guard instrument: never sent
    const request = (endpoint: string, status: number, seconds: number): void => {
      const tags = { endpoint, method: 'GET' };
      instruments.record({ metricType: 'request_count', value: 1, tags });
      instruments.record({ metricType: 'response_time', value: seconds, tags: { ...tags, status: String(status) } });
      if (status >= 400) instruments.record({ metricType: 'error_rate', value: 1, tags: { ...tags, status: String(status) } });
    };
    for (let i = 0; i < 10; i++) request('/a', 200, 0.1);
    for (let i = 0; i < 4; i++) request('/b', 500, 0.5);
    await reader.forceFlush();

    const first = [...backend.metrics] as Wire[];
    const key = (m: Wire): string => `${String(m.metric_type)} ${m.tags.endpoint}`;
    assert.deepEqual(first.map(key).sort(), ['error_rate /b', 'request_count /a', 'request_count /b', 'response_time /a', 'response_time /b']);
    const find = (ms: Wire[], k: string): Wire => ms.find((m) => key(m) === k)!;
    assert.equal(find(first, 'request_count /a').value, 10);
    assert.equal(find(first, 'request_count /b').value, 4);
    assert.equal(find(first, 'error_rate /b').value, 4);
    assert.deepEqual(find(first, 'error_rate /b').tags, { endpoint: '/b', method: 'GET', status: '500' });
    const rtA = find(first, 'response_time /a');
    assert.ok(Math.abs(Number(rtA.value) - 0.1) < 1e-9);
    assert.deepEqual(rtA.tags, { endpoint: '/a', method: 'GET', status: '200', count: '10', min: '0.1', max: '0.1' });
    for (const m of first) {
      assert.equal(m.endpoint, null);
      assert.match(String(m.timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }

    // Second interval: deltas, not running totals.
    for (let i = 0; i < 2; i++) request('/a', 200, 0.3);
    await reader.forceFlush();
    const second = (backend.metrics as Wire[]).slice(first.length);
    assert.deepEqual(second.map(key).sort(), ['request_count /a', 'response_time /a']);
    assert.equal(find(second, 'request_count /a').value, 2);
    assert.ok(Math.abs(Number(find(second, 'response_time /a').value) - 0.3) < 1e-9);
    assert.equal(find(second, 'response_time /a').tags.count, '2');
    assert.equal(exporter.getStats().metricsDelivered, 7);
  });

  it('queues metrics while the backend is down and the drainer replays them', async () => {
    const { reader, instruments, queue, transport, exporter } = pipeline();
    backend.faults.push({ kind: 'down' });
    instruments.record({ metricType: 'request_count', value: 1, tags: { endpoint: '/x' } });
    instruments.record({ metricType: 'threat_level', value: 4 });
    await reader.forceFlush();
    assert.equal(queue.stats().depthItems, 2);
    assert.equal(exporter.getStats().metricsQueued, 2);
    backend.faults.clear();
    const drainer = new QueueDrainer({ transport, queue });
    cleanups.push(() => drainer.stop());
    assert.equal(await drainer.drainNow(Date.now() + 3000), true);
    assert.deepEqual((backend.metrics as Wire[]).map((m) => [m.metric_type, m.value]).sort(), [['request_count', 1], ['threat_level', 4]]);
  });

  it("the guard reader's shutdown collects what was recorded while its timer's export was in flight", async () => {
    // NodeSDK's sdk.shutdown() (MeterProvider.shutdown) while a periodic export waits on a slow backend.
    const transport = new HTTPTransport(config, { installIdHomeDir: home });
    const queue = new MemoryFallbackQueue();
    const exporter = new GuardMetricExporter({ transport, queue, config });
    const reader = new GuardMetricReader({ exporter, intervalMs: 60_000 });
    const provider = new MeterProvider({ readers: [reader] });
    cleanups.push(() => transport.close());
    const instruments = new GuardInstruments(provider.getMeter('guard-test'));
    backend.faults.push({ kind: 'delay', ms: 300, times: 1 });
    instruments.record({ metricType: 'request_count', value: 1, tags: { endpoint: '/early' } });
    const tick = reader.exportOnce();
    await until('the export in flight', () => exporter.getStats().inFlight > 0);
    instruments.record({ metricType: 'request_count', value: 2, tags: { endpoint: '/late' } });
    await provider.shutdown();
    await tick;
    const sent = (backend.metrics as Wire[]).map((m) => [m.tags.endpoint, m.value]).sort();
    assert.deepEqual(sent, [['/early', 1], ['/late', 2]], 'before, the shutdown joined the export in flight and /late was never collected (not counted either)');
  });

  it("after its shutdown, a reader's last collection goes to the queue instead of being refused", async () => {
    const { reader, instruments, queue, exporter } = pipeline();
    await exporter.shutdown(1000);
    // Recorded while a stop was under way: the reader's shutdown collects it after the exporter closed.
    instruments.record({ metricType: 'request_count', value: 2, tags: { endpoint: '/late' } });
    await reader.forceFlush();
    assert.equal(queue.stats().depthItems, 1, 'kept for the drainer (or the next start, on Redis)');
    assert.equal(exporter.getStats().metricsQueued, 1);
    assert.equal(backend.metrics.length, 0, 'no network after shutdown');
    // Once the queue itself has closed, a late batch is counted, not silently kept.
    await queue.close();
    instruments.record({ metricType: 'request_count', value: 1, tags: { endpoint: '/later' } });
    await reader.forceFlush();
    assert.equal(queue.stats().dropped.agent_stopped, 1);
  });
});
