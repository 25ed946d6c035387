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
 *
 * The GuardInstrumentation observes the server without any Express
 * middleware: request metrics keyed by the route template (`/users/:id`, not
 * `/users/42`), and a security event for each 401, 403 and 429 the app
 * answers. The app's own code decides those answers; the agent reports them.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
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
  flushInterval: serve ? 2 : 30,
  otlp: true,
});
const sdk = new NodeSDK({
  serviceName: 'guard-example-express',
  logRecordProcessors: guard.logRecordProcessors,
  metricReaders: guard.metricReaders,
  spanProcessors: guard.spanProcessors as NonNullable<ConstructorParameters<typeof NodeSDK>[0]>['spanProcessors'],
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

const app = express();
app.use(express.json());

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
