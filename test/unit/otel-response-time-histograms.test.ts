import assert from 'node:assert/strict';
import type { Attributes } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { RESPONSE_TIME_BUCKETS_S } from '../../src/otel/guard-instruments.js';
import { MAX_HISTOGRAM_SERIES, ResponseTimeHistograms } from '../../src/otel/response-time-histograms.js';
import { prng } from '../../bench/lib/events.js';

/** A reader collected by hand. */
class ManualReader extends MetricReader {
  constructor(temporality: AggregationTemporality, producers: ReturnType<ResponseTimeHistograms['createProducer']>[]) {
    super({ aggregationTemporalitySelector: () => temporality, metricProducers: producers });
  }
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
  async metrics(): Promise<MetricData[]> {
    const { resourceMetrics, errors } = await this.collect();
    assert.deepEqual(errors, []);
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  }
}

interface HistValue {
  buckets: { boundaries: number[]; counts: number[] };
  count: number;
  sum?: number;
  min?: number;
  max?: number;
}

/** name -> serialised attributes -> histogram value */
function byName(ms: MetricData[]): Map<string, Map<string, HistValue>> {
  const out = new Map<string, Map<string, HistValue>>();
  for (const m of ms) {
    const series = new Map<string, HistValue>();
    for (const p of m.dataPoints) series.set(JSON.stringify(p.attributes), p.value as HistValue);
    out.set(m.descriptor.name, series);
  }
  return out;
}

function setup(temporalities: AggregationTemporality[]) {
  const store = new ResponseTimeHistograms({ name: 'test-scope', version: '1' });
  const readers = temporalities.map((t) => new ManualReader(t, [store.createProducer(t)]));
  const provider = new MeterProvider({ readers });
  // The SDK's own histogram with the same boundaries, fed the same values: the reference.
  const sdk = provider.getMeter('reference').createHistogram('reference.time', { unit: 's', advice: { explicitBucketBoundaries: RESPONSE_TIME_BUCKETS_S } });
  const record = (v: number, attrs: Attributes): void => {
    store.record(v, attrs);
    sdk.record(v, attrs);
  };
  return { store, readers, provider, record };
}

function assertSameAsSdk(ms: MetricData[], expectedSeries: number): void {
  const m = byName(ms);
  const ours = m.get('guard.response.time');
  const ref = m.get('reference.time');
  assert.ok(ours && ref, 'both histograms collected');
  assert.equal(ours.size, expectedSeries);
  assert.deepEqual([...ours.keys()].sort(), [...ref.keys()].sort());
  for (const [k, v] of ours) {
    const r: HistValue = ref.get(k)!;
    assert.deepEqual(v.buckets, r.buckets, `buckets of ${k}`);
    assert.equal(v.count, r.count);
    assert.equal(v.min, r.min);
    assert.equal(v.max, r.max);
    assert.ok(Math.abs(v.sum! - r.sum!) < 1e-9, `sum of ${k}`);
  }
}

describe('ResponseTimeHistograms (the instrumentation response-time MetricProducer)', () => {
  const a: Attributes = { endpoint: '/a', method: 'GET', status: 200 };
  const b: Attributes = { endpoint: '/b/:id', method: 'POST', status: 500 };

  it('gives exactly what the SDK explicit-bucket histogram gives for the same values (boundaries inclusive, zero, huge, NaN, negative)', async () => {
    const { readers, record, provider } = setup([AggregationTemporality.DELTA]);
    const rand = prng(11);
    const edge = [0, ...RESPONSE_TIME_BUCKETS_S, 10.000001, 1e6, Number.NaN, -1];
    for (const v of edge) record(v, a);
    for (let i = 0; i < 5000; i++) record(rand() ** 3 * 12, i % 3 ? a : b);
    const ms = await readers[0].metrics();
    assertSameAsSdk(ms, 2);
    const ours = ms.find((m) => m.descriptor.name === 'guard.response.time')!;
    assert.equal(ours.dataPointType, DataPointType.HISTOGRAM);
    assert.equal(ours.aggregationTemporality, AggregationTemporality.DELTA);
    assert.equal(ours.descriptor.unit, 's');
    await provider.shutdown();
  });

  it('delta: each collection holds only the values since the previous one; quiet series are left out', async () => {
    const { readers, record, provider } = setup([AggregationTemporality.DELTA]);
    record(0.02, a);
    record(0.2, b);
    const first = byName(await readers[0].metrics()).get('guard.response.time')!;
    assert.equal(first.size, 2);
    record(0.03, a);
    const second = await readers[0].metrics();
    assertSameAsSdk(second, 1);
    const only = byName(second).get('guard.response.time')!.get(JSON.stringify(a))!;
    assert.equal(only.count, 1);
    assert.equal(only.sum, 0.03);
    const third = await readers[0].metrics();
    assert.equal(third.find((m) => m.descriptor.name === 'guard.response.time'), undefined, 'nothing recorded: no data points');
    await provider.shutdown();
  });

  it('cumulative: totals grow across collections with a fixed start time, like the SDK', async () => {
    const { readers, record, provider } = setup([AggregationTemporality.CUMULATIVE]);
    record(0.02, a);
    const m1 = (await readers[0].metrics()).find((m) => m.descriptor.name === 'guard.response.time')!;
    record(0.5, a);
    record(0.7, b);
    const all = await readers[0].metrics();
    assertSameAsSdk(all, 2);
    const m2 = all.find((m) => m.descriptor.name === 'guard.response.time')!;
    const pa1 = m1.dataPoints[0];
    const pa2 = m2.dataPoints.find((p) => p.attributes.endpoint === '/a')!;
    assert.equal((pa2.value as HistValue).count, 2);
    assert.deepEqual(pa2.startTime, pa1.startTime);
    await provider.shutdown();
  });

  it('two readers (delta and cumulative) each see every value once, whichever collects first', async () => {
    const { readers, record, provider } = setup([AggregationTemporality.DELTA, AggregationTemporality.CUMULATIVE]);
    const [delta, cumulative] = readers;
    for (let i = 0; i < 10; i++) record(0.01 * i, a);
    const d1 = byName(await delta.metrics()).get('guard.response.time')!.get(JSON.stringify(a))!;
    for (let i = 0; i < 5; i++) record(0.3, a);
    const c1 = byName(await cumulative.metrics()).get('guard.response.time')!.get(JSON.stringify(a))!;
    const d2 = byName(await delta.metrics()).get('guard.response.time')!.get(JSON.stringify(a))!;
    assert.equal(d1.count, 10);
    assert.equal(c1.count, 15);
    assert.equal(d2.count, 5);
    assert.equal(d2.min, 0.3);
    await provider.shutdown();
  });

  it('one series per attribute values, even when a series comes back with a new attributes object', async () => {
    const { readers, store, provider } = setup([AggregationTemporality.CUMULATIVE]);
    store.record(0.1, { endpoint: '/x', method: 'GET', status: 200 });
    await readers[0].metrics();
    store.record(0.2, { status: 200, method: 'GET', endpoint: '/x' });
    const points = (await readers[0].metrics()).find((m) => m.descriptor.name === 'guard.response.time')!.dataPoints;
    assert.equal(points.length, 1);
    assert.equal((points[0].value as HistValue).count, 2);
    await provider.shutdown();
  });

  it(`caps the series at ${MAX_HISTOGRAM_SERIES}; further ones share one overflow series and no value is lost`, async () => {
    const { readers, store, provider } = setup([AggregationTemporality.DELTA]);
    const n = MAX_HISTOGRAM_SERIES + 50;
    for (let i = 0; i < n; i++) store.record(0.001, { endpoint: `/p${i}`, method: 'GET', status: 200 });
    const points = (await readers[0].metrics()).find((m) => m.descriptor.name === 'guard.response.time')!.dataPoints;
    assert.equal(points.length, MAX_HISTOGRAM_SERIES + 1);
    const overflow = points.find((p) => p.attributes['otel.metric.overflow'] === true)!;
    assert.equal((overflow.value as HistValue).count, 50);
    assert.equal(points.reduce((s, p) => s + (p.value as HistValue).count, 0), n);
    await provider.shutdown();
  });

  it(`cumulative, at the cap: a new series ends the one quiet the longest (a scan cannot push later routes into the overflow for good)`, async () => {
    const { readers, store, provider } = setup([AggregationTemporality.CUMULATIVE]);
    const points = async () => (await readers[0].metrics()).find((m) => m.descriptor.name === 'guard.response.time')!.dataPoints;
    // A scan fills the cap; then /p1 .. /p9 stay active while the rest go quiet.
    for (let i = 0; i < MAX_HISTOGRAM_SERIES; i++) store.record(0.001, { endpoint: `/p${i}`, method: 'GET', status: 404 });
    assert.equal((await points()).length, MAX_HISTOGRAM_SERIES);
    for (let i = 1; i < 10; i++) store.record(0.002, { endpoint: `/p${i}`, method: 'GET', status: 404 });
    store.record(0.003, { endpoint: '/checkout', method: 'POST', status: 200 });
    const after = await points();
    const checkout = after.find((p) => p.attributes.endpoint === '/checkout');
    assert.ok(checkout, '/checkout has a series of its own');
    assert.equal((checkout.value as HistValue).count, 1);
    assert.equal(after.filter((p) => p.attributes['otel.metric.overflow'] === true).length, 0, 'nothing in the overflow');
    assert.equal(after.length, MAX_HISTOGRAM_SERIES);
    assert.equal(after.find((p) => p.attributes.endpoint === '/p0'), undefined, 'the series quiet the longest (/p0) ended');
    assert.equal((after.find((p) => p.attributes.endpoint === '/p1')!.value as HistValue).count, 2, 'active series keep their totals');
    assert.equal((after.find((p) => p.attributes.endpoint === '/p10')!.value as HistValue).count, 1, 'quiet ones not needed for room keep theirs');
    // Every series fed since the last collection: none is let go, the newcomer shares the overflow series.
    for (let i = 1; i < MAX_HISTOGRAM_SERIES; i++) store.record(0.001, { endpoint: `/p${i}`, method: 'GET', status: 404 });
    store.record(0.001, { endpoint: '/checkout', method: 'POST', status: 200 });
    store.record(0.004, { endpoint: '/late', method: 'GET', status: 200 });
    const busy = await points();
    assert.equal((busy.find((p) => p.attributes['otel.metric.overflow'] === true)!.value as HistValue).count, 1);
    assert.equal(busy.find((p) => p.attributes.endpoint === '/late'), undefined);
    await provider.shutdown();
  });

  it('has no producer until one is asked for (the instrumentation then keeps the SDK histogram)', () => {
    const store = new ResponseTimeHistograms({ name: 's' });
    assert.equal(store.hasProducers, false);
    store.createProducer();
    assert.equal(store.hasProducers, true);
  });
});
