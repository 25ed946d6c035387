/**
 * Every example, run as a user runs it (`node --import tsx examples/x.ts`, a
 * real child process) against a dev guard backend and, where the example fans
 * out, a real OTLP receiver, both started here on 127.0.0.1. Each must exit 0
 * by itself; the test then checks what reached the backend and the receiver.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DevBackend, DEFAULT_DEV_API_KEY } from '../../src/dev-backend/index.js';
import { GOLDEN } from '../helpers/golden.js';
import { OtlpReceiver } from '../helpers/otlp-receiver.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RFC3339 = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
type Wire = Record<string, unknown>;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment of a child: the parent's, minus any GUARD_AGENT_* / OTEL_* that would redirect it. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GUARD_AGENT_') && !k.startsWith('OTEL_') && k !== 'REDIS_URL') env[k] = v;
  return { ...env, ...extra };
}

function spawnExample(name: string, env: Record<string, string>, args: string[] = []): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', `examples/${name}.ts`, ...args], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Collects output and resolves at exit; kills the child (and fails) after `timeoutMs`. */
interface Running extends Promise<Run> {
  stdout(): string;
  stderr(): string;
  exited(): boolean;
}

function completion(child: ChildProcess, timeoutMs = 45_000): Running {
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<Run>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`example did not exit within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return Object.assign(done, { stdout: () => stdout, stderr: () => stderr, exited: () => exited });
}

async function runExample(name: string, env: Record<string, string>): Promise<Run> {
  const run = await completion(spawnExample(name, env));
  assert.equal(run.code, 0, `examples/${name}.ts exited ${run.code} (${run.signal})\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  return run;
}

const sumOf = (ms: Wire[]) => ms.reduce((a, m) => a + Number(m.value), 0);
const tagsOf = (m: Wire) => m.tags as Record<string, string>;
const metricsOf = (b: DevBackend, type: string, endpoint?: string) =>
  b.metrics.filter((m) => m.metric_type === type && (endpoint === undefined || tagsOf(m).endpoint === endpoint));

interface Destinations {
  backend: DevBackend;
  receiver: OtlpReceiver;
  env: Record<string, string>;
}

/** A dev backend (serving the golden rules when asked) and an OTLP receiver of its own for one example run. */
async function destinations(withRules: boolean): Promise<Destinations> {
  const backend = new DevBackend({ apiKeys: [DEFAULT_DEV_API_KEY], ...(withRules ? { rules: GOLDEN.rules } : {}) });
  await backend.start();
  const receiver = new OtlpReceiver();
  await receiver.start();
  return { backend, receiver, env: { GUARD_AGENT_ENDPOINT: backend.url, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } };
}

/** Runs `examples/name.ts --serve`, drives it over HTTP, then stops it with SIGTERM. */
async function runServed(name: string, env: Record<string, string>, paths: string[]): Promise<Run> {
  const child = spawnExample(name, { ...env, PORT: '0' }, ['--serve']);
  const run = completion(child);
  const deadline = Date.now() + 30_000;
  let url: string | undefined;
  while (!url) {
    url = /listening on (http:\/\/\S+)/.exec(run.stdout())?.[1];
    if (Date.now() > deadline || run.exited()) {
      child.kill('SIGKILL');
      throw new Error(`no "listening on" line (exited: ${run.exited()})\nstdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`);
    }
    if (!url) await new Promise((r) => setTimeout(r, 50));
  }
  for (const path of paths) await (await fetch(url + path)).arrayBuffer();
  child.kill('SIGTERM');
  const done = await run;
  assert.equal(done.code, 0, `exit ${done.code} (${done.signal})\n${done.stdout}\n${done.stderr}`);
  return done;
}

describe('examples/ (run as child processes against a dev backend and an OTLP receiver)', function () {
  // The examples run concurrently (started in before(), each with its own
  // backend and receiver): a child process spends most of its 2-3 s loading
  // TypeScript and the SDK, and one after the other they would take too long.
  this.timeout(60_000);
  const all: Destinations[] = [];
  const runs = new Map<string, Promise<{ run: Run; backend: DevBackend; receiver: OtlpReceiver }>>();

  // At most three children at a time: on a small, busy machine more only slow each other down.
  let active = 0;
  const waiting: (() => void)[] = [];
  async function lane<T>(fn: () => Promise<T>): Promise<T> {
    if (active >= 3) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  }

  function start(key: string, go: (env: Record<string, string>) => Promise<Run>, withRules = false): void {
    const p = lane(async () => {
      const d = await destinations(withRules);
      all.push(d);
      return { run: await go(d.env), backend: d.backend, receiver: d.receiver };
    });
    p.catch(() => undefined); // reported by the test that awaits it
    runs.set(key, p);
  }

  before(() => {
    start('nodesdk', (env) => runExample('nodesdk', env));
    start('express', (env) => runExample('express', env));
    start('express-serve', (env) => runServed('express', env, ['/users/7', '/admin', '/admin']));
    start('standalone', (env) => runExample('standalone', env));
    start('guardcore', (env) => runExample('guardcore', env), true);
  });

  after(async () => {
    await Promise.allSettled([...runs.values()]);
    for (const d of all) {
      await d.backend.stop();
      await d.receiver.stop();
    }
  });

  it('nodesdk.ts: events from the instrumentation, the handler and a plain logger reach both destinations', async () => {
    const { run, backend, receiver } = await runs.get('nodesdk')!;
    assert.match(run.stdout, /GET \/search -> 429/);
    assert.match(run.stdout, /guard agent: delivered 5 security events \(4 through the handler/);

    const types = backend.events.map((e) => e.event_type).sort();
    assert.deepEqual(types, ['access_denied', 'authentication_failed', 'brute_force_detected', 'rate_limited', 'suspicious_request']);
    for (const e of backend.events) assert.match(String(e.timestamp), RFC3339);
    const suspicious = backend.events.find((e) => e.event_type === 'suspicious_request')!;
    const meta = suspicious.metadata as Wire;
    assert.match(String(meta.trace_id), /^[0-9a-f]{32}$/);
    assert.match(String(meta.span_id), /^[0-9a-f]{16}$/);
    assert.equal(backend.events.find((e) => e.event_type === 'brute_force_detected')!.ip_address, '198.51.100.23');
    assert.equal(sumOf(metricsOf(backend, 'request_count', '/users/:id')), 2, 'route-keyed, not one series per id');
    assert.equal(sumOf(metricsOf(backend, 'error_rate')), 3);

    // The collector: the same five guard records plus the app's ordinary one, the span with its guard event, the metrics.
    const guardLogs = receiver.logs.filter((l) => l.eventName === 'guard.security_event');
    assert.deepEqual(guardLogs.map((l) => l.attributes['guard.event_type']).sort(), types);
    assert.deepEqual(receiver.logs.filter((l) => l.eventName === undefined).map((l) => l.body), ['order 1234 placed']);
    const span = receiver.spans.find((s) => s.name === 'checkout');
    assert.equal(span?.traceId, meta.trace_id);
    assert.equal(span?.events[0]?.name, 'guard.security_event');
    assert.equal(receiver.points('guard.request.count').find((p) => p.attributes.endpoint === '/users/:id')?.value, 2);
    assert.equal(receiver.logs[0].resource['service.name'], 'guard-example-nodesdk');
  });

  it('express.ts: route templates and the app-answered 401/403/429 reach both destinations', async () => {
    const { run, backend, receiver } = await runs.get('express')!;
    assert.match(run.stdout, /GET \/search\?q=shoes -> 429/);

    const events = backend.events;
    assert.deepEqual(events.map((e) => e.event_type).sort(), ['access_denied', 'authentication_failed', 'rate_limited']);
    for (const e of events) {
      assert.equal(e.action_taken, 'observed');
      assert.equal(e.ip_address, '127.0.0.1');
      assert.equal(e.user_agent, 'guard-example/1.0');
    }
    assert.equal(events.find((e) => e.event_type === 'authentication_failed')!.method, 'POST');
    const endpoints = new Set(backend.metrics.map((m) => tagsOf(m).endpoint));
    assert.deepEqual([...endpoints].sort(), ['/admin', '/login', '/search', '/teams/:team/members', '/users/:id']);
    assert.equal(sumOf(metricsOf(backend, 'request_count', '/users/:id')), 2);
    assert.equal(sumOf(metricsOf(backend, 'request_count', '/search')), 4);
    assert.equal(sumOf(metricsOf(backend, 'error_rate')), 3);
    assert.equal(metricsOf(backend, 'response_time', '/search').length, 2, 'one record per status of the route (200, 429)');

    assert.equal(receiver.logs.filter((l) => l.eventName === 'guard.security_event').length, 3);
    const templates = new Set(receiver.points('guard.request.count').map((p) => p.attributes.endpoint));
    assert.ok(templates.has('/teams/:team/members') && templates.has('/users/:id'), [...templates].join(', '));
  });

  it('express.ts --serve: serves until SIGTERM, then flushes and exits 0', async () => {
    const { run, backend, receiver } = await runs.get('express-serve')!;
    assert.match(run.stdout, /guard agent: 2 security events/);
    assert.deepEqual(backend.events.map((e) => e.event_type), ['access_denied', 'access_denied']);
    assert.equal(sumOf(metricsOf(backend, 'request_count')), 3);
    assert.equal(receiver.logs.filter((l) => l.eventName === 'guard.security_event').length, 2);
  });

  it('standalone.ts: seed-style events and metrics, flushed and stopped without NodeSDK', async () => {
    const { run, backend, receiver } = await runs.get('standalone')!;
    assert.match(run.stdout, /healthy: true/);
    assert.match(run.stdout, /accepted 3 events and 7 metric samples; delivered 3 events/);

    assert.deepEqual(backend.events.map((e) => e.event_type), ['ip_banned', 'penetration_attempt', 'rate_limited']);
    assert.deepEqual(backend.events[0].metadata, { attempts: 5, ban_seconds: 3600 });
    assert.equal(backend.events[1].pattern_matched, "' OR 1=1");
    assert.equal(backend.events[2].status_code, 429);
    assert.equal(sumOf(metricsOf(backend, 'request_count')), 3);
    assert.equal(sumOf(metricsOf(backend, 'error_rate')), 1);
    const rt200 = metricsOf(backend, 'response_time').find((m) => tagsOf(m).status === '200')!;
    assert.equal(tagsOf(rt200).count, '2');
    assert.ok(Math.abs(Number(rt200.value) - 0.015) < 1e-9, 'mean of 12 ms and 18 ms');
    for (const b of backend.batches.filter((x) => x.path === '/api/v1/events')) assert.equal(b.headers['x-project-id'], 'proj_example_standalone');
    assert.equal(receiver.counts().requests, 0, 'no OTel setup, no OTLP traffic');
  });

  it('guardcore.ts: camelCase in, snake_case RFC 3339 on the wire, rules parsed by the middleware schema and applied once', async () => {
    const { run, backend } = await runs.get('guardcore')!;
    assert.match(run.stdout, /rules: applied rs_42 v7/);
    assert.match(run.stdout, /rules, second poll: unchanged/);
    assert.match(run.stdout, /healthCheck: true/);

    const byType = new Map(backend.events.map((e) => [e.event_type, e]));
    // The agent may report the rules change itself as well (dynamic_rule_updated); the middleware's events are these.
    const fromMiddleware = [...byType.keys()].filter((t) => t !== 'dynamic_rule_updated').sort();
    assert.deepEqual(fromMiddleware, ['dynamic_rule_applied', 'ip_banned', 'penetration_attempt', 'rate_limited']);
    assert.equal(backend.events.filter((e) => e.event_type === 'dynamic_rule_applied').length, 1, 'applied once');
    assert.equal(byType.get('dynamic_rule_applied')!.ip_address, 'system');
    assert.equal(byType.get('penetration_attempt')!.country, 'DE');
    for (const e of backend.events) {
      assert.match(String(e.timestamp), RFC3339);
      assert.equal('eventType' in e || 'ipAddress' in e, false, 'no camelCase keys on the wire');
    }
    assert.equal(sumOf(metricsOf(backend, 'request_count')), 4);
    assert.equal(sumOf(metricsOf(backend, 'error_rate')), 2);
    for (const m of backend.metrics) assert.match(String(m.timestamp), RFC3339);
    assert.deepEqual(tagsOf(metricsOf(backend, 'request_count', '/search')[0]), { endpoint: '/search', method: 'GET' });
  });
});
