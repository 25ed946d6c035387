/**
 * The guard agent as the `agentHandler` of the TypeScript guard middleware
 * `@guardcore/core`.
 *
 *   guard-agent dev-backend --rules rules.json       # a local guard backend on :8080
 *   node --import tsx examples/guardcore.ts
 *
 * Environment:
 *   GUARD_AGENT_ENDPOINT   guard backend (default http://127.0.0.1:8080)
 *   GUARD_AGENT_API_KEY    its API key (default: the dev backend's key)
 *   REDIS_URL              optional: the fallback queue moves to this Redis,
 *                          handed over the way the middleware hands over its
 *                          RedisManager
 *
 * The wiring in an app that has @guardcore/core installed (it is not on npm,
 * so this example drives the handler exactly as the middleware does instead):
 *
 *   const agent = new GuardAgentHandler({ apiKey, endpoint, projectId });
 *   // in the middleware's config:
 *   //   enableAgent: true, agentHandler: agent, enableDynamicRules: true
 *   // the middleware then calls agent.start(), agent.initializeRedis(redisManager),
 *   // sendEvent/sendMetric per request, getDynamicRules() on its own interval,
 *   // and agent.stop() at shutdown.
 *
 * What the middleware sends: camelCase events (`eventType`, `ipAddress`,
 * `actionTaken`), `timestamp: new Date()` or no timestamp at all,
 * `ipAddress: 'system'` for rule events; per request three metrics from its
 * MetricsCollector. What it expects back: rules its zod schema parses
 * (examples/guardcore-rules.ts). The agent converts both ways; the wire stays
 * snake_case with RFC 3339 timestamps.
 */
import { Redis } from 'ioredis';
// In your app: import { GuardAgentHandler } from 'guard-agent-otel';
import { GuardAgentHandler } from '../src/handler/guard-agent-handler.js';
import { RulesManager } from './guardcore-rules.js';

const DEV_API_KEY = 'dev-api-key-0123456789';

const agent = new GuardAgentHandler({
  apiKey: process.env.GUARD_AGENT_API_KEY ?? DEV_API_KEY,
  endpoint: process.env.GUARD_AGENT_ENDPOINT ?? 'http://127.0.0.1:8080',
  projectId: process.env.GUARD_AGENT_PROJECT_ID ?? 'proj_example_guardcore',
  guardVersion: 'guardcore-example',
});

/** A RedisManager-like object: @guardcore/core's hands its connection out through getConnection(). */
function redisManager(url: string) {
  const client = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  return { client, manager: { getConnection: () => client } };
}

/** What the MetricsCollector sends for one request. */
async function recordRequest(endpoint: string, method: string, status: number, seconds: number): Promise<void> {
  await agent.sendMetric({ timestamp: new Date(), metricType: 'response_time', value: seconds, tags: { endpoint, method, status: String(status) } });
  await agent.sendMetric({ timestamp: new Date(), metricType: 'request_count', value: 1.0, tags: { endpoint, method } });
  if (status >= 400) {
    await agent.sendMetric({ timestamp: new Date(), metricType: 'error_rate', value: 1.0, tags: { endpoint, method, status: String(status) } });
  }
}

async function main(): Promise<void> {
  // 1. The middleware starts the agent first.
  await agent.start();

  // 2. Redis is optional: without it the fallback queue stays in memory.
  let redis: Redis | undefined;
  if (process.env.REDIS_URL) {
    const { client, manager } = redisManager(process.env.REDIS_URL);
    redis = client;
    await agent.initializeRedis(manager);
    console.log('fallback queue: Redis');
  }

  // 3. Dynamic rules, as its DynamicRuleManager polls them.
  const rules = new RulesManager(agent);
  const first = await rules.update();
  console.log(`rules: ${first.kind}${first.kind === 'applied' ? ` ${first.rules.ruleId} v${first.rules.version}` : ''}`);
  const again = await rules.update(); // same ruleId and version: not applied again
  console.log(`rules, second poll: ${again.kind}`);

  // 4. Security events, the middleware's way.
  await agent.sendEvent({
    timestamp: new Date(),
    eventType: 'ip_banned',
    ipAddress: '203.0.113.9',
    userAgent: 'python-requests/2.32',
    actionTaken: 'banned',
    reason: 'IP banned for 3600s after 5 suspicious requests',
    endpoint: '/wp-login.php',
    method: 'POST',
    metadata: { banDuration: 3600, violations: 5 },
  });
  await agent.sendEvent({
    // no timestamp: the agent stamps the event
    eventType: 'penetration_attempt',
    ipAddress: '198.51.100.23',
    country: 'DE',
    userAgent: 'sqlmap/1.8',
    actionTaken: 'request_blocked',
    reason: 'SQL injection pattern detected',
    endpoint: '/search',
    method: 'GET',
    statusCode: 403,
    patternMatched: 'union select',
    decoratorType: 'global',
  });
  await agent.sendEvent({
    eventType: 'rate_limited',
    ipAddress: '198.51.100.23',
    actionTaken: 'request_blocked',
    reason: 'Rate limit exceeded: 5 requests per 60s',
    endpoint: '/api/login',
    method: 'POST',
    statusCode: 429,
    metadata: { limit: 5, window: 60 },
  });

  // 5. Per-request metrics.
  await recordRequest('/api/login', 'POST', 200, 0.0123);
  await recordRequest('/api/login', 'POST', 429, 0.0012);
  await recordRequest('/search', 'GET', 403, 0.0021);
  await recordRequest('/', 'GET', 200, 0.0042);

  // 6. Health, as the middleware reports it; then a flush and the stop it does at shutdown.
  console.log(`healthCheck: ${await agent.healthCheck()}`);
  await agent.flushBuffer(5000);
  const stats = agent.getStats();
  console.log(
    `delivered ${stats.eventsSent} events and ${stats.metricsSent} metric records ` +
      `(${stats.metricsAccepted} samples aggregated), ${stats.itemsQueued} queued for retry`,
  );
  await agent.stop(5000);
  redis?.disconnect();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
