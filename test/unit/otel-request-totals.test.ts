/**
 * RequestTotals against the SDK's own storage: each of the series it keeps
 * must reach the reader as a series of its own, under the SDK's default
 * cardinality limit of 2,000 per instrument (one of them the SDK's overflow
 * series), delta and cumulative alike, and what it cannot keep is counted in
 * the one overflow series, nothing lost.
 */
import assert from 'node:assert/strict';
import { AggregationTemporality, InMemoryMetricExporter, type MetricData, type DataPoint } from '@opentelemetry/sdk-metrics';
import { MAX_REQUEST_SERIES, RequestTotals } from '../../src/otel/guard-instruments.js';
import { createMeterProvider, createPeriodicReader } from '../../src/otel/sdk-compat.js';

type Point = DataPoint<number>;

async function countsAfter(series: number, temporality: AggregationTemporality): Promise<Point[]> {
  const exporter = new InMemoryMetricExporter(temporality);
  const provider = createMeterProvider({ readers: [createPeriodicReader(exporter, { exportIntervalMillis: 600_000 })] });
  const meter = provider.getMeter('test');
  const totals = new RequestTotals(meter, meter.createCounter('guard.request.count'), meter.createCounter('guard.request.errors'), meter.createCounter('guard.bandwidth'));
  for (let i = 0; i < series; i++) totals.seriesFor(`/r${i} GET 200`, `/r${i}`, 'GET', 200).count += 1;
  await provider.forceFlush();
  // One collection: the shutdown's own export would repeat the cumulative points.
  const [first] = exporter.getMetrics();
  await provider.shutdown();
  const metrics = first.scopeMetrics.flatMap((sm) => sm.metrics as MetricData[]);
  return metrics.filter((m) => m.descriptor.name === 'guard.request.count').flatMap((m) => m.dataPoints as Point[]);
}

describe('otel/RequestTotals under the SDK cardinality limit', () => {
  for (const temporality of [AggregationTemporality.DELTA, AggregationTemporality.CUMULATIVE]) {
    const name = temporality === AggregationTemporality.DELTA ? 'delta' : 'cumulative';
    it(`${name}: every one of the ${MAX_REQUEST_SERIES} series it keeps is a series of its own at the reader`, async () => {
      const points = await countsAfter(MAX_REQUEST_SERIES, temporality);
      assert.equal(points.filter((p) => p.attributes['otel.metric.overflow'] === true).length, 0, 'no series in the overflow');
      assert.equal(points.length, MAX_REQUEST_SERIES);
      assert.ok(points.every((p) => p.value === 1));
    });

    it(`${name}: past them, the rest share one overflow series and every request is counted`, async () => {
      const points = await countsAfter(MAX_REQUEST_SERIES + 25, temporality);
      const overflow = points.filter((p) => p.attributes['otel.metric.overflow'] === true);
      assert.equal(overflow.length, 1);
      assert.equal(overflow[0].value, 25);
      assert.equal(points.length, MAX_REQUEST_SERIES + 1);
      assert.equal(points.reduce((n, p) => n + p.value, 0), MAX_REQUEST_SERIES + 25);
    });
  }
});
