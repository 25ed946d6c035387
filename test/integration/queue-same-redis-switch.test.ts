/**
 * Switching the fallback queue onto the Redis it already uses (a throw-away
 * redis-server): `initializeRedis(client)` when `redisUrl` names the same
 * server, or `initializeRedis()` twice. Nothing moves (before, the switch
 * took back what it had just written, forever, and stop() hung on it); the
 * new queue takes over, in-flight entries included, and every event is
 * delivered exactly once. When the queue cannot tell it is the same store,
 * the move still ends after one pass.
 */
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { DevBackend } from '../../src/dev-backend/index.js';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { RedisFallbackQueue } from '../../src/queue/redis-fallback-queue.js';
import { SwitchableQueue } from '../../src/queue/switchable-queue.js';
import { makeBatch } from '../helpers/wire-batch.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { until } from '../helpers/until.js';

const KEY = 'same-redis-switch-key-0123456789';

/** Resolves with how long `p` took, or rejects naming `what` when it takes longer than `ms` (the bug was a promise that never settled). */
async function within(what: string, p: Promise<unknown>, ms: number): Promise<number> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms);
  });
  try {
    await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
  return Date.now() - t0;
}

describe('switching the fallback queue onto the Redis it already uses', function () {
  this.timeout(30_000);
  let server: RedisServerHandle;
  let admin: Redis;
  let backend: DevBackend;
  let handler: GuardAgentHandler | undefined;
  const clients: Redis[] = [];
  const queues: RedisFallbackQueue[] = [];
  let n = 0;

  before(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    backend = new DevBackend({ apiKeys: [KEY] });
    await backend.start();
  });
  afterEach(async () => {
    // A hung stop() (the bug) must not hang the suite: the assertion in the test already failed.
    if (handler) await within('stop() in afterEach', handler.stop(2000), 4000).catch(() => undefined);
    handler = undefined;
    for (const q of queues.splice(0)) q.detach();
    for (const c of clients.splice(0)) c.disconnect();
    backend.reset();
  });
  after(async () => {
    admin.disconnect();
    await backend.stop();
    await server.stop();
  });

  function client(): Redis {
    const c = new Redis(server.url, { maxRetriesPerRequest: 1 });
    clients.push(c);
    return c;
  }

  function redisQueue(projectId: string, options: { url?: string; client?: Redis } = {}): RedisFallbackQueue {
    const q = new RedisFallbackQueue({ projectId, instanceId: 'w1', ...(options.client ? { client: options.client } : { url: options.url ?? server.url }) });
    queues.push(q);
    return q;
  }

  const lists = (projectId: string) => ({
    data: `guard_agent:{${projectId}}:data`,
    pending: `guard_agent:{${projectId}}:pending:w1`,
    inflight: `guard_agent:{${projectId}}:inflight:w1`,
  });

  const modes = ['redisUrl, then initializeRedis(client)', 'initializeRedis(client) twice', 'redisUrl, then updateConfig({ redisUrl }) spelling the same server otherwise'] as const;
  for (const mode of modes) {
    it(`${mode}: resolves at once, moves nothing, stop() keeps its deadline, every event delivered once`, async () => {
      const projectId = `same_${process.pid}_${++n}`;
      const viaUrl = mode.startsWith('redisUrl');
      const viaConfig = mode.includes('updateConfig');
      handler = new GuardAgentHandler(
        {
          apiKey: KEY,
          endpoint: backend.url,
          projectId,
          instanceId: 'w1',
          flushInterval: 0.1,
          retryAttempts: 0,
          breaker: { failureThreshold: 1000 },
          ...(viaUrl ? { redisUrl: server.url } : {}),
        },
        { env: {}, drainIntervalMs: 50 },
      );
      await handler.start();
      const redis = client();
      if (!viaUrl) await handler.initializeRedis(redis);
      assert.equal(handler.getStats().queue.backend, 'redis');

      backend.faults.push({ kind: 'down' });
      const total = 30;
      for (let i = 0; i < total; i++) {
        await handler.sendEvent({ eventType: 'ip_banned', ipAddress: '203.0.113.9', reason: `same ${i}` });
        if (i % 10 === 9) await handler.flushBuffer(3000);
      }
      await until('the events queued in Redis', () => handler!.getStats().queue.depthItems >= total, 5000);
      const keys = lists(projectId);
      const entries = (await admin.hkeys(keys.data)).sort();
      assert.ok(entries.length > 0, 'batches are in Redis before the switch');
      assert.ok((await admin.llen(keys.pending)) + (await admin.llen(keys.inflight)) > 0, "in instance w1's lists");

      for (let round = 1; round <= 2; round++) {
        const what = viaConfig ? `updateConfig #${round}` : `initializeRedis #${round}`;
        const step = viaConfig ? handler.updateConfig({ redisUrl: round === 1 ? `${server.url}/0` : server.url }) : handler.initializeRedis(redis);
        const ms = await within(what, step, 3000);
        assert.ok(ms < 1500, `${what} took ${ms} ms`);
        assert.equal(handler.getStats().queue.backend, 'redis');
        assert.deepEqual((await admin.hkeys(keys.data)).sort(), entries, 'nothing moved or copied: the very same entries');
      }
      assert.ok(handler.getStats().queue.depthItems >= total, 'the queue still counts everything it holds');

      backend.faults.clear();
      await until('every event delivered', () => backend.events.length >= total, 10_000);
      const ms = await within('stop(2000)', handler.stop(2000), 4000);
      assert.ok(ms < 2500, `stop(2000) took ${ms} ms`);
      handler = undefined;
      assert.deepEqual(
        backend.events.map((e) => String(e.reason)).sort(),
        Array.from({ length: total }, (_, i) => `same ${i}`).sort(),
      );
      assert.equal(backend.stats.duplicateEvents, 0, 'no event sent twice');
      assert.equal(await admin.hlen(keys.data), 0, 'nothing left in Redis');
      assert.equal(await admin.llen(keys.inflight), 0, 'nothing left in flight');
    });
  }

  it('the new queue takes over what the old one holds in flight: it is not replayed, and its ack removes it', async () => {
    const projectId = `same_${process.pid}_${++n}`;
    const keys = lists(projectId);
    const old = redisQueue(projectId);
    assert.equal(await old.ready(), true);
    const q = new SwitchableQueue(old);
    const batches = [makeBatch(), makeBatch(), makeBatch()];
    for (const b of batches) await q.enqueue(b);
    const [inFlight] = await q.take(1);
    assert.equal(inFlight.batch.batchId, batches[0].batchId);

    await within('switchTo(the same Redis)', q.switchTo(redisQueue(projectId, { client: client() })), 3000);
    const rest = await q.take(10);
    assert.deepEqual(
      rest.map((t) => t.batch.batchId),
      [batches[1].batchId, batches[2].batchId],
      'the batch in flight was not put back to be sent a second time',
    );
    await q.ack([inFlight.id, ...rest.map((t) => t.id)]);
    assert.equal(await admin.hlen(keys.data), 0, 'the ack of the entry taken before the switch removed it');
    assert.equal(await admin.llen(keys.inflight), 0);
    assert.equal(await admin.llen(keys.pending), 0);
    await within('close()', q.close(), 2000);
  });

  it('when it cannot tell the store is the same, the move ends after one pass and keeps every batch once', async () => {
    const projectId = `same_${process.pid}_${++n}`;
    const keys = lists(projectId);
    const old = redisQueue(projectId);
    assert.equal(await old.ready(), true);
    const q = new SwitchableQueue(old);
    const batches = Array.from({ length: 150 }, () => makeBatch(1));
    for (const b of batches) await q.enqueue(b);

    const next = redisQueue(projectId, { client: client() });
    // As if the connections could not be compared (a proxy, a failed probe): the generic move has to end by itself.
    Object.defineProperty(next, 'takeOver', { value: undefined });
    // Ready, so what is moved goes straight to the Redis lists the move takes from (not to its memory first).
    assert.equal(await next.ready(), true);
    await within('switchTo(the same Redis, not recognised)', q.switchTo(next), 5000);

    const taken = await q.take(1000);
    assert.deepEqual(taken.map((t) => t.batch.batchId).sort(), batches.map((b) => b.batchId).sort(), 'each batch exactly once');
    await q.ack(taken.map((t) => t.id));
    assert.equal(await admin.hlen(keys.data), 0);
    assert.equal(await admin.llen(keys.inflight), 0);
    await within('close()', q.close(), 2000);
  });
});
