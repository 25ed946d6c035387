/**
 * GuardInstrumentation registered in a real NodeSDK (of whichever line is
 * installed), exporting over OTLP/HTTP to the real test receiver: the SDK
 * hands the instrumentation its providers, the Logger obtained from them
 * reaches the SDK's log pipeline, and request metrics reach its metric reader.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { metrics } from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { GUARD_INSTRUMENTATION_NAME, GuardInstrumentation } from '../../src/otel/guard-instrumentation.js';
import { detectOtelLine } from '../../src/otel/otel-line.js';
import { SEVERITY, createBatchLogRecordProcessor, createPeriodicReader, nodeSdkOptionsFor } from '../../src/otel/sdk-compat.js';
import { OtlpReceiver } from '../helpers/otlp-receiver.js';
import { resetOtelGlobals } from '../helpers/otel-globals.js';

describe('GuardInstrumentation inside a real NodeSDK', function () {
  this.timeout(20_000);
  const envKeys = ['OTEL_METRICS_EXPORTER', 'OTEL_TRACES_EXPORTER', 'OTEL_LOGS_EXPORTER'] as const;
  const savedEnv = envKeys.map((k) => process.env[k]);
  let receiver: OtlpReceiver;
  let server: http.Server;
  let inst: GuardInstrumentation;
  let sdk: NodeSDK | undefined;

  beforeEach(async () => {
    for (const k of envKeys) process.env[k] = 'none';
    receiver = new OtlpReceiver();
    await receiver.start();
    server = http.createServer((req, res) => {
      res.statusCode = req.url === '/secret' ? 401 : 200;
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  });

  afterEach(async () => {
    inst?.disable();
    await sdk?.shutdown();
    sdk = undefined;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await receiver.stop();
    resetOtelGlobals();
    envKeys.forEach((k, i) => (savedEnv[i] === undefined ? delete process.env[k] : (process.env[k] = savedEnv[i])));
  });

  it(`receives the SDK's logger and meter providers (OpenTelemetry JS ${detectOtelLine()}.x line)`, async () => {
    inst = new GuardInstrumentation();
    const logProcessor = createBatchLogRecordProcessor(new OTLPLogExporter({ url: `${receiver.url}/v1/logs` }), { scheduledDelayMillis: 50 });
    const reader = createPeriodicReader(new OTLPMetricExporter({ url: `${receiver.url}/v1/metrics` }), { exportIntervalMillis: 60_000 });
    sdk = new NodeSDK({
      autoDetectResources: false,
      serviceName: 'guard-sdk-test',
      ...nodeSdkOptionsFor({ logRecordProcessors: [logProcessor], metricReaders: [reader], instrumentations: [inst] }),
    });
    assert.equal(inst.hasHandedLoggerProvider(), false);
    sdk.start();
    assert.equal(inst.hasHandedLoggerProvider(), true, 'registerInstrumentations handed a LoggerProvider over');
    assert.equal(inst.getMeterProvider(), metrics.getMeterProvider(), 'the SDK MeterProvider, re-handed once created');

    // A record through the handed logger reaches the SDK's pipeline (and so the OTLP destination).
    inst.getLogger()?.emit({ eventName: 'guard.security_event', severityNumber: SEVERITY.WARN, attributes: { 'guard.event_type': 'ip_banned' } });

    // Requests are observed and recorded on the SDK's MeterProvider; a 401 becomes an event.
    const events: Record<string, unknown>[] = [];
    inst.setEmitEvent((e) => {
      events.push(e);
      inst.getLogger()?.emit({ eventName: 'guard.security_event', attributes: { 'guard.event_type': String(e.eventType) } });
    });
    const port = (server.address() as AddressInfo).port;
    for (const path of ['/users/1', '/users/2', '/secret']) await (await fetch(`http://127.0.0.1:${port}${path}`)).arrayBuffer();
    await new Promise((r) => setTimeout(r, 20));

    await reader.forceFlush();
    await logProcessor.forceFlush();
    await receiver.waitFor(() => receiver.logs.length >= 2 && receiver.points('guard.request.count').length >= 2);

    assert.deepEqual(receiver.logs.map((l) => l.attributes['guard.event_type']), ['ip_banned', 'authentication_failed']);
    assert.equal(receiver.logs[0].scope.name, GUARD_INSTRUMENTATION_NAME);
    assert.equal(receiver.logs[0].resource['service.name'], 'guard-sdk-test');
    const users = receiver.points('guard.request.count').find((p) => p.attributes.endpoint === '/users/:id');
    assert.equal(users?.value, 2);
    assert.equal(users?.scope.name, GUARD_INSTRUMENTATION_NAME);
    assert.equal(receiver.points('guard.request.errors')[0]?.attributes.status, 401);
    assert.equal(events.length, 1);
  });
});
