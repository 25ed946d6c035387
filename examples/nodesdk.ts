/**
 * An app that already runs the OpenTelemetry NodeSDK adds the guard agent.
 *
 *   guard-agent dev-backend                       # a local guard backend on :8080
 *   node --import tsx examples/nodesdk.ts
 *
 * Environment:
 *   GUARD_AGENT_ENDPOINT         guard backend (default http://127.0.0.1:8080)
 *   GUARD_AGENT_API_KEY          its API key (default: the dev backend's key)
 *   OTEL_EXPORTER_OTLP_ENDPOINT  OTLP/HTTP collector the same data fans out to
 *                                (default http://localhost:4318)
 *
 * What it shows:
 * - `guardAgent({ ..., otlp: true })` gives NodeSDK one processor/reader per
 *   destination: the guard backend and the OTLP collector get the same records;
 * - the GuardInstrumentation observes the app's node:http server: request
 *   metrics, and a security event for each 401, 403 and 429 the app answers;
 * - events sent through `guard.handler.sendEvent()` inside a span carry that
 *   span's trace id (and appear as a span event on it);
 * - any OTel logger can emit a security event: a record named
 *   `guard.security_event` with `guard.*` attributes; the app's ordinary log
 *   records go to the collector only.
 *
 * It sends a few requests to itself, prints a summary and exits.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
// In your app: import { guardAgent } from 'guard-agent-otel';
import { guardAgent } from '../src/otel/guard-agent.js';

const DEV_API_KEY = 'dev-api-key-0123456789';

// 1. The guard agent, built before the SDK: NodeSDK takes its parts at construction.
const guard = guardAgent({
  apiKey: process.env.GUARD_AGENT_API_KEY ?? DEV_API_KEY,
  endpoint: process.env.GUARD_AGENT_ENDPOINT ?? 'http://127.0.0.1:8080',
  projectId: process.env.GUARD_AGENT_PROJECT_ID ?? 'proj_example_nodesdk',
  // Fan out to OTEL_EXPORTER_OTLP_ENDPOINT as well (a URL string works too).
  otlp: true,
});

// 2. The app's NodeSDK, with the guard parts added. The plural option names
//    work on both OpenTelemetry JS lines (3.x removed the singular ones).
const sdk = new NodeSDK({
  serviceName: 'guard-example-nodesdk',
  logRecordProcessors: guard.logRecordProcessors,
  metricReaders: guard.metricReaders,
  spanProcessors: guard.spanProcessors,
  instrumentations: [guard.instrumentation],
});
sdk.start();

const tracer = trace.getTracer('example-app');
// A plain OTel logger from the provider the SDK handed the instrumentation:
// the right one on either SDK line (the logs globals differ between them).
const logger = guard.instrumentation.getLoggerProvider()!.getLogger('example-app');

// 3. A tiny app. It answers some requests with 401, 403 and 429 itself; the
//    instrumentation turns those answers into security events.
const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/login') return reply(res, 401, 'bad credentials');
  if (path === '/admin') return reply(res, 403, 'forbidden');
  if (path === '/search') return reply(res, 429, 'slow down');
  reply(res, 200, 'ok');
});

function reply(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(text);
}

async function main(): Promise<void> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  for (const path of ['/users/1', '/users/2', '/login', '/admin', '/search']) {
    const res = await fetch(base + path, { headers: { 'user-agent': 'guard-example/1.0' } });
    await res.arrayBuffer();
    console.log(`GET ${path} -> ${res.status}`);
  }

  // 4. An event through the handler, inside a span: the backend event's
  //    metadata gets the span's trace_id/span_id, the span a
  //    `guard.security_event` span event.
  await tracer.startActiveSpan('checkout', async (span) => {
    await guard.handler.sendEvent({
      eventType: 'suspicious_request',
      ipAddress: '203.0.113.7',
      actionTaken: 'logged',
      reason: 'card testing pattern',
      endpoint: '/checkout',
      method: 'POST',
      metadata: { attempts: 12 },
    });
    span.setStatus({ code: SpanStatusCode.OK });
    span.end();
  });

  // 5. The same kind of event from a plain OTel logger: the guard attributes make it one.
  logger.emit({
    eventName: 'guard.security_event',
    severityNumber: 13, // WARN
    body: 'credential stuffing suspected',
    attributes: {
      'guard.event_type': 'brute_force_detected',
      'guard.action_taken': 'logged',
      'guard.reason': 'credential stuffing suspected',
      'client.address': '198.51.100.23',
      'url.path': '/login',
      'http.request.method': 'POST',
    },
  });

  // 6. An ordinary app log record: it goes to the collector, not to the guard backend.
  logger.emit({ severityNumber: 9, body: 'order 1234 placed', attributes: { 'order.id': 1234 } });

  // 7. Stop: the guard first (bounded; NodeSDK's shutdown has no deadline), then the SDK.
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await guard.shutdown(5000);
  await sdk.shutdown();

  const stats = guard.handler.getStats();
  console.log(
    `guard agent: delivered ${stats.eventsSent} security events (${stats.eventsAccepted} through the handler, ` +
      `the rest from the plain logger) and ${stats.metricsSent} metric records; ${stats.itemsQueued} queued for retry`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
