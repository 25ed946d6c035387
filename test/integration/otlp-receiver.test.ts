import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { OtlpReceiver } from '../helpers/otlp-receiver.js';
import {
  SEVERITY,
  createBatchLogRecordProcessor,
  createLoggerProvider,
  createMeterProvider,
  createPeriodicReader,
} from '../../src/otel/sdk-compat.js';

// The exporters' `compression` option is typed with an enum of an internal package.
const GZIP = 'gzip' as never;

describe('OtlpReceiver with the real OTLP/HTTP exporters', function () {
  let receiver: OtlpReceiver;
  let url: string;

  beforeEach(async () => {
    receiver = new OtlpReceiver();
    ({ url } = await receiver.start());
  });
  afterEach(async () => {
    await receiver.stop();
  });

  it('decodes log records with flattened attributes, gzip and plain', async () => {
    for (const compression of [GZIP, undefined]) {
      const exporter = new OTLPLogExporter({ url: `${url}/v1/logs`, ...(compression ? { compression } : {}) });
      const provider = createLoggerProvider({
        resource: resourceFromAttributes({ 'service.name': 'receiver-test' }),
        processors: [createBatchLogRecordProcessor(exporter, { scheduledDelayMillis: 50 })],
      });
      const logger = provider.getLogger('guard-test', '1.0.0');
      for (let i = 0; i < 25; i++) {
        logger.emit({
          eventName: 'guard.security_event',
          severityNumber: SEVERITY.WARN,
          body: `event ${i}`,
          attributes: { 'guard.event_type': 'ip_banned', 'guard.status_code': 403, i, ok: true, list: ['a', 'b'] },
        });
      }
      await provider.forceFlush();
      await provider.shutdown();
    }
    assert.equal(receiver.counts().logs, 50);
    assert.equal(receiver.counts().rejected, 0);
    const first = receiver.logs[0];
    assert.equal(first.eventName, 'guard.security_event');
    assert.equal(first.severityNumber, SEVERITY.WARN);
    assert.equal(first.body, 'event 0');
    assert.deepEqual(first.attributes, { 'guard.event_type': 'ip_banned', 'guard.status_code': 403, i: 0, ok: true, list: ['a', 'b'] });
    assert.equal(first.resource['service.name'], 'receiver-test');
    assert.deepEqual(first.scope, { name: 'guard-test', version: '1.0.0' });
    const encodings = receiver.requests.filter((r) => r.path === '/v1/logs').map((r) => r.contentEncoding ?? 'identity');
    assert.ok(encodings.includes('gzip') && encodings.includes('identity'), `encodings seen: ${encodings.join(',')}`);
  });

  it('counts metric data points by name (sum and histogram)', async () => {
    const exporter = new OTLPMetricExporter({ url: `${url}/v1/metrics`, compression: GZIP });
    const reader = createPeriodicReader(exporter, { exportIntervalMillis: 60_000 });
    const provider = createMeterProvider({ readers: [reader] });
    const meter = provider.getMeter('guard-test');
    const counter = meter.createCounter('guard.request.count');
    const histogram = meter.createHistogram('guard.response.time', { unit: 's' });
    counter.add(3, { endpoint: '/a' });
    counter.add(2, { endpoint: '/b' });
    histogram.record(0.25, { endpoint: '/a' });
    histogram.record(0.75, { endpoint: '/a' });
    // shutdown() collects and exports once (a forceFlush before it would export the cumulative points twice).
    await provider.shutdown();
    assert.equal(receiver.counts().pointsByMetric['guard.request.count'], 2);
    assert.equal(receiver.counts().pointsByMetric['guard.response.time'], 1);
    const a = receiver.points('guard.request.count').find((p) => p.attributes.endpoint === '/a');
    assert.equal(a?.kind, 'sum');
    assert.equal(a?.value, 3);
    const h = receiver.points('guard.response.time')[0];
    assert.equal(h.kind, 'histogram');
    assert.equal(h.count, 2);
    assert.equal(h.sum, 1);
    assert.equal(h.unit, 's');
  });

  it('counts spans and span events', async () => {
    const provider = new TracerProvider({
      spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${url}/v1/traces` }), scheduledDelayMillis: 50 })],
    });
    const tracer = provider.getTracer('guard-test');
    for (let i = 0; i < 3; i++) {
      const span = tracer.startSpan(`op-${i}`, { attributes: { n: i } });
      span.addEvent('guard.blocked', { reason: 'ip_banned' });
      span.addEvent('second');
      span.end();
    }
    await provider.forceFlush();
    await provider.shutdown();
    const c = receiver.counts();
    assert.equal(c.spans, 3);
    assert.equal(c.spanEvents, 6);
    const op1 = receiver.spans.find((s) => s.name === 'op-1');
    assert.equal(op1?.attributes.n, 1);
    assert.deepEqual(op1?.events[0], { name: 'guard.blocked', attributes: { reason: 'ip_banned' } });
  });

  it('answers 200 {} to JSON, 415 to protobuf, 400 to garbage, 404 elsewhere', async () => {
    const json = JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'x' }, attributes: [{ key: 'n', value: { intValue: '7' } }] }] }] }] });
    const ok = await fetch(`${url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(json) });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), {});
    assert.equal(receiver.logs[0].attributes.n, 7);
    const proto = await fetch(`${url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array([1, 2]) });
    assert.equal(proto.status, 415);
    await proto.arrayBuffer();
    const bad = await fetch(`${url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    assert.equal(bad.status, 400);
    await bad.arrayBuffer();
    const other = await fetch(`${url}/v2/x`, { method: 'POST', body: '{}' });
    assert.equal(other.status, 404);
    await other.arrayBuffer();
    assert.equal(receiver.counts().rejected, 2);
    receiver.reset();
    assert.deepEqual(receiver.counts(), { requests: 0, logs: 0, metricPoints: 0, spans: 0, spanEvents: 0, pointsByMetric: {}, rejected: 0 });
  });
});
