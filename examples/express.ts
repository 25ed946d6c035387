/**
 * An Express 5 app with the OpenTelemetry NodeSDK and the guard agent.
 *
 *   guard-agent dev-backend                          # a local guard backend on :8080
 *   node --import tsx examples/express.ts            # sends a few requests to itself, prints a summary, exits
 *   node --import tsx examples/express.ts --serve    # serves on PORT (default 3000) until SIGTERM/SIGINT
 *
 * Environment:
 *   GUARD_AGENT_ENDPOINT         guard backend (default http://127.0.0.1:8080)
 *   GUARD_AGENT_API_KEY          its API key (default: the dev backend's key)
 *   OTEL_EXPORTER_OTLP_ENDPOINT  OTLP/HTTP collector the same data fans out to
 *                                (default http://localhost:4318)
 *   PORT                         port of `--serve` (default 3000; 0 picks a free one)
 *   GUARD_AGENT_FLUSH_INTERVAL   seconds between exports (default 2 with --serve, else 30)
 *
 * The GuardInstrumentation observes the server without any Express
 * middleware: request metrics keyed by the route template (`/users/:id`, not
 * `/users/42`), and a security event for each 401, 403 and 429 the app
 * answers. The app's own code decides those answers; the agent reports them.
 * The app also rejects attack-looking requests itself and reports each one
 * with `guard.handler.sendEvent` inside a span, so the event also shows up on
 * the trace (a `guard.security_event` span event).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { trace } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
// In your app: import { guardAgent } from 'guard-agent-otel';
import { guardAgent } from '../src/otel/guard-agent.js';

const DEV_API_KEY = 'dev-api-key-0123456789';
const serve = process.argv.includes('--serve');

// The agent and the SDK come first: the instrumentation must be registered
// before requests arrive.
const guard = guardAgent({
  apiKey: process.env.GUARD_AGENT_API_KEY ?? DEV_API_KEY,
  endpoint: process.env.GUARD_AGENT_ENDPOINT ?? 'http://127.0.0.1:8080',
  projectId: process.env.GUARD_AGENT_PROJECT_ID ?? 'proj_example_express',
  // A served demo should show data within seconds, not the default 30 s.
  flushInterval: Number(process.env.GUARD_AGENT_FLUSH_INTERVAL ?? (serve ? 2 : 30)),
  otlp: true,
});
const sdk = new NodeSDK({
  serviceName: 'guard-example-express',
  logRecordProcessors: guard.logRecordProcessors,
  metricReaders: guard.metricReaders,
  spanProcessors: guard.spanProcessors,
  instrumentations: [guard.instrumentation],
});
sdk.start();

// Express is loaded after sdk.start(), as with any OTel instrumentation.
const { default: express } = await import('express');

/** A deliberately small fixed-window limiter: 3 searches per client per 10 s. */
const searches = new Map<string, { windowStart: number; count: number }>();
function overLimit(client: string): boolean {
  const now = Date.now();
  const w = searches.get(client);
  if (!w || now - w.windowStart > 10_000) {
    searches.set(client, { windowStart: now, count: 1 });
    return false;
  }
  w.count++;
  return w.count > 3;
}

/** What the app treats as an attack: SQL injection, path traversal, XSS, a scanner's user agent. */
const ATTACK_PATTERNS: [string, RegExp][] = [
  ['sql_injection', /('|%27)\s*(or|and)\s+\d+\s*=\s*\d+|\bunion\s+select\b|;\s*drop\s+table\b/i],
  ['path_traversal', /\.\.[/\\]/],
  ['xss', /<script\b|javascript:|\bon(error|load)\s*=/i],
];
const SCANNER_AGENTS = /sqlmap|nikto|nmap|masscan|zgrab|acunetix/i;
const tracer = trace.getTracer('guard-example-express');

const app = express();
app.use(express.json());

// Attack-looking requests are answered 400 here and reported to the guard.
app.use((req, res, next) => {
  let url: string;
  try {
    url = decodeURIComponent(req.originalUrl);
  } catch {
    url = req.originalUrl;
  }
  const ua = req.get('user-agent') ?? '';
  const pattern = ATTACK_PATTERNS.find(([, re]) => re.test(url))?.[0];
  const scanner = SCANNER_AGENTS.test(ua);
  if (!pattern && !scanner) return next();
  tracer.startActiveSpan('reject attack-looking request', (span) => {
    void guard.handler.sendEvent({
      eventType: pattern ? 'penetration_attempt' : 'user_agent_blocked',
      ipAddress: req.ip ?? 'unknown',
      userAgent: ua,
      actionTaken: 'request_blocked',
      reason: pattern ? `${pattern} in the URL` : 'scanner user agent',
      endpoint: req.path,
      method: req.method,
      statusCode: 400,
      ...(pattern ? { patternMatched: pattern } : {}),
    });
    span.end();
  });
  res.status(400).json({ error: 'rejected' });
});

app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id, name: `user ${req.params.id}` });
});

app.get('/teams/:team/members', (req, res) => {
  res.json({ team: req.params.team, members: ['ada', 'grace'] });
});

app.post('/login', (req, res) => {
  const body = (req.body ?? {}) as { user?: string; password?: string };
  if (body.user === 'ada' && body.password === 'correct horse') return void res.json({ token: 'demo-token' });
  res.status(401).json({ error: 'bad credentials' });
});

app.get('/admin', (req, res) => {
  if (req.get('authorization') !== 'Bearer admin-token') return void res.status(403).json({ error: 'admins only' });
  res.json({ ok: true });
});

app.get('/search', (req, res) => {
  if (overLimit(req.ip ?? 'unknown')) return void res.status(429).set('retry-after', '10').json({ error: 'too many searches' });
  res.json({ q: req.query.q ?? '', results: [] });
});

const server: Server = await new Promise((resolve) => {
  const port = serve ? Number(process.env.PORT ?? 3000) : 0;
  const s = app.listen(port, '127.0.0.1', () => resolve(s));
});
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

async function shutdown(): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await guard.shutdown(5000); // bounded: the guard flushes what it holds
  await sdk.shutdown(); // then the OTLP destinations
  const s = guard.handler.getStats();
  console.log(`guard agent: ${s.eventsSent} security events and ${s.metricsSent} metric records delivered, ${s.itemsQueued} queued for retry`);
}

if (serve) {
  console.log(`example app listening on ${base}`);
  void guard.handler.sendStatus(); // one heartbeat now, so the backend's page shows this agent at once
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await shutdown();
} else {
  const requests: [string, string, RequestInit?][] = [
    ['GET', '/users/42'],
    ['GET', '/users/43'],
    ['GET', '/teams/blue/members'],
    ['POST', '/login', { body: JSON.stringify({ user: 'ada', password: 'correct horse' }) }],
    ['POST', '/login', { body: JSON.stringify({ user: 'ada', password: 'guess' }) }],
    ['GET', '/admin'],
    ...Array.from({ length: 4 }, (): [string, string] => ['GET', '/search?q=shoes']),
  ];
  for (const [method, path, init] of requests) {
    const res = await fetch(base + path, { method, headers: { 'content-type': 'application/json', 'user-agent': 'guard-example/1.0' }, ...init });
    await res.arrayBuffer();
    console.log(`${method} ${path} -> ${res.status}`);
  }
  await shutdown();
}
