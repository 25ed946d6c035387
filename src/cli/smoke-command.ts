/**
 * `guard-agent smoke`: sends a handful of security events and metrics through
 * the real transport to a backend (a dev backend started in-process when no
 * endpoint is given) and prints what the backend accepted. It is the quickest
 * end-to-end check that an API key, endpoint and network path work.
 */
import { parseArgs } from 'node:util';
import { resolveConfig } from '../config.js';
import { DevBackend, DEFAULT_DEV_API_KEY } from '../dev-backend/index.js';
import { SecurityEvent, SecurityMetric, KNOWN_EVENT_TYPES } from '../models/index.js';
import { HTTPTransport } from '../transport/index.js';

export async function runSmoke(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({ args, strict: true, options: { endpoint: { type: 'string' }, 'api-key': { type: 'string' }, count: { type: 'string', default: '20' } } }).values;
  } catch (err) {
    process.stderr.write(`guard-agent smoke: ${(err as Error).message}\n`);
    return 2;
  }
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1) {
    process.stderr.write(`guard-agent smoke: --count must be a positive integer\n`);
    return 2;
  }
  let backend: DevBackend | null = null;
  let endpoint = values.endpoint;
  const apiKey = values['api-key'] ?? process.env.GUARD_AGENT_API_KEY ?? DEFAULT_DEV_API_KEY;
  if (!endpoint) {
    backend = new DevBackend({ apiKeys: [apiKey] });
    endpoint = (await backend.start()).url;
    process.stdout.write(`started a dev backend at ${endpoint}\n`);
  }
  let transport: HTTPTransport | null = null;
  // The transport's backoff and timeout timers do not hold a process open (they must not keep an app alive), so
  // against a backend that answers 503 or 429 the event loop ran empty mid-retry and the command exited 0 with
  // nothing printed. The command holds it open itself until it has its answer.
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    // Inside the try: a refused configuration must stop the dev backend, or its server keeps the process alive forever.
    const config = resolveConfig({ apiKey, endpoint, projectId: process.env.GUARD_AGENT_PROJECT_ID ?? 'proj_smoke', retryAttempts: 2, backoffFactor: 0.2 });
    transport = new HTTPTransport(config);
    const types = KNOWN_EVENT_TYPES.slice(0, 8);
    const events = Array.from({ length: count }, (_, i) => new SecurityEvent({
      eventType: types[i % types.length], ipAddress: `203.0.113.${i % 250}`, actionTaken: i % 2 ? 'request_blocked' : 'logged',
      reason: 'guard-agent smoke test', endpoint: '/smoke', method: 'GET', metadata: { smoke: true, n: i },
    }));
    const metrics = [
      new SecurityMetric({ metricType: 'request_count', value: count, tags: { endpoint: '/smoke', method: 'GET' } }),
      new SecurityMetric({ metricType: 'response_time', value: 0.004, tags: { endpoint: '/smoke', method: 'GET' } }),
    ];
    const ev = await transport.sendEvents(events);
    const me = await transport.sendMetrics(metrics);
    process.stdout.write(`events:  ${ev.delivered}/${count} delivered (${ev.outcome})\nmetrics: ${me.delivered}/${metrics.length} delivered (${me.outcome})\n`);
    if (backend) process.stdout.write(`backend stored ${backend.events.length} unique events and ${backend.metrics.length} metrics\n`);
    return ev.delivered === count && me.delivered === metrics.length ? 0 : 1;
  } finally {
    await transport?.close();
    if (backend) await backend.stop();
    clearInterval(keepAlive);
  }
}
