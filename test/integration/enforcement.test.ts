/**
 * Rule enforcement end to end: rules served by the real dev backend, fetched
 * by the handler's RulePoller, enforced by GuardInstrumentation inside a real
 * NodeSDK (wired by guardAgent()), in front of a real http server and an
 * Express 5 app whose handler invocations are counted. Events go through the
 * OTel pipeline to the dev backend.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import express from 'express';
import { Redis } from 'ioredis';
import { DevBackend } from '../../src/dev-backend/index.js';
import { defaultDynamicRules } from '../../src/models/dynamic-rules.js';
import { guardAgent, type GuardAgentSetup } from '../../src/otel/guard-agent.js';
import type { GuardInstrumentationConfig } from '../../src/otel/guard-instrumentation.js';
import { logsApiOfLine } from '../../src/otel/otel-line.js';
import { nodeSdkOptionsFor } from '../../src/otel/sdk-compat.js';
import { until } from '../helpers/until.js';

const KEY = 'enforcement_key_0123456789';
const RULES = {
  rule_id: 'rs_enf',
  version: 1,
  ip_blacklist: ['203.0.113.0/24', '2001:db8:bad::/48', '198.51.100.66'],
  ip_whitelist: ['192.0.2.10'],
  blocked_user_agents: ['evil-bot', '^sqlmap'],
  blocked_countries: ['KP'],
};


interface Answer {
  status: number;
  body: string;
  retryAfter: string | null;
}

describe('rule enforcement in GuardInstrumentation (dev backend -> RulePoller -> gate)', function () {
  this.timeout(20_000);
  const envKeys = ['OTEL_METRICS_EXPORTER', 'OTEL_TRACES_EXPORTER', 'OTEL_LOGS_EXPORTER'] as const;
  const savedEnv = envKeys.map((k) => process.env[k]);
  let backend: DevBackend;
  let guard: GuardAgentSetup | undefined;
  let sdk: NodeSDK | undefined;
  let server: http.Server | undefined;
  let base = '';
  let calls = 0;
  const redisClients: Redis[] = [];

  async function boot(instrumentation: GuardInstrumentationConfig, app: 'http' | 'express' = 'http', projectId: string | null = 'proj_enforce'): Promise<void> {
    guard = guardAgent({
      apiKey: KEY,
      endpoint: backend.url,
      projectId,
      flushInterval: 0.1,
      retryAttempts: 1,
      backoffFactor: 0.01,
      // The dev backend runs in this process: its routes are not the app's, keep them out of the rules.
      instrumentation: { trustedProxyDepth: 1, countryHeader: 'CF-IPCountry', ignorePaths: ['/api/v1'], ...instrumentation },
      handlerOptions: { env: {}, rulesIntervalMs: 200 },
    });
    sdk = new NodeSDK({ autoDetectResources: false, ...nodeSdkOptionsFor({ logRecordProcessors: guard.logRecordProcessors, metricReaders: guard.metricReaders, instrumentations: guard.instrumentations }) });
    sdk.start();
    if (app === 'http') {
      server = http.createServer((_req, res) => {
        calls++;
        res.end('app');
      });
    } else {
      const ex = express();
      ex.get('/{*any}', (_req, res) => {
        calls++;
        res.send('express');
      });
      server = http.createServer(ex);
    }
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Without a projectId the handler polls no rules (they are per project).
    if (projectId !== null) await until(() => guard!.instrumentation.getRules() !== null);
  }

  /** The agent's queue and rate limits moved onto the shared Redis at 127.0.0.1:6379, as `@guardcore/core` does it. */
  async function onSharedRedis(): Promise<Redis> {
    const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    redisClients.push(redis);
    await redis.ping();
    await guard!.handler.initializeRedis(redis);
    return redis;
  }

  async function get(path: string, opts: { ip?: string; ua?: string; country?: string } = {}): Promise<Answer> {
    const headers: Record<string, string> = { 'x-forwarded-for': opts.ip ?? '192.0.2.1', 'user-agent': opts.ua ?? 'Mozilla/5.0' };
    if (opts.country) headers['cf-ipcountry'] = opts.country;
    const res = await fetch(base + path, { headers });
    return { status: res.status, body: await res.text(), retryAfter: res.headers.get('retry-after') };
  }

  beforeEach(async () => {
    for (const k of envKeys) process.env[k] = 'none';
    calls = 0;
    backend = new DevBackend({ apiKeys: [KEY], rules: RULES });
    await backend.start();
  });

  afterEach(async () => {
    guard?.instrumentation.disable();
    await guard?.shutdown(3000);
    await sdk?.shutdown();
    guard = undefined;
    sdk = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((r) => server!.close(() => r()));
      server = undefined;
    }
    for (const c of redisClients.splice(0)) await c.quit().catch(() => c.disconnect());
    await backend.stop();
    (logsApiOfLine() as unknown as { disable(): void } | undefined)?.disable();
    metrics.disable();
    trace.disable();
    context.disable();
    propagation.disable();
    envKeys.forEach((k, i) => (savedEnv[i] === undefined ? delete process.env[k] : (process.env[k] = savedEnv[i])));
  });

  for (const app of ['http', 'express'] as const) {
    it(`enforce mode (${app}): blocked requests never reach the handler; allowed ones do`, async () => {
      await boot({ mode: 'enforce' }, app);
      const blocked: Array<[Parameters<typeof get>[1], number, string]> = [
        [{ ip: '203.0.113.9' }, 403, 'ip_blocked'],
        [{ ip: '::ffff:203.0.113.77' }, 403, 'ip_blocked'],
        [{ ip: '2001:db8:bad:1::5' }, 403, 'ip_blocked'],
        [{ ip: '198.51.100.66' }, 403, 'ip_blocked'],
        [{ ua: 'Mozilla/5.0 EVIL-BOT/2' }, 403, 'user_agent_blocked'],
        [{ ua: 'sqlmap/1.7' }, 403, 'user_agent_blocked'],
        [{ country: 'kp' }, 403, 'country_blocked'],
      ];
      for (const [opts, status] of blocked) {
        const a = await get('/anything?x=1', opts);
        assert.equal(a.status, status, JSON.stringify(opts));
        assert.deepEqual(JSON.parse(a.body), { detail: 'Access denied' });
      }
      assert.equal(calls, 0, 'no blocked request reached the app handler');
      for (const opts of [{}, { ip: '203.0.114.1' }, { ip: '192.0.2.10', ua: 'evil-bot' }, { country: 'FR' }, { ua: 'curl-sqlmap' }]) {
        assert.equal((await get('/ok', opts)).status, 200, JSON.stringify(opts));
      }
      assert.equal(calls, 5, 'allowed requests reached the handler (whitelist wins over the UA rule)');
      const stats = guard!.instrumentation.getEnforcementStats()!;
      assert.equal(stats.blocked, blocked.length);
      await guard!.handler.flushBuffer(3000);
      await until(() => backend.events.filter((e) => e.action_taken === 'request_blocked').length === blocked.length);
      const ev = backend.events.filter((e) => e.action_taken === 'request_blocked');
      assert.deepEqual(
        ev.map((e) => e.event_type).sort(),
        blocked.map((b) => b[2]).sort(),
      );
      const kp = ev.find((e) => e.event_type === 'country_blocked')!;
      assert.equal(kp.country, 'KP');
      assert.equal(kp.ip_address, '192.0.2.1');
      assert.equal(kp.endpoint, '/anything');
      assert.equal((kp.metadata as Record<string, unknown>).rule_id, 'rs_enf');
      assert.ok(backend.events.some((e) => e.event_type === 'dynamic_rule_updated'), 'the rules change is an event too');
    });
  }

  /** Sends raw bytes to the app server and collects what comes back until the connection closes. */
  function rawExchange(request: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect((server!.address() as AddressInfo).port, '127.0.0.1', () => socket.write(request));
      let got = '';
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(got);
      }, 3000);
      socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(got);
      });
      socket.on('error', reject);
    });
  }

  it('enforce mode: WebSocket upgrades and CONNECT requests go through the rules too, on a server that saw no plain request first', async () => {
    await boot({ mode: 'enforce' });
    let upgrades = 0;
    let connects = 0;
    server!.on('upgrade', (_req, socket: net.Socket) => {
      upgrades++;
      socket.end('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
    });
    server!.on('connect', (_req, socket: net.Socket) => {
      connects++;
      socket.end('HTTP/1.1 200 Connection Established\r\n\r\n');
    });
    const upgrade = (ip: string) => `GET /ws HTTP/1.1\r\nHost: app\r\nX-Forwarded-For: ${ip}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`;
    const blockedUpgrade = await rawExchange(upgrade('203.0.113.9'));
    assert.match(blockedUpgrade, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.match(blockedUpgrade, /\r\n\r\n\{"detail":"Access denied"\}$/);
    assert.equal(upgrades, 0, "a blacklisted client never reaches the server's upgrade listener");
    assert.match(await rawExchange(upgrade('192.0.2.1')), /^HTTP\/1\.1 101 /);
    assert.equal(upgrades, 1, 'an allowed client does');
    const connect = (ip: string) => `CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\nX-Forwarded-For: ${ip}\r\n\r\n`;
    assert.match(await rawExchange(connect('198.51.100.66')), /^HTTP\/1\.1 403 /);
    assert.equal(connects, 0);
    assert.match(await rawExchange(connect('192.0.2.1')), /^HTTP\/1\.1 200 /);
    assert.equal(connects, 1);
    assert.equal(calls, 0, 'no plain request was made');
    assert.equal(guard!.instrumentation.getEnforcementStats()!.blocked, 2);
    await guard!.handler.flushBuffer(3000);
    await until(() => backend.events.filter((e) => e.action_taken === 'request_blocked').length === 2);
    const ev = backend.events.filter((e) => e.action_taken === 'request_blocked');
    assert.deepEqual(ev.map((e) => [e.event_type, e.ip_address, e.method, e.endpoint]).sort(), [
      ['ip_blocked', '198.51.100.66', 'CONNECT', '/'],
      ['ip_blocked', '203.0.113.9', 'GET', '/ws'],
    ].sort());
  });

  it('a rule change served by the dev backend takes effect within one interval; emergency mode lets only its whitelist through', async () => {
    await boot({ mode: 'enforce' });
    assert.equal((await get('/', { ip: '192.0.2.55' })).status, 200);
    const changed = Date.now();
    backend.setRules({ ...RULES, version: 2, ip_blacklist: ['192.0.2.55'] });
    await until(async () => (await get('/', { ip: '192.0.2.55' })).status === 403, 2000);
    assert.ok(Date.now() - changed < 200 * 1.1 + 150, `applied within one interval (${Date.now() - changed} ms)`);
    backend.setRules({ ...RULES, version: 3, emergency_mode: true, emergency_whitelist: ['10.9.0.0/16'] });
    await until(() => guard!.instrumentation.getRules()?.version === 3, 2000);
    const before = calls;
    assert.equal((await get('/', { ip: '192.0.2.10' })).status, 403, 'ip whitelist does not pass emergency mode');
    assert.equal((await get('/', { ip: '10.9.3.4' })).status, 200);
    assert.equal(calls, before + 1);
    await guard!.handler.flushBuffer(3000);
    await until(() => backend.events.some((e) => e.event_type === 'emergency_mode_block' && e.action_taken === 'request_blocked'));
  });

  it('rate limits: 429 with Retry-After before the handler, global and per endpoint (memory limiter)', async () => {
    backend.setRules({ rule_id: 'rs_rl', version: 1, global_rate_limit: 5, global_rate_window: 60, endpoint_rate_limits: { '/login': [2, 60] } });
    await boot({ mode: 'enforce' });
    const login = [];
    for (let i = 0; i < 3; i++) login.push(await get('/login', { ip: '192.0.2.7' }));
    assert.deepEqual(login.map((a) => a.status), [200, 200, 429]);
    assert.ok(Number(login[2].retryAfter) >= 1);
    assert.deepEqual(JSON.parse(login[2].body), { detail: 'Too many requests' });
    const other = [];
    for (let i = 0; i < 4; i++) other.push((await get('/x', { ip: '192.0.2.7' })).status);
    // The third /login passed the global limit (and counts there) before its endpoint limit refused it.
    assert.deepEqual(other, [200, 200, 429, 429], 'global limit: 5 per window in all');
    assert.equal((await get('/x', { ip: '192.0.2.8' })).status, 200, 'per client IP');
    assert.equal(calls, 5);
    await guard!.handler.flushBuffer(3000);
    await until(() => backend.events.filter((e) => e.event_type === 'rate_limited' && e.action_taken === 'request_blocked').length === 3);
  });

  it('an endpoint limit counts /login/, /LOGIN, /Login/ (the spellings Express routes to /login) against the one limit', async () => {
    backend.setRules({ rule_id: 'rs_rl_path', version: 1, endpoint_rate_limits: { '/login': [2, 60] } });
    await boot({ mode: 'enforce' }, 'express');
    const statuses = [];
    for (const path of ['/login/', '/LOGIN', '/Login/', '/login', '//login', '/%6Cogin']) statuses.push((await get(path, { ip: '192.0.2.31' })).status);
    // Before: each spelling had a limit of its own, and every one of these reached the handler.
    assert.deepEqual(statuses, [200, 200, 429, 429, 429, 429]);
    assert.equal(calls, 2);
    assert.equal((await get('/login/other', { ip: '192.0.2.31' })).status, 200, 'another endpoint is not limited');
    await guard!.handler.flushBuffer(3000);
    await until(() => backend.events.filter((e) => e.event_type === 'rate_limited' && e.action_taken === 'request_blocked').length === 4);
  });

  describe('with Redis (a project of its own, its keys deleted after)', () => {
    const project = `proj_enforce_path_${process.pid}_${Date.now()}`;
    after(async () => {
      // After the handler stopped: it writes its queue's instance keys up to then.
      const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
      const keys = await redis.keys(`guard_agent:{${project}}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    });

    it('an endpoint limit shared through Redis counts every spelling under one normalised key', async () => {
      backend.setRules({ rule_id: 'rs_rl_path', version: 1, endpoint_rate_limits: { '/Login/': [3, 60] } });
      await boot({ mode: 'enforce' }, 'express', project);
      const redis = await onSharedRedis();
      const statuses = [];
      for (const path of ['/LOGIN', '/login/', '/Login/', '/login', '/login?x=1']) statuses.push((await get(path, { ip: '192.0.2.32' })).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      assert.equal(calls, 3);
      const keys = await redis.keys(`guard_agent:{${project}}:rl:*`);
      assert.deepEqual(keys, [`guard_agent:{${project}}:rl:e:/login:192.0.2.32`], 'one count, under the key every instance uses');
    });
  });

  it('rate limits shared through Redis (asynchronous decisions hold the handler until they settle)', async () => {
    const project = `proj_enforce_redis_${process.pid}_${Date.now()}`;
    backend.setRules({ rule_id: 'rs_rl', version: 1, global_rate_limit: 3, global_rate_window: 60 });
    await boot({ mode: 'enforce' }, 'express', project);
    const redis = await onSharedRedis();
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await get('/r', { ip: '192.0.2.99' })).status);
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    assert.equal(calls, 3);
    const keys = await redis.keys(`guard_agent:{${project}}:rl:*`);
    assert.ok(keys.length >= 1, 'the counts live in Redis');
  });

  it('without a projectId, initializeRedis still shares the rate limits, under the {default} hash tag like the queue', async () => {
    await boot({ mode: 'enforce' }, 'http', null);
    // No project, so no rules polled: the app gives its own (a public API of the instrumentation).
    guard!.instrumentation.setRules({ ...defaultDynamicRules(), ruleId: 'app_rl', version: 1, globalRateLimit: 3, globalRateWindow: 60 });
    // It threw before: the window refused the empty project id it was given.
    const redis = await onSharedRedis();
    // A client IP of this run only: the {default} keys are shared with any other run on this Redis.
    const ip = `198.18.${process.pid % 256}.${Date.now() % 256}`;
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await get('/r', { ip })).status);
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    const keys = await redis.keys('guard_agent:{default}:rl:*');
    assert.ok(keys.some((k) => k.includes(ip)), `a count for ${ip} lives in Redis: ${keys.join(', ')}`);
  });

  for (const mode of ['monitor', 'enforce'] as const) {
    it(`${mode} mode: user-agent rules that backtrack catastrophically in V8 cannot hold the server (RE2 runs them in linear time)`, async () => {
      // With V8's RegExp, the first user agent below held the event loop about 19 s, the second longer than 30 s.
      const evil = ['(\\w|\\d)+$', '.*.*.*.*.*='];
      backend.setRules({ ...RULES, version: 2, blocked_user_agents: evil });
      await boot({ mode });
      await until(() => guard!.instrumentation.getRules()?.version === 2);
      assert.deepEqual(guard!.instrumentation.getRules()!.blockedUserAgents, evil, 'the sanitizer keeps them');
      const started = Date.now();
      const slowOnes = [get('/a', { ua: '1'.repeat(30) + '!' }), get('/b', { ua: 'x-'.repeat(1000) }), get('/c', { ua: 'bot'.repeat(100) })];
      // A second client meanwhile: it is answered while (not after) the others are checked.
      const other = get('/health', { ua: 'Mozilla/5.0 (X11)' }).then((a) => ({ ...a, ms: Date.now() - started }));
      const [answers, health] = await Promise.all([Promise.all(slowOnes), other]);
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 2000, `answered in ${elapsed} ms`);
      assert.ok(health.ms < 2000, `the concurrent request took ${health.ms} ms`);
      assert.equal(health.status, 200);
      // '1'.repeat(30) + '!' and 'x-' x 1,000 match neither; 300 word characters to the end match the first.
      assert.deepEqual(answers.map((a) => a.status), mode === 'enforce' ? [200, 200, 403] : [200, 200, 200]);
      const stats = guard!.instrumentation.getEnforcementStats()!;
      assert.equal(mode === 'enforce' ? stats.blocked : stats.loggedOnly, 1);
      await guard!.handler.flushBuffer(3000);
      await until(() => backend.events.some((e) => e.event_type === 'user_agent_blocked'));
      const event = backend.events.find((e) => e.event_type === 'user_agent_blocked')!;
      assert.equal(event.action_taken, mode === 'enforce' ? 'request_blocked' : 'logged_only');
    });
  }

  it('monitor mode never blocks, but emits each decision as logged_only', async () => {
    backend.setRules({ ...RULES, global_rate_limit: 1, global_rate_window: 60 });
    await boot({ mode: 'monitor' });
    const answers = [await get('/', { ip: '203.0.113.9' }), await get('/', { ua: 'evil-bot' }), await get('/', { country: 'KP' }), await get('/', { ip: '192.0.2.200' }), await get('/', { ip: '192.0.2.200' })];
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
    assert.equal(calls, 5);
    const stats = guard!.instrumentation.getEnforcementStats()!;
    assert.equal(stats.blocked, 0);
    assert.equal(stats.loggedOnly, 4);
    await guard!.handler.flushBuffer(3000);
    await until(() => backend.events.filter((e) => e.action_taken === 'logged_only').length === 4);
    assert.deepEqual(
      backend.events.filter((e) => e.action_taken === 'logged_only').map((e) => e.event_type).sort(),
      ['country_blocked', 'ip_blocked', 'rate_limited', 'user_agent_blocked'],
    );
    assert.ok(!backend.events.some((e) => e.action_taken === 'request_blocked'));
  });

  it('setConfig applies live to the rules check (mode, trustedProxyDepth) and refuses a bad value naming the field, keeping the config in force', async () => {
    await boot({ mode: 'monitor', trustedProxyDepth: 0 });
    const inst = guard!.instrumentation;
    // Depth 0: the socket address (127.0.0.1) is the client; monitor mode answers nothing.
    assert.equal((await get('/', { ip: '203.0.113.7' })).status, 200);
    inst.setConfig({ ...inst.getConfig(), mode: 'enforce', trustedProxyDepth: 1 });
    assert.equal((await get('/', { ip: '203.0.113.7' })).status, 403, 'enforce mode, behind one proxy: the blacklisted client is refused');
    assert.equal((await get('/', { ip: '192.0.2.1' })).status, 200);
    // From an environment variable, unparsed: refused, and the config in force stays.
    assert.throws(
      () => inst.setConfig({ ...inst.getConfig(), trustedProxyDepth: '1' as unknown as number }),
      (err: Error) => err.name === 'GuardAgentConfigError' && /instrumentation\.trustedProxyDepth/.test(err.message),
    );
    assert.equal(inst.getConfig().trustedProxyDepth, 1);
    assert.equal((await get('/', { ip: '203.0.113.7' })).status, 403);
    inst.setConfig({ ...inst.getConfig(), mode: 'monitor' });
    assert.equal((await get('/', { ip: '203.0.113.7' })).status, 200, 'back to monitor mode: nothing refused');
  });
});
