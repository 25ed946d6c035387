/**
 * Two handlers on one Redis and one project, the second started while the
 * first one's drainer has batches in flight to a slow backend: the scenario
 * in which a shared instance id made the second replay the first's in-flight
 * batches, so metrics (never deduplicated by the backend) arrived twice.
 * Used for two handlers of one module and for the ESM and CJS builds of the
 * package in one process.
 */
import assert from 'node:assert/strict';
import { DevBackend } from '../../src/dev-backend/index.js';
import type { AgentConfigInput } from '../../src/config-types.js';
import type { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { until } from './until.js';

type MakeHandler = (config: AgentConfigInput) => GuardAgentHandler;

/** Runs the scenario (registering both handlers in `handlers` for cleanup) and asserts each of the 10 samples was counted once. */
export async function assertTwoHandlersCountOnce(backend: DevBackend, apiKey: string, endpoint: string, makeFirst: MakeHandler, makeSecond: MakeHandler, handlers: GuardAgentHandler[]): Promise<void> {
  const projectId = `proj_two_${process.pid}_${Date.now()}`;
  const config = { apiKey, endpoint: backend.url, projectId, redisUrl: 'redis://127.0.0.1:6379', flushInterval: 60, retryAttempts: 0, breaker: { failureThreshold: 1000, recoveryTimeoutMs: 100 } };
  const first = makeFirst(config);
  handlers.push(first);
  await first.start();
  backend.faults.push({ kind: 'down' });
  for (let i = 0; i < 10; i++) {
    await first.sendMetric({ metricType: 'request_count', value: 1, endpoint });
    await first.flushBuffer(1000); // one queued batch each
  }
  assert.ok(first.getStats().queue.depthItems >= 10);
  backend.faults.clear();
  // The first one's drainer takes batches and waits on the slow backend while the second one starts.
  backend.faults.push({ kind: 'delay', ms: 1500, times: 5 });
  await new Promise((r) => setTimeout(r, 400));
  const second = makeSecond(config);
  handlers.push(second);
  await second.start();
  await until('both queues drained', () => first.getStats().queue.depthItems === 0 && second.getStats().queue.depthItems === 0, 10_000);
  await Promise.all([first.stop(3000), second.stop(3000)]);
  const sum = backend.metrics.filter((m) => (m.tags as Record<string, string>).endpoint === endpoint).reduce((a, m) => a + Number(m.value), 0);
  assert.equal(sum, 10, 'each sample counted once');
}

/** A dev backend started before the describe block's tests and the handlers they made, stopped after them. */
export function backendAndHandlers(apiKey: string): { backend: () => DevBackend; handlers: GuardAgentHandler[] } {
  let backend: DevBackend | undefined;
  const handlers: GuardAgentHandler[] = [];
  before(async () => {
    backend = new DevBackend({ apiKeys: [apiKey] });
    await backend.start();
  });
  after(async () => {
    await Promise.all(handlers.map((h) => h.stop(3000)));
    await backend?.stop();
  });
  return { backend: () => backend as DevBackend, handlers };
}
