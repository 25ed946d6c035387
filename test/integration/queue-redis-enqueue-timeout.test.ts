/**
 * An ENQUEUE that times out on the agent's side still runs in Redis once it
 * answers again (a throw-away redis-server stalled by CLIENT PAUSE). The
 * queue cannot tell, keeps the batch in memory, and moves it into Redis when
 * Redis answers: that must not make a second entry of the same batch (the
 * drainer would deliver it twice; metrics have no idempotency key), nor
 * leave that entry behind when the batch is delivered from memory first.
 */
import assert from 'node:assert/strict';
import { RedisFallbackQueue } from '../../src/queue/redis-fallback-queue.js';
import type { QueuedBatch } from '../../src/queue/fallback-queue.js';
import type { WireBatch } from '../../src/transport/types.js';
import { makeBatch } from '../helpers/wire-batch.js';
import { withOwnRedisServer } from '../helpers/own-redis-server.js';
import { until } from '../helpers/until.js';

describe('a Redis ENQUEUE that times out', function () {
  this.timeout(30_000);
  const own = withOwnRedisServer();
  const queues = own.queues;
  let n = 0;

  /** A queue whose ENQUEUE of `batch` times out during a stall (it runs in Redis after the stall): the batch is held in memory. */
  async function enqueueDuringStall(batch: WireBatch): Promise<RedisFallbackQueue> {
    const projectId = `enqueue_timeout_${process.pid}_${++n}`;
    const q = new RedisFallbackQueue({ url: own.server.url, projectId, instanceId: 't1', commandTimeoutMs: 200, reconnectProbeMs: 100 });
    queues.push(q);
    assert.equal(await q.ready(), true);
    // Loads the ENQUEUE script first: one Redis has never seen fails NOSCRIPT after the stall instead of running.
    await q.enqueue(makeBatch());
    await q.ack((await q.take(1)).map((t) => t.id));
    assert.match(await own.server.command('CLIENT', 'PAUSE', '800', 'ALL'), /^\+OK/);
    await q.enqueue(batch);
    assert.equal(q.stats().redisAvailable, false, 'the ENQUEUE timed out: the batch went to memory');
    return q;
  }

  async function takeAll(q: RedisFallbackQueue): Promise<string[]> {
    await until('Redis answering and memory moved in', async () => (await own.admin.ping()) === 'PONG' && q.stats().redisAvailable && !q.holdsBatchesInMemory, 5000);
    const taken: QueuedBatch[] = [];
    for (let got = await q.take(10); got.length > 0; got = await q.take(10)) taken.push(...got);
    return taken.map((t) => t.batch.batchId);
  }

  it('moved from memory into Redis once it answers: one entry of the batch (was 2)', async () => {
    const batch = makeBatch();
    const q = await enqueueDuringStall(batch);
    assert.deepEqual(await takeAll(q), [batch.batchId], 'one entry, taken once');
  });

  it('delivered from memory meanwhile: no entry left in Redis to deliver again (was 1)', async () => {
    const batch = makeBatch();
    const q = await enqueueDuringStall(batch);
    const fromMemory = await q.take(10);
    assert.deepEqual(fromMemory.map((t) => t.batch.batchId), [batch.batchId]);
    await q.ack(fromMemory.map((t) => t.id));
    assert.deepEqual(await takeAll(q), [], 'nothing left');
  });
});
