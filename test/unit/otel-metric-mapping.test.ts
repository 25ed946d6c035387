import assert from 'node:assert/strict';
import { AggregationTemporality, MeterProvider, MetricReader, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { SecurityMetric } from '../../src/models/index.js';
import { MemoryFallbackQueue } from '../../src/queue/memory-fallback-queue.js';
import type { SendOptions, SendReport, WireBatch } from '../../src/transport/types.js';
import { GUARD_METRIC_NAMES, GuardInstruments } from '../../src/otel/guard-instruments.js';
import { GuardMetricExporter } from '../../src/otel/guard-metric-exporter.js';
import { attributesToTags, resourceMetricsToSecurityMetrics, newMetricMappingStats, CumulativeState } from '../../src/otel/metric-mapping.js';

/** A reader the test collects from by hand, with the exporter's temporality. */
class ManualReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

/** Unit-level stand-in for the transport: accepts everything, keeps the batches. */
class RecordingSender {
  readonly batches: WireBatch[] = [];
  async sendBatch(batch: WireBatch, _opts?: SendOptions): Promise<SendReport> {
    this.batches.push(batch);
    return { outcome: 'delivered', delivered: batch.items.length, dropped: [], pending: [] };
  }
  items(): Array<Record<string, unknown>> {
    return this.batches.flatMap((b) => b.items.map((i) => JSON.parse(i) as Record<string, unknown>));
  }
}

function setup() {
  const sender = new RecordingSender();
  const exporter = new GuardMetricExporter({ transport: sender, queue: new MemoryFallbackQueue(), config: {} });
  const reader = new ManualReader({ aggregationTemporalitySelector: (t) => exporter.selectAggregationTemporality(t) });
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter('guard-test');
  return { sender, exporter, reader, provider, meter, instruments: new GuardInstruments(meter) };
}

async function collect(reader: MetricReader, stats = newMetricMappingStats()): Promise<SecurityMetric[]> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetricsToSecurityMetrics(resourceMetrics, stats);
}

function byType(ms: SecurityMetric[], type: string): SecurityMetric[] {
  return ms.filter((m) => m.metricType === type);
}

describe('otel metric mapping', () => {
  it('maps counters to interval deltas, one record per series', async () => {
    const { reader, instruments, provider } = setup();
    for (let i = 0; i < 5; i++) instruments.record({ metricType: 'request_count', value: 1, tags: { endpoint: '/a', method: 'GET' } });
    for (let i = 0; i < 3; i++) instruments.record({ metricType: 'request_count', value: 1, tags: { endpoint: '/b', method: 'GET' } });
    instruments.record({ metricType: 'error_rate', value: 1, tags: { endpoint: '/b', method: 'GET', status: '500' } });
    instruments.record({ metricType: 'bandwidth_usage', value: 2048, endpoint: '/a' });
    let ms = await collect(reader);
    const counts = byType(ms, 'request_count').map((m) => [m.tags.endpoint, m.value]).sort();
    assert.deepEqual(counts, [['/a', 5], ['/b', 3]]);
    const [err] = byType(ms, 'error_rate');
    assert.equal(err.value, 1);
    assert.deepEqual(err.tags, { endpoint: '/b', method: 'GET', status: '500' });
    assert.equal(err.endpoint, null, 'the endpoint stays a tag, as the adapters send it');
    const [bw] = byType(ms, 'bandwidth_usage');
    assert.equal(bw.value, 2048);
    assert.equal(bw.tags.endpoint, '/a', "the metric's endpoint becomes a tag");

    // Second interval: deltas, not totals; series without new samples send nothing.
    instruments.record({ metricType: 'request_count', value: 1, tags: { endpoint: '/a', method: 'GET' } });
    ms = await collect(reader);
    assert.deepEqual(ms.map((m) => [m.metricType, m.tags.endpoint, m.value]), [['request_count', '/a', 1]]);
    await provider.shutdown();
  });

  it('maps the response time histogram to the interval mean with count, min and max tags', async () => {
    const { reader, instruments, provider } = setup();
    for (const v of [0.1, 0.2, 0.6]) instruments.record({ metricType: 'response_time', value: v, tags: { endpoint: '/a', method: 'GET', status: '200' } });
    const [rt] = byType(await collect(reader), 'response_time');
    assert.ok(Math.abs(rt.value - 0.3) < 1e-12, `mean ${rt.value}`);
    assert.deepEqual(rt.tags, { endpoint: '/a', method: 'GET', status: '200', count: '3', min: '0.1', max: '0.6' });
    instruments.record({ metricType: 'response_time', value: 1.5, tags: { endpoint: '/a', method: 'GET', status: '200' } });
    const [rt2] = byType(await collect(reader), 'response_time');
    assert.equal(rt2.value, 1.5);
    assert.equal(rt2.tags.count, '1');
    await provider.shutdown();
  });

  it('converts a histogram recorded in ms to seconds', async () => {
    const reader = new ManualReader({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
    const provider = new MeterProvider({ readers: [reader] });
    const hist = provider.getMeter('ms').createHistogram(GUARD_METRIC_NAMES.response_time, { unit: 'ms' });
    hist.record(200);
    hist.record(400);
    const [rt] = byType(await collect(reader), 'response_time');
    assert.ok(Math.abs(rt.value - 0.3) < 1e-12);
    assert.equal(rt.tags.min, '0.2');
    assert.equal(rt.tags.max, '0.4');
    await provider.shutdown();
  });

  it('maps gauges and up-down counters to their current level', async () => {
    const { reader, instruments, provider } = setup();
    instruments.record({ metricType: 'threat_level', value: 3, tags: { zone: 'eu' } });
    instruments.record({ metricType: 'threat_level', value: 7, tags: { zone: 'eu' } });
    instruments.record({ metricType: 'block_rate', value: 0.25 });
    instruments.record({ metricType: 'cache_hit_rate', value: 0.9 });
    const ms = await collect(reader);
    assert.deepEqual(byType(ms, 'threat_level').map((m) => [m.value, m.tags]), [[7, { zone: 'eu' }]]);
    assert.equal(byType(ms, 'block_rate')[0].value, 0.25);
    assert.equal(byType(ms, 'cache_hit_rate')[0].value, 0.9);
    await provider.shutdown();

    // An UpDownCounter named guard.threat.level reports the level (cumulative), not the change.
    const r2 = new ManualReader({ aggregationTemporalitySelector: (t) => new GuardMetricExporter({ transport: new RecordingSender(), queue: null, config: {} }).selectAggregationTemporality(t) });
    const p2 = new MeterProvider({ readers: [r2] });
    const udc = p2.getMeter('udc').createUpDownCounter(GUARD_METRIC_NAMES.threat_level);
    udc.add(5);
    udc.add(-2);
    assert.equal(byType(await collect(r2), 'threat_level')[0].value, 3);
    udc.add(1);
    assert.equal(byType(await collect(r2), 'threat_level')[0].value, 4);
    await p2.shutdown();
  });

  it('ignores metrics that are not guard instruments', async () => {
    const { reader, meter, instruments, provider } = setup();
    meter.createCounter('http.server.requests').add(10);
    meter.createHistogram('http.server.request.duration').record(0.2);
    meter.createCounter('guard.unknown.thing').add(1);
    instruments.record({ metricType: 'request_count', value: 1 });
    const stats = newMetricMappingStats();
    const ms = await collect(reader, stats);
    assert.deepEqual(ms.map((m) => m.metricType), ['request_count']);
    assert.equal(stats.ignoredMetrics, 3);
    await provider.shutdown();
  });

  it('turns attributes into string tags', () => {
    assert.deepEqual(attributesToTags({ s: 'x', n: 3, b: false, arr: ['a', 'b'], u: undefined }), { s: 'x', n: '3', b: 'false', arr: '["a","b"]' });
  });

  it('computes deltas when a reader delivers cumulative sums', async () => {
    const reader = new ManualReader(); // default: cumulative
    const provider = new MeterProvider({ readers: [reader] });
    const c = provider.getMeter('c').createCounter(GUARD_METRIC_NAMES.request_count);
    const state = new CumulativeState();
    const stats = newMetricMappingStats();
    c.add(4, { endpoint: '/a' });
    let ms = resourceMetricsToSecurityMetrics((await reader.collect()).resourceMetrics, stats, state);
    assert.equal(ms[0].value, 4);
    c.add(2, { endpoint: '/a' });
    ms = resourceMetricsToSecurityMetrics((await reader.collect()).resourceMetrics, stats, state);
    assert.equal(ms[0].value, 2);
    await provider.shutdown();
  });

  it('exports through a PeriodicExportingMetricReader as wire metric records', async () => {
    const sender = new RecordingSender();
    const exporter = new GuardMetricExporter({ transport: sender, queue: new MemoryFallbackQueue(), config: {} });
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const instruments = new GuardInstruments(provider.getMeter('guard'));
    for (let i = 0; i < 100; i++) {
      const endpoint = ['/a', '/b', '/c'][i % 3];
      instruments.record({ metricType: 'request_count', value: 1, tags: { endpoint, method: 'GET' } });
      instruments.record({ metricType: 'response_time', value: 0.01, tags: { endpoint, method: 'GET', status: '200' } });
    }
    await reader.forceFlush();
    const items = sender.items();
    assert.equal(items.length, 6, 'one record per series');
    const total = items.filter((i) => i.metric_type === 'request_count').reduce((s, i) => s + Number(i.value), 0);
    assert.equal(total, 100);
    for (const i of items) {
      assert.deepEqual(Object.keys(i), ['timestamp', 'metric_type', 'value', 'endpoint', 'tags']);
      assert.equal(i.endpoint, null);
      for (const v of Object.values(i.tags as object)) assert.equal(typeof v, 'string');
    }
    const st = exporter.getStats();
    assert.equal(st.metricsDelivered, 6);
    assert.equal(st.metricsMapped, 6);
    await provider.shutdown();
    assert.equal(exporter.getStats().exportCalls >= 1, true);
  });
});
