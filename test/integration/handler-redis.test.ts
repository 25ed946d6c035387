/**
 * Handlers on real Redis servers:
 * - updateConfig({ redisUrl }) moves the fallback queue live, carrying what
 *   it holds: from one real Redis to another (a throw-away redis-server),
 *   then back to memory with `redisUrl: null`, while the dev backend is down.
 *   Every event arrives once the backend is back; the old Redis is left empty.
 * - two handlers in one process on one Redis and project are independent:
 *   each its own instance id, so neither replays the other's in-flight
 *   batches as leftovers (metrics, which have no idempotency key, would count
 *   twice).
 */
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { DevBackend } from '../../src/dev-backend/index.js';
import type { AgentConfigInput } from '../../src/config-types.js';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { assertTwoHandlersCountOnce, backendAndHandlers } from '../helpers/two-handlers.js';
import { until } from '../helpers/until.js';

const KEY = 'redis-switch-test-key-0123456789';

describe('updateConfig({ redisUrl }) moves the fallback queue live', function () {
  this.timeout(30_000);
  let backend: DevBackend;
  let second: RedisServerHandle;
  let handler: GuardAgentHandler | undefined;
  const clients: Redis[] = [];
  const byUrl = new Map<string, Redis>();

  before(async () => {
    backend = new DevBackend({ apiKeys: [KEY] });
    await backend.start();
    second = await startRedisServer();
  });
  afterEach(async () => {
    await handler?.stop(3000);
    handler = undefined;
    backend.faults.clear();
    backend.reset();
    for (const c of clients.splice(0)) c.disconnect();
    byUrl.clear();
  });
  after(async () => {
    await backend.stop();
    await second.stop();
  });

  /** Batches of this project the Redis at `url` holds (the queue's data hash, src/queue/redis-keys.ts). */
  async function batchesIn(url: string, projectId: string): Promise<number> {
    let c = byUrl.get(url);
    if (!c) {
      c = new Redis(url, { maxRetriesPerRequest: 1 });
      byUrl.set(url, c);
      clients.push(c);
    }
    const type = await c.type(`guard_agent:{${projectId}}:data`);
    assert.ok(type === 'hash' || type === 'none', `the data key is a hash (${type})`);
    return c.hlen(`guard_agent:{${projectId}}:data`);
  }

  async function outage(h: GuardAgentHandler, from: number, to: number): Promise<void> {
    for (let i = from; i < to; i++) await h.sendEvent({ eventType: 'ip_banned', ipAddress: '198.51.100.7', reason: `switch ${i}` });
    await h.flushBuffer(3000);
  }

  it('carries the queued batches from one Redis to another, then back to memory, and delivers them all', async () => {
    const projectId = `proj_switch_${process.pid}_${Date.now()}`;
    const first = 'redis://127.0.0.1:6379';
    handler = new GuardAgentHandler(
      { apiKey: KEY, endpoint: backend.url, projectId, redisUrl: first, flushInterval: 0.1, retryAttempts: 0, breaker: { failureThreshold: 5, recoveryTimeoutMs: 100 } },
      { env: {}, drainIntervalMs: 50 },
    );
    await handler.start();
    backend.faults.push({ kind: 'status', status: 503, times: Infinity });

    await outage(handler, 0, 5);
    assert.equal(handler.getStats().queue.backend, 'redis');
    assert.ok(handler.getStats().queue.depthItems >= 5, 'queued in the first Redis');
    // Batches enqueued before the queue's first contact with Redis wait in memory and move in right after it.
    await until('batches in the first Redis', async () => (await batchesIn(first, projectId)) > 0, 3000);

    await handler.updateConfig({ redisUrl: second.url });
    assert.equal(handler.getStats().queue.backend, 'redis');
    assert.ok(handler.getStats().queue.depthItems >= 5, 'carried over');
    await until('now in the second Redis', async () => (await batchesIn(second.url, projectId)) > 0, 3000);
    assert.equal(await batchesIn(first, projectId), 0, 'none left in the first');
    await outage(handler, 5, 8);

    await handler.updateConfig({ redisUrl: null });
    assert.equal(handler.getStats().queue.backend, 'memory');
    assert.ok(handler.getStats().queue.depthItems >= 8, 'carried back to memory');
    assert.equal(await batchesIn(second.url, projectId), 0, 'none left in the second');
    await outage(handler, 8, 10);

    backend.faults.clear();
    await until(() => new Set(backend.events.map((e) => e.reason)).size === 10, 10_000);
    assert.deepEqual(
      [...new Set(backend.events.map((e) => String(e.reason)))].sort(),
      Array.from({ length: 10 }, (_, i) => `switch ${i}`).sort(),
    );
  });
});

describe('two handlers in one process on one Redis and project', function () {
  this.timeout(30_000);
  const { backend, handlers } = backendAndHandlers(KEY);

  it("get their own instance ids: the second never replays the first one's in-flight batches, metrics arrive once", async () => {
    const make = (config: AgentConfigInput) => new GuardAgentHandler(config, { env: {}, drainIntervalMs: 50 });
    await assertTwoHandlersCountOnce(backend(), KEY, '/two', make, make, handlers);
  });
});
