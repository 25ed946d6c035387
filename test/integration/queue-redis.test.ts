/**
 * RedisFallbackQueue against a real redis-server spawned for this suite
 * (killed, restarted, reconfigured at will).
 */
import assert from 'node:assert/strict';
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { Redis } from 'ioredis';
import { RedisFallbackQueue, type RedisFallbackQueueOptions } from '../../src/queue/redis-fallback-queue.js';
import { MemoryFallbackQueue } from '../../src/queue/memory-fallback-queue.js';
import { createFallbackQueue } from '../../src/queue/create-fallback-queue.js';
import { queueKeys } from '../../src/queue/redis-keys.js';
import { assertEnqueuesFast, makeBatch } from '../helpers/wire-batch.js';
import { freePort, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { until } from '../helpers/until.js';


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


async function scanAll(redis: Redis, pattern = '*'): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

function captureDiag(): { errors: string[]; warnings: string[]; restore(): void } {
  const errors: string[] = [];
  const warnings: string[] = [];
  const logger: DiagLogger = {
    error: (m) => errors.push(m),
    warn: (m) => warnings.push(m),
    info: () => undefined,
    debug: () => undefined,
    verbose: () => undefined,
  };
  diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  return { errors, warnings, restore: () => diag.disable() };
}

describe('RedisFallbackQueue (real redis-server)', function () {
  this.timeout(20000);
  let server: RedisServerHandle;
  let admin: Redis;
  const open: RedisFallbackQueue[] = [];
  let project = 0;

  function queue(options: Partial<RedisFallbackQueueOptions> = {}): RedisFallbackQueue {
    const q = new RedisFallbackQueue({ url: server.url, projectId: `p${project}`, instanceId: 'a', ...options });
    open.push(q);
    return q;
  }

  before(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    admin.on('error', () => undefined);
  });
  beforeEach(() => {
    project++;
  });
  afterEach(async () => {
    for (const q of open.splice(0)) q.detach();
    if (!server.running) await server.restart();
  });
  after(async () => {
    admin.disconnect();
    await server.stop();
  });

  it('enqueue / take / ack round trip, oldest first, with counters', async () => {
    const q = queue();
    assert.equal(await q.ready(), true);
    const batches = [makeBatch(1), makeBatch(2), makeBatch(3)];
    for (const b of batches) await q.enqueue(b);
    assert.equal(q.stats().depthBatches, 3);
    assert.equal(q.stats().depthItems, 6);
    const taken = await q.take(2);
    assert.deepEqual(taken.map((t) => t.batch), batches.slice(0, 2), 'whole batches come back intact');
    assert.equal((await q.take(1))[0].batch.batchId, batches[2].batchId);
    assert.equal((await q.take(5)).length, 0, 'in-flight batches are not handed out twice');
    await q.release([taken[1].id]);
    const again = await q.take(5);
    assert.deepEqual(again.map((t) => t.id), [taken[1].id]);
    await q.ack([taken[0].id, taken[1].id]);
    const s = q.stats();
    assert.equal(s.depthBatches, 1);
    assert.equal(s.enqueued, 3);
    assert.equal(s.acked, 2);
    assert.equal(s.redisAvailable, true);
    assert.equal(s.backend, 'redis');
    assert.equal(await admin.hlen(queueKeys('guard_agent', `p${project}`).data), 1);
  });

  it('puts every key of a project in one cluster slot (one {projectId} hash tag)', async () => {
    const a = queue({ projectId: 'tenant-42', prefix: 'gq' });
    const b = queue({ projectId: 'tenant-42', prefix: 'gq', instanceId: 'b{weird}' });
    await Promise.all([a.ready(), b.ready()]);
    await a.enqueue(makeBatch());
    await b.enqueue(makeBatch());
    await a.take(1);
    const keys = await scanAll(admin, 'gq:*');
    assert.ok(keys.length >= 8, `expected the queue's keys, got ${keys.join(', ')}`);
    for (const key of keys) {
      const tag = /\{([^}]*)\}/.exec(key)?.[1];
      assert.equal(tag, 'tenant-42', `key ${key} must hash on {tenant-42}`);
    }
    const slots = new Set(await Promise.all(keys.map((k) => admin.call('CLUSTER', 'KEYSLOT', k).catch(() => null))));
    if (!slots.has(null)) assert.equal(slots.size, 1);
  });

  it('a restarted instance (same instanceId) replays its own unacked batches first', async () => {
    const first = queue({ instanceId: 'worker-1' });
    await first.ready();
    await first.enqueue(makeBatch());
    await first.enqueue(makeBatch());
    const inFlight = await first.take(1);
    first.detach(); // crash: nothing written back
    const second = queue({ instanceId: 'worker-1' });
    await second.ready();
    const taken = await second.take(10);
    assert.equal(taken.length, 2);
    assert.equal(taken[0].batch.batchId, inFlight[0].batch.batchId, 'the in-flight batch comes back first');
  });

  it('a sibling takes over a dead instance only after its lease expires, never before', async () => {
    const leaseMs = 800;
    const a = queue({ instanceId: 'a', leaseMs, heartbeatIntervalMs: 100 });
    const b = queue({ instanceId: 'b', leaseMs, heartbeatIntervalMs: 100 });
    await Promise.all([a.ready(), b.ready()]);
    for (let i = 0; i < 3; i++) await a.enqueue(makeBatch());
    const aInFlight = await a.take(1);

    // A is alive and heartbeating for more than a lease: B must not touch its batches.
    const aliveUntil = Date.now() + leaseMs * 1.5;
    while (Date.now() < aliveUntil) {
      assert.equal((await b.take(10)).length, 0, 'B took a live sibling\'s batch');
      assert.equal(await b.claimExpiredSiblings(), 0);
      await sleep(50);
    }

    const diedAt = Date.now();
    a.detach(); // stops heartbeating, leaves its entries (one in flight) behind
    const got: string[] = [];
    let firstAt = 0;
    while (got.length < 3 && Date.now() - diedAt < leaseMs + 3000) {
      const taken = await b.take(10);
      if (taken.length > 0 && firstAt === 0) firstAt = Date.now();
      got.push(...taken.map((t) => t.batch.batchId));
      await sleep(20);
    }
    assert.equal(got.length, 3, 'B eventually takes all of A\'s batches');
    assert.equal(new Set(got).size, 3);
    assert.equal(got[0], aInFlight[0].batch.batchId, 'A\'s in-flight batch first');
    // A's last heartbeat was at most one heartbeat interval before it died.
    assert.ok(firstAt - diedAt >= leaseMs - 150, `claimed ${firstAt - diedAt} ms after death, lease is ${leaseMs}`);
    assert.equal(b.stats().depthBatches, 3);
  });

  it('Redis killed: enqueue stays fast into memory; restarted: memory moves back, loss is reported', async () => {
    const log = captureDiag();
    try {
      const commandTimeoutMs = 300;
      const q = queue({ commandTimeoutMs, reconnectProbeMs: 100 });
      await q.ready();
      await q.enqueue(makeBatch(1));
      await server.kill9();
      const whileDown = await assertEnqueuesFast(q, 3, commandTimeoutMs + 100);
      assert.equal(q.stats().redisAvailable, false);
      const down = q.stats();
      assert.equal(down.depthBatches, 1 + 3, 'Redis depth (last known) + memory');
      await server.restart(); // empty: no persistence
      await until('Redis back in use', () => q.stats().redisAvailable && q.stats().depthBatches === 3, 10000);
      const s = q.stats();
      assert.equal(s.dataLossDetected, 1);
      assert.equal(s.dropped.redis_data_loss, 1, 'the one batch that was only in Redis');
      assert.ok(log.errors.some((m) => m.includes('Redis lost the fallback queue')), log.errors.join('\n'));
      const taken = await q.take(10);
      assert.deepEqual(taken.map((t) => t.batch.batchId), whileDown.map((b) => b.batchId), 'memory moved back oldest first');
      assert.ok(taken.every((t) => !t.id.startsWith('m')), 'they are Redis entries now');
      assert.equal(await admin.llen(queueKeys('guard_agent', `p${project}`).instance('a').inflight), 3);
    } finally {
      log.restore();
    }
  });

  it("with the user's own ioredis client (offline queue on), enqueue is bounded by commandTimeoutMs", async () => {
    const client = new Redis(server.url, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
    client.on('error', () => undefined);
    try {
      const q = queue({ client, url: undefined, commandTimeoutMs: 200, reconnectProbeMs: 100 });
      await q.ready();
      await q.enqueue(makeBatch());
      await server.kill9();
      const t0 = Date.now();
      await q.enqueue(makeBatch());
      await q.enqueue(makeBatch());
      assert.ok(Date.now() - t0 < 200 + 150, `two enqueues took ${Date.now() - t0} ms`);
      assert.equal(q.stats().redisAvailable, false);
      await server.restart();
      await until('Redis back', () => q.stats().redisAvailable, 10000);
      await until('memory moved', () => q.stats().depthBatches === 2);
      assert.equal((await q.take(10)).length, 2);
    } finally {
      client.disconnect();
    }
  });

  it('Redis restarted without persistence while idle: the next call detects and reports the loss, then keeps working', async () => {
    const log = captureDiag();
    try {
      const q = queue({ reconnectProbeMs: 100 });
      await q.ready();
      await q.enqueue(makeBatch(2));
      await q.enqueue(makeBatch(3));
      const held = await q.take(1); // in flight across the loss
      await server.restart();
      await until('reconnected', async () => (await q.take(10)).length === 0 && q.stats().redisAvailable && q.stats().dataLossDetected === 1, 10000);
      const s = q.stats();
      assert.equal(s.dropped.redis_data_loss, 3, 'only the waiting batch is lost; the in-flight one is still held');
      assert.ok(log.errors.some((m) => /Redis lost the fallback queue \(restart without persistence\?/.test(m)));
      // The batch held in flight survives: releasing it writes it back.
      await q.release([held[0].id]);
      const back = await q.take(10);
      assert.deepEqual(back.map((t) => t.batch.batchId), [held[0].batch.batchId]);
      await q.ack([back[0].id]);
      await q.enqueue(makeBatch());
      assert.equal((await q.take(10)).length, 1, 'the queue keeps working under the new epoch');
      assert.equal(q.stats().dataLossDetected, 1, 'reported once');
    } finally {
      log.restore();
    }
  });

  it('at maxmemory (noeviction) it trims its oldest entries, counts them, and keeps accepting', async () => {
    const oom = await startRedisServer({ args: ['--maxmemory', '1mb', '--maxmemory-policy', 'noeviction'] });
    const log = captureDiag();
    try {
      const q = new RedisFallbackQueue({ url: oom.url, projectId: 'oom', instanceId: 'a', memoryFallback: new MemoryFallbackQueue({ maxBatches: 10 }) });
      open.push(q);
      assert.equal(await q.ready(), true);
      const batches = Array.from({ length: 60 }, () => makeBatch(2, 5000));
      for (const b of batches) await q.enqueue(b);
      const s = q.stats();
      assert.equal(s.redisAvailable, true);
      assert.ok((s.dropped.queue_full ?? 0) > 0, `expected OOM trimming, stats ${JSON.stringify(s)}`);
      assert.ok(log.warnings.some((m) => m.includes('maxmemory')), log.warnings.join('\n'));
      // Every item is either held or counted as dropped.
      const droppedItems = Object.values(s.dropped).reduce((a, b) => a + (b ?? 0), 0);
      assert.equal(s.depthItems + droppedItems, 120);
      const taken = await q.take(100);
      assert.equal(taken.at(-1)?.batch.batchId, batches.at(-1)?.batchId, 'the newest batch is kept');
    } finally {
      log.restore();
      await oom.stop();
    }
  });

  it('bounds Redis by entries and by bytes, dropping the oldest and counting queue_full', async () => {
    const byCount = queue({ maxEntries: 3 });
    await byCount.ready();
    const batches = Array.from({ length: 5 }, () => makeBatch(2));
    for (const b of batches) await byCount.enqueue(b);
    assert.equal(byCount.stats().depthBatches, 3);
    assert.equal(byCount.stats().dropped.queue_full, 4);
    assert.deepEqual((await byCount.take(10)).map((t) => t.batch.batchId), batches.slice(2).map((b) => b.batchId));

    const byBytes = queue({ instanceId: 'bytes', maxBytes: 5000 });
    await byBytes.ready();
    for (let i = 0; i < 6; i++) await byBytes.enqueue(makeBatch(1, 2000));
    const s = byBytes.stats();
    assert.ok(s.depthBytes <= 5000, `depthBytes ${s.depthBytes}`);
    assert.equal(s.depthBatches + (s.dropped.queue_full ?? 0), 6);
  });

  it('drops batches older than the retention (default 7 days) with reason queue_retention', async () => {
    const q = queue();
    await q.ready();
    const eightDaysAgo = Date.now() - 8 * 24 * 3600 * 1000;
    const sixDaysAgo = Date.now() - 6 * 24 * 3600 * 1000;
    await q.enqueue(makeBatch(4, 40, eightDaysAgo));
    await q.enqueue(makeBatch(1, 40, sixDaysAgo));
    const taken = await q.take(10);
    assert.equal(taken.length, 1);
    assert.equal(taken[0].batch.createdAt, sixDaysAgo);
    assert.equal(q.stats().dropped.queue_retention, 4);

    const short = queue({ instanceId: 'short', retentionMs: 200 });
    await short.ready();
    await short.enqueue(makeBatch(2));
    await sleep(300);
    assert.equal((await short.take(10)).length, 0);
    assert.equal(short.stats().dropped.queue_retention, 2);
    assert.equal(short.stats().depthBatches, 0);
  });

  it('removes and counts a corrupted entry instead of crashing', async () => {
    const log = captureDiag();
    try {
      const q = queue();
      await q.ready();
      const good = makeBatch(1);
      await q.enqueue(makeBatch(3));
      await q.enqueue(good);
      const keys = queueKeys('guard_agent', `p${project}`);
      const [firstId] = await admin.lrange(keys.instance('a').pending, 0, 0);
      await admin.hset(keys.data, firstId, '{"kind":"events", truncated');
      const taken = await q.take(10);
      assert.deepEqual(taken.map((t) => t.batch.batchId), [good.batchId]);
      assert.equal(q.stats().dropped.encoding_error, 3);
      assert.equal(await admin.hexists(keys.data, firstId), 0, 'the corrupted entry is gone');
      assert.equal(q.stats().depthBatches, 1);
      assert.ok(log.warnings.some((m) => m.includes('corrupted')));
    } finally {
      log.restore();
    }
  });

  it("uses guard-core's RedisManager (RedisHandlerProtocol) connection", async () => {
    const client = new Redis(server.url);
    client.on('error', () => undefined);
    try {
      const manager = {
        getConnection: () => ({ [Symbol.asyncDispose]: async () => undefined, get client() { return client; } }),
        getKey: async () => null,
        setKey: async () => true,
        delete: async () => 0,
        keys: async () => [],
      };
      const q = createFallbackQueue({ redisClient: manager, projectId: `p${project}`, instanceId: 'mgr' });
      assert.ok(q instanceof RedisFallbackQueue);
      open.push(q);
      assert.equal(await q.ready(), true);
      await q.enqueue(makeBatch());
      const taken = await q.take(1);
      await q.ack(taken.map((t) => t.id));
      assert.equal(q.stats().acked, 1);
      assert.equal(q.stats().redisAvailable, true);
    } finally {
      client.disconnect();
    }
  });

  it('createFallbackQueue picks memory without Redis config', () => {
    const q = createFallbackQueue({ projectId: 'x', memory: { maxBatches: 5 } });
    assert.ok(q instanceof MemoryFallbackQueue);
    assert.equal(q.stats().backend, 'memory');
  });

  it('a batch held in memory and released while Redis answers moves into Redis at once, not at the next heartbeat', async () => {
    // Enqueued before the first contact with Redis it waits in memory; taken by the drainer before the move ran, it
    // missed that move. Its release must start another, or it stays where a crash loses it until the heartbeat (10 s).
    const q = queue({ instanceId: 'early' });
    const data = queueKeys('guard_agent', `p${project}`).data;
    await q.enqueue(makeBatch(3));
    const taken = await q.take(10);
    assert.equal(taken.length, 1, 'taken from memory');
    assert.equal(await q.ready(), true);
    assert.equal(await admin.hlen(data), 0, 'in flight from memory, not moved');
    await q.release(taken.map((t) => t.id));
    // The move writes to Redis, then lets go of its memory copy: wait for both.
    await until('the released batch in Redis, gone from memory', async () => (await admin.hlen(data)) === 1 && !q.holdsBatchesInMemory, 1000);
    const again = await q.take(10);
    assert.equal(again.length, 1);
    assert.equal(again[0]!.batch.items.length, 3);
  });

  it('close() on a queue whose Redis never answered waits commandTimeoutMs for the connection, not the connect timeout', async () => {
    const port = await freePort(); // nothing listens there
    const q = new RedisFallbackQueue({ url: `redis://127.0.0.1:${port}`, projectId: `p${project}`, instanceId: 'never', commandTimeoutMs: 300, connectTimeoutMs: 5000 });
    open.push(q);
    await q.enqueue(makeBatch(2));
    const t0 = Date.now();
    await q.close();
    const took = Date.now() - t0;
    assert.ok(took < 1500, `close() took ${took} ms (the connect timeout is 5000)`);
    assert.equal(q.stats().dropped.queue_unavailable, 2, 'what only memory held is counted lost, not silently gone');
  });

  it('close() releases in-flight batches and moves memory into Redis for the next run', async () => {
    const q = queue({ instanceId: 'closer' });
    await q.ready();
    await q.enqueue(makeBatch());
    await q.take(1);
    await q.close();
    assert.equal(q.stats().redisAvailable, true);
    await q.enqueue(makeBatch()); // after close: counted, not stored
    assert.equal(q.stats().dropped.agent_stopped, 2);
    const next = queue({ instanceId: 'closer' });
    await next.ready();
    assert.equal((await next.take(10)).length, 1);
  });
});
