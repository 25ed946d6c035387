/**
 * The guard agent on its own: no NodeSDK, no OpenTelemetry setup in the app.
 * The handler builds its own (private) OTel providers; nothing global is
 * registered, so it cannot clash with anything else in the process.
 *
 *   guard-agent dev-backend                      # a local guard backend on :8080
 *   node --import tsx examples/standalone.ts
 *
 * Environment:
 *   GUARD_AGENT_ENDPOINT   guard backend (default http://127.0.0.1:8080)
 *   GUARD_AGENT_API_KEY    its API key (default: the dev backend's key)
 *   (every other GUARD_AGENT_* setting is read as well; explicit options win)
 *
 * It sends a few events and metrics the seed's way, flushes, prints the
 * agent's stats and stops.
 */
// In your app: import { GuardAgentHandler, SecurityEvent, SecurityMetric } from 'guard-agent-otel';
import { GuardAgentHandler } from '../src/handler/guard-agent-handler.js';
import { SecurityEvent, SecurityMetric } from '../src/models/index.js';

const DEV_API_KEY = 'dev-api-key-0123456789';

const agent = new GuardAgentHandler({
  apiKey: process.env.GUARD_AGENT_API_KEY ?? DEV_API_KEY,
  endpoint: process.env.GUARD_AGENT_ENDPOINT ?? 'http://127.0.0.1:8080',
  projectId: process.env.GUARD_AGENT_PROJECT_ID ?? 'proj_example_standalone',
});

async function main(): Promise<void> {
  await agent.start();

  // Events: model objects (validated at construction: a bad field throws a
  // GuardAgentValidationError naming it) or plain objects (validated by
  // sendEvent, which never throws and counts what it drops).
  await agent.sendEvent(
    new SecurityEvent({
      eventType: 'ip_banned',
      ipAddress: '203.0.113.9',
      actionTaken: 'ip_banned',
      reason: '5 failed logins in 60 s',
      endpoint: '/login',
      method: 'POST',
      metadata: { attempts: 5, ban_seconds: 3600 },
    }),
  );
  await agent.sendEvent({
    eventType: 'penetration_attempt',
    ipAddress: '198.51.100.23',
    userAgent: 'sqlmap/1.8',
    actionTaken: 'request_blocked',
    reason: 'SQL injection pattern in query string',
    endpoint: '/search',
    method: 'GET',
    statusCode: 403,
    patternMatched: "' OR 1=1",
  });
  await agent.sendEvent({
    eventType: 'rate_limited',
    ipAddress: '198.51.100.23',
    actionTaken: 'request_blocked',
    reason: 'Rate limit exceeded',
    endpoint: '/api/login',
    method: 'POST',
    statusCode: 429,
    metadata: { limit: 10, window: 60 },
  });

  // Metrics: one sample per request, as a middleware records them. The agent
  // aggregates them per flush interval (a sum, a mean with count/min/max)
  // instead of sending one record per request.
  for (const [ms, status] of [[12, 200], [18, 200], [7, 429]] as const) {
    const tags = { endpoint: '/api/login', method: 'POST', status: String(status) };
    await agent.sendMetric(new SecurityMetric({ metricType: 'request_count', value: 1, tags }));
    await agent.sendMetric(new SecurityMetric({ metricType: 'response_time', value: ms / 1000, tags }));
    if (status >= 400) await agent.sendMetric(new SecurityMetric({ metricType: 'error_rate', value: 1, tags }));
  }

  // Ship now rather than at the next flush interval (30 s by default).
  await agent.flushBuffer(5000);
  console.log(`healthy: ${await agent.healthCheck()}`);

  const stats = agent.getStats();
  console.log(
    `accepted ${stats.eventsAccepted} events and ${stats.metricsAccepted} metric samples; ` +
      `delivered ${stats.eventsSent} events and ${stats.metricsSent} metric records; ` +
      `${stats.itemsQueued} queued for retry; transport: ${stats.transport.breakerState} breaker`,
  );

  // Flushes what is left and stops, within 5 s whatever the backend does.
  await agent.stop(5000);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
