/**
 * GuardAgentHandler driven exactly as `@guardcore/core` drives its
 * `agentHandler` (reference 3.7, consumer note): start, optional
 * initializeRedis(RedisManager), camelCase events with `timestamp: Date` or
 * none, `ipAddress: 'system'` for rule events, the MetricsCollector's three
 * metrics per request, and getDynamicRules() validated by the middleware's
 * zod schema and applied by its DynamicRuleManager rule. Against a real dev
 * backend serving the golden rules, and the shared Redis.
 */
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { DevBackend } from '../../src/dev-backend/index.js';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { DynamicRulesSchema, RulesManager } from '../../examples/guardcore-rules.js';
import { GOLDEN } from '../helpers/golden.js';
import { until } from '../helpers/until.js';

const KEY = 'guardcore-test-key-0123456789';
const RFC3339 = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const SNAKE = /^[a-z][a-z0-9_]*$/;
type Wire = Record<string, unknown>;

/**
 * @guardcore/core's AgentHandlerProtocol (packages/core/src/protocols/agent.ts),
 * its RedisHandlerProtocol reduced to what RedisManager hands over. `tsc`
 * checks below that the handler is assignable to it.
 */
interface AgentHandlerProtocol {
  initializeRedis(redisHandler: { getConnection(): AsyncDisposable }): Promise<void>;
  sendEvent(event: unknown): Promise<void>;
  sendMetric(metric: unknown): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  flushBuffer(): Promise<void>;
  getDynamicRules(): Promise<unknown | null>;
  healthCheck(): Promise<boolean>;
}

/** What @guardcore/core's RedisManager.getConnection() returns: a disposable exposing the ioredis client as `client`. */
function redisManagerLike(client: Redis): { getConnection(): AsyncDisposable } {
  return {
    getConnection: () => ({ [Symbol.asyncDispose]: async () => undefined, get client() { return client; } }) as AsyncDisposable,
  };
}

/** Type-checks (tsc) that the handler is a drop-in `agentHandler`. */
function asAgentHandler<T extends AgentHandlerProtocol>(handler: T): T {
  return handler;
}

function agentFor(url: string, extra: Record<string, unknown> = {}): GuardAgentHandler {
  return asAgentHandler(new GuardAgentHandler(
    { apiKey: KEY, endpoint: url, projectId: 'proj_guardcore', retryAttempts: 0, guardVersion: '7.4.1', guardCoreVersion: '3.15.0', ...extra },
    { env: {}, drainIntervalMs: 50 },
  ));
}

/** The MetricsCollector's samples for one request. */
async function recordRequest(agent: GuardAgentHandler, endpoint: string, method: string, status: number, seconds: number): Promise<void> {
  await agent.sendMetric({ timestamp: new Date(), metricType: 'response_time', value: seconds, tags: { endpoint, method, status: String(status) } });
  await agent.sendMetric({ timestamp: new Date(), metricType: 'request_count', value: 1.0, tags: { endpoint, method } });
  if (status >= 400) await agent.sendMetric({ timestamp: new Date(), metricType: 'error_rate', value: 1.0, tags: { endpoint, method, status: String(status) } });
}


describe('GuardAgentHandler as @guardcore/core\'s agentHandler (real dev backend)', function () {
  this.timeout(15_000);
  let backend: DevBackend;
  let agent: GuardAgentHandler | undefined;

  beforeEach(async () => {
    backend = new DevBackend({ apiKeys: [KEY], rules: GOLDEN.rules });
    await backend.start();
  });

  afterEach(async () => {
    await agent?.stop(2000);
    agent = undefined;
    await backend.stop();
  });

  it('camelCase events (Date or no timestamp) and MetricsCollector metrics arrive snake_case with RFC 3339 timestamps', async () => {
    agent = agentFor(backend.url);
    await agent.start();
    const bannedAt = new Date('2026-11-25T08:00:01.234Z');
    const before = Date.now();
    await agent.sendEvent({
      timestamp: bannedAt,
      eventType: 'ip_banned',
      ipAddress: '203.0.113.9',
      country: null,
      userAgent: 'python-requests/2.32',
      actionTaken: 'banned',
      reason: 'IP banned for 3600s',
      endpoint: '/wp-login.php',
      method: 'POST',
      metadata: { banDuration: 3600 },
    });
    await agent.sendEvent({
      eventType: 'penetration_attempt',
      ipAddress: '198.51.100.23',
      country: 'DE',
      actionTaken: 'request_blocked',
      reason: 'SQL injection',
      endpoint: '/search',
      method: 'GET',
      statusCode: 403,
      responseTime: 0.0021,
      decoratorType: 'global',
      patternMatched: 'union select',
      handlerName: 'searchHandler',
    });
    await agent.sendEvent({ eventType: 'emergency_mode_activated', ipAddress: 'system', actionTaken: 'emergency_mode', reason: 'rules enabled emergency mode', ruleType: 'dynamic' });
    await recordRequest(agent, '/api/login', 'POST', 200, 0.012);
    await recordRequest(agent, '/api/login', 'POST', 429, 0.002);
    await recordRequest(agent, '/api/login', 'POST', 200, 0.016);
    await agent.flushBuffer(5000);
    await until(() => backend.events.length === 3 && backend.metrics.some((m) => m.metric_type === 'error_rate'));

    for (const e of backend.events) {
      for (const k of Object.keys(e)) assert.match(k, SNAKE, `event key ${k}`);
      assert.match(String(e.timestamp), RFC3339);
      assert.match(String(e.idempotency_key), /^[0-9a-f-]{36}$/);
    }
    const [banned, pen, system] = ['ip_banned', 'penetration_attempt', 'emergency_mode_activated'].map((t) => backend.events.find((e) => e.event_type === t)!);
    assert.equal(Date.parse(String(banned.timestamp)), bannedAt.getTime(), 'the Date given is the wire timestamp');
    const stamped = Date.parse(String(pen.timestamp));
    assert.ok(stamped >= before - 5 && stamped <= Date.now(), 'no timestamp: stamped by the agent');
    assert.equal(banned.ip_address, '203.0.113.9');
    assert.equal(banned.user_agent, 'python-requests/2.32');
    assert.equal(banned.action_taken, 'banned');
    assert.equal(banned.country, null);
    assert.deepEqual(banned.metadata, { banDuration: 3600 }, 'metadata is the app\'s own: keys kept as given');
    assert.equal(pen.status_code, 403);
    assert.equal(pen.response_time, 0.0021);
    assert.equal(pen.decorator_type, 'global');
    assert.equal(pen.pattern_matched, 'union select');
    assert.equal(pen.handler_name, 'searchHandler');
    assert.equal(system.ip_address, 'system');
    assert.equal(system.rule_type, 'dynamic');

    for (const m of backend.metrics) {
      for (const k of Object.keys(m)) assert.match(k, SNAKE, `metric key ${k}`);
      assert.match(String(m.timestamp), RFC3339);
    }
    const of = (type: string) => backend.metrics.filter((m) => m.metric_type === type);
    assert.equal(of('request_count').reduce((a, m) => a + Number(m.value), 0), 3);
    assert.deepEqual(of('request_count')[0].tags, { endpoint: '/api/login', method: 'POST' });
    assert.equal(of('error_rate').length, 1);
    assert.deepEqual(of('error_rate')[0].tags, { endpoint: '/api/login', method: 'POST', status: '429' });
    const rt200 = of('response_time').find((m) => (m.tags as Wire).status === '200')!;
    assert.ok(Math.abs(Number(rt200.value) - 0.014) < 1e-9, `mean response time ${String(rt200.value)}`);
    const batch = backend.batches.find((b) => b.path === '/api/v1/events')!;
    assert.equal(batch.headers['x-project-id'], 'proj_guardcore');
  });

  it('getDynamicRules() passes the middleware\'s zod schema; its manager applies a ruleset once, then on a new version or ruleId', async () => {
    backend.setRules({ ...GOLDEN.rules, ttl: 1 });
    agent = agentFor(backend.url);
    await agent.start();

    const raw = await agent.getDynamicRules();
    const parsed = DynamicRulesSchema.safeParse(raw);
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
    const r = parsed.data;
    assert.equal(r.ruleId, 'rs_42');
    assert.equal(r.version, 7);
    assert.equal(Date.parse(r.timestamp), Date.parse('2026-09-02T13:55:00Z'));
    assert.equal(r.expiresAt, null);
    assert.deepEqual(r.ipBlacklist, ['203.0.113.9']);
    assert.deepEqual(r.blockedCountries, ['KP']);
    assert.equal(r.globalRateLimit, 600);
    assert.deepEqual(r.endpointRateLimits, { '/api/login': [5, 60] });
    assert.deepEqual(r.blockedCloudProviders, new Set(['AWS']));
    assert.deepEqual(r.blockedUserAgents, ['sqlmap']);
    assert.equal(r.enablePenetrationDetection, true);
    assert.equal(r.enableIpBanning, null);
    assert.equal(r.emergencyMode, false);

    const manager = new RulesManager(agent);
    assert.equal((await manager.update()).kind, 'applied');
    assert.equal((await manager.update()).kind, 'unchanged', 'same ruleId and version: not applied again');

    // A new version, with the offset and space-separated timestamps a Python backend may send.
    backend.setRules({ ...GOLDEN.rules, ttl: 1, version: 8, timestamp: '2026-09-03 10:00:00+00:00', expires_at: '2027-01-01T00:00:00+01:00' });
    await new Promise((res) => setTimeout(res, 1100)); // past the ttl
    const v8 = await manager.update();
    assert.equal(v8.kind, 'applied', JSON.stringify(v8));
    assert.equal(manager.current?.version, 8);
    assert.equal(manager.current?.expiresAt, '2026-12-31T23:00:00.000Z');

    // Another ruleset with a lower version: a different ruleId is applied all the same.
    backend.setRules({ ...GOLDEN.rules, ttl: 1, rule_id: 'rs_43', version: 1 });
    await new Promise((res) => setTimeout(res, 1100));
    assert.equal((await manager.update()).kind, 'applied');
    assert.equal(manager.current?.ruleId, 'rs_43');

    await agent.flushBuffer(5000);
    await until(() => backend.events.filter((e) => e.event_type === 'dynamic_rule_applied').length === 3);
    const applied = backend.events.filter((e) => e.event_type === 'dynamic_rule_applied');
    assert.deepEqual(applied.map((e) => `${String((e.metadata as Wire).rule_id)} v${String((e.metadata as Wire).version)}`), ['rs_42 v7', 'rs_42 v8', 'rs_43 v1']);
    for (const e of applied) {
      assert.equal(e.ip_address, 'system');
      assert.match(String(e.timestamp), RFC3339);
    }
  });

  it('rules timestamps without an offset (a Python backend\'s naive UTC datetimes) are UTC whatever the host\'s time zone', async () => {
    // Naive (offset-less) datetimes, as pydantic serialises a naive datetime: 13:55 and, for expires_at, two hours from now, both UTC.
    const naive = (ms: number) => new Date(ms).toISOString().slice(0, -1).replace('T', ' ') + '456';
    const expires = Date.now() + 2 * 3600_000;
    backend.setRules({ ...GOLDEN.rules, timestamp: '2026-09-02T13:55:00', expires_at: naive(expires) });
    const tz = process.env.TZ;
    // A host 9 hours east of UTC: read as local time, the expiry would be 7 hours ago and the rules ignored.
    process.env.TZ = 'Asia/Tokyo';
    try {
      agent = agentFor(backend.url);
      await agent.start();
      const parsed = DynamicRulesSchema.safeParse(await agent.getDynamicRules());
      assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
      assert.equal(parsed.data.timestamp, '2026-09-02T13:55:00.000Z');
      assert.equal(parsed.data.expiresAt, new Date(expires).toISOString());
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('with no rules served, getDynamicRules() is null and the manager applies nothing', async () => {
    backend.setRules(null);
    agent = agentFor(backend.url);
    await agent.start();
    assert.equal(await agent.getDynamicRules(), null);
    assert.deepEqual(await new RulesManager(agent).update(), { kind: 'none' });
  });

  it('initializeRedis(RedisManager-like) moves the fallback queue to Redis; events sent during an outage arrive once it ends', async () => {
    const client = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    try {
      // The outage fails a replay every 50 ms: a breaker open for the default 60 s could outlast the test.
      agent = agentFor(backend.url, { projectId: `proj_guardcore_${process.pid}_${Date.now()}`, breaker: { failureThreshold: 5, recoveryTimeoutMs: 100 } });
      await agent.start();
      await agent.initializeRedis(redisManagerLike(client));
      assert.equal(agent.getStats().queue.backend, 'redis');

      backend.faults.push({ kind: 'status', status: 503, times: Infinity });
      await agent.sendEvent({ eventType: 'ip_banned', ipAddress: '203.0.113.50', actionTaken: 'banned', reason: 'during the outage' });
      await agent.flushBuffer(3000);
      assert.equal(backend.events.length, 0);
      assert.ok(agent.getStats().queue.depthItems >= 1, 'held in the Redis queue');

      backend.faults.clear();
      await agent.flushBuffer(5000);
      await until(() => backend.events.length === 1);
      assert.equal(backend.events[0].reason, 'during the outage');
      assert.equal(await agent.healthCheck(), true);
    } finally {
      await agent?.stop(2000);
      agent = undefined;
      client.disconnect();
    }
  });

  it('never throws into the middleware: bad input, and calls after stop(), resolve', async () => {
    agent = agentFor(backend.url);
    await agent.start();
    await agent.sendEvent({ ipAddress: '1.2.3.4' }); // no eventType
    await agent.sendMetric({ metricType: 'not_a_type', value: 1, timestamp: new Date() });
    await agent.sendEvent({ eventType: 'ip_banned', timestamp: 'not a date' });
    await agent.stop(2000);
    assert.equal(await agent.healthCheck(), false);
    await agent.sendEvent({ eventType: 'ip_banned', ipAddress: '1.2.3.4', timestamp: new Date() });
    await agent.sendMetric({ metricType: 'request_count', value: 1.0, tags: {} });
    await agent.flushBuffer();
    const atIngest = agent.getStats().dropped.atIngest;
    assert.equal(atIngest.invalid, 3);
    assert.equal(atIngest.agent_stopped, 2);
    assert.equal(backend.events.length, 0);
  });
});
