/**
 * updateConfig({ redisUrl }) while the drainer is replaying a batch it took
 * from the old Redis (a slow answer keeps it in flight across the switch):
 * the batch is delivered once and leaves no copy in the old Redis. Before,
 * closing the old queue put the in-flight batch back into its pending list
 * and the drainer's later ack went nowhere, so the delivered batch stayed in
 * the old Redis and was delivered again by the next queue on it.
 */
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { DevBackend } from '../../src/dev-backend/index.js';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { until } from '../helpers/until.js';

const KEY = 'switch-in-flight-key-0123456789';
const SHARED = 'redis://127.0.0.1:6379';

describe('a Redis switch while the drainer holds a batch in flight', function () {
  this.timeout(30_000);
  let backend: DevBackend;
  let second: RedisServerHandle;
  let handler: GuardAgentHandler | undefined;
  const clients: Redis[] = [];

  before(async () => {
    backend = new DevBackend({ apiKeys: [KEY] });
    await backend.start();
    second = await startRedisServer();
  });
  afterEach(async () => {
    await handler?.stop(3000);
    handler = undefined;
    backend.reset();
    for (const c of clients.splice(0)) c.disconnect();
  });
  after(async () => {
    await backend.stop();
    await second.stop();
  });

  function batchesIn(url: string, projectId: string): Promise<number> {
    const c = new Redis(url, { maxRetriesPerRequest: 1 });
    clients.push(c);
    return c.hlen(`guard_agent:{${projectId}}:data`);
  }

  for (const kind of ['events', 'metrics'] as const) {
    it(`${kind}: delivered once, nothing left in the old Redis, no second delivery after switching back`, async () => {
      const projectId = `proj_switch_inflight_${kind}_${process.pid}_${Date.now()}`;
      handler = new GuardAgentHandler(
        { apiKey: KEY, endpoint: backend.url, projectId, redisUrl: SHARED, flushInterval: 0.1, retryAttempts: 0, breaker: { failureThreshold: 100, recoveryTimeoutMs: 100 } },
        { env: {}, drainIntervalMs: 50, stopBeforeExit: false },
      );
      backend.faults.push({ kind: 'status', status: 503, times: Infinity });
      await handler.start();
      if (kind === 'events') await handler.sendEvent({ eventType: 'ip_banned', ipAddress: '198.51.100.7', reason: 'in flight' });
      else await handler.sendMetric({ metricType: 'request_count', value: 1, endpoint: '/in-flight' });
      await handler.flushBuffer(3000);
      await until('the batch in the first Redis', async () => (await batchesIn(SHARED, projectId)) === 1, 3000);

      // The backend answers again, the first replay 1.5 s late: the switch comes while it is in flight.
      backend.faults.clear();
      backend.faults.push({ kind: 'delay', ms: 1500 });
      const replayed = handler.pipeline.drainer.getStats().replayed;
      await until('a replay in flight', () => handler!.pipeline.drainer.getStats().replayed > replayed, 3000);
      await handler.updateConfig({ redisUrl: second.url });

      const received = () => (kind === 'events' ? backend.stats.eventsReceived : backend.stats.metricsReceived);
      await until('the replay delivered', () => received() >= 1, 5000);
      await until('the drainer acked it', () => handler!.pipeline.drainer.getStats().acked >= 1, 3000);
      const leftInFirst = await batchesIn(SHARED, projectId);

      // Back on the first Redis: a copy left there would be replayed and delivered again.
      await handler.updateConfig({ redisUrl: SHARED });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.deepEqual({ leftInFirst, received: received() }, { leftInFirst: 0, received: 1 });
    });
  }
});
