/**
 * DurabilityJournal replay against a real redis-server of its own (paused at
 * will): a journaled event too large for any batch is dropped and counted
 * `too_large` exactly once, when it leaves the journal, even when a replay
 * is postponed halfway (the queue's enqueue fell back to memory) and done
 * again later.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { DurabilityJournal } from '../../src/handler/durability-journal.js';
import { RedisFallbackQueue } from '../../src/queue/redis-fallback-queue.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { until } from '../helpers/until.js';

const MAX_BATCH_BYTES = 4096;

describe('DurabilityJournal replay (real redis-server)', function () {
  this.timeout(20_000);
  let server: RedisServerHandle;
  let admin: Redis;
  const open: { queue: RedisFallbackQueue; journal: DurabilityJournal }[] = [];

  before(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterEach(async () => {
    await admin.call('CLIENT', 'UNPAUSE').catch(() => undefined);
    for (const { queue, journal } of open.splice(0)) {
      journal.detach();
      queue.detach();
    }
  });
  after(async () => {
    admin.disconnect();
    await server.stop();
  });

  function setup(): { queue: RedisFallbackQueue; journal: DurabilityJournal; tooLarge: number[] } {
    const queue = new RedisFallbackQueue({ url: server.url, projectId: `jr-${randomUUID().slice(0, 8)}`, instanceId: 'crashed', commandTimeoutMs: 200, reconnectProbeMs: 100 });
    const tooLarge: number[] = [];
    const journal = new DurabilityJournal({ redisQueue: queue, target: queue, maxBatchBytes: MAX_BATCH_BYTES, maxBatchItems: 10, onTooLarge: (n) => tooLarge.push(n), claimIntervalMs: 60_000 });
    open.push({ queue, journal });
    return { queue, journal, tooLarge };
  }

  /** What a crashed run of this instance left: `n` ordinary events and one larger than any batch. */
  async function leaveJournal(journal: DurabilityJournal, n: number): Promise<string[]> {
    const keys = Array.from({ length: n }, () => randomUUID());
    const flat: string[] = [];
    for (const k of keys) flat.push(k, JSON.stringify({ event_type: 'ip_banned', idempotency_key: k }));
    flat.push('huge', JSON.stringify({ event_type: 'ip_banned', idempotency_key: 'huge', reason: 'x'.repeat(MAX_BATCH_BYTES) }));
    await admin.hset(journal.key, ...flat);
    return keys;
  }

  async function queuedKeys(queue: RedisFallbackQueue): Promise<Set<string>> {
    const got = new Set<string>();
    for (const q of await queue.take(1000)) for (const k of q.batch.idempotencyKeys) got.add(k);
    return got;
  }

  it('drops and counts a journaled event larger than any batch once, and queues the rest', async () => {
    const { queue, journal, tooLarge } = setup();
    assert.equal(await queue.ready(), true);
    const keys = await leaveJournal(journal, 25);
    assert.equal(await journal.replay(true), 25);
    assert.deepEqual(tooLarge, [1]);
    assert.equal(await admin.hlen(journal.key), 0, 'the too-large entry left the journal too');
    assert.deepEqual(await queuedKeys(queue), new Set(keys));
  });

  it('a replay postponed after its enqueue fell back to memory counts the too-large event once, when the entries finally leave the journal', async () => {
    const { queue, journal, tooLarge } = setup();
    assert.equal(await queue.ready(), true);
    const keys = await leaveJournal(journal, 25);
    // Writes stall (reads still answer): the replay reads the journal, its enqueue times out into memory, and it is postponed.
    await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE');
    assert.equal(await journal.replay(true), 0, 'postponed');
    assert.ok(queue.holdsBatchesInMemory, 'the enqueue fell back to memory');
    assert.equal(await admin.hlen(journal.key), 26, 'nothing left the journal');
    await admin.call('CLIENT', 'UNPAUSE');
    await until('the queue moved its memory into Redis', () => !queue.holdsBatchesInMemory && queue.isAvailable, 5000);
    assert.equal(await journal.replay(true), 25);
    assert.equal(await admin.hlen(journal.key), 0);
    assert.deepEqual(tooLarge, [1], 'counted once, not once per attempt');
    assert.deepEqual(await queuedKeys(queue), new Set(keys), 'every ordinary event queued (the first attempt\'s copies share their keys)');
  });
});
