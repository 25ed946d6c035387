/**
 * A TAKE that times out on the agent's side still runs in Redis once it
 * answers again (a throw-away redis-server stalled by CLIENT PAUSE): it moves
 * ids into this instance's in-flight list while the agent holds nothing.
 * Those ids go back to pending as soon as Redis answers (and on close),
 * instead of waiting in flight until the next start of the instance.
 */
import assert from 'node:assert/strict';
import { DevBackend } from '../../src/dev-backend/index.js';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { RedisFallbackQueue } from '../../src/queue/redis-fallback-queue.js';
import type { QueuedBatch } from '../../src/queue/fallback-queue.js';
import { makeBatch } from '../helpers/wire-batch.js';
import { withOwnRedisServer } from '../helpers/own-redis-server.js';
import { until } from '../helpers/until.js';

const KEY = 'redis-timeout-test-key-0123456789';

describe('a Redis command that times out is reconciled when Redis answers again', function () {
  this.timeout(30_000);
  const own = withOwnRedisServer();
  const queues = own.queues;
  let n = 0;

  function queue(projectId: string, reconnectProbeMs: number): RedisFallbackQueue {
    const q = new RedisFallbackQueue({ url: own.server.url, projectId, instanceId: 't1', commandTimeoutMs: 200, reconnectProbeMs });
    queues.push(q);
    return q;
  }

  const lists = (projectId: string) => ({ pending: `guard_agent:{${projectId}}:pending:t1`, inflight: `guard_agent:{${projectId}}:inflight:t1` });

  /** Stalls Redis for 800 ms and takes during the stall: the TAKE times out here (200 ms) and runs there afterwards. */
  async function takeDuringStall(q: RedisFallbackQueue): Promise<void> {
    // Loads the TAKE script first: one Redis has never seen fails NOSCRIPT after the stall instead of running.
    const warm = await q.take(1);
    await q.release(warm.map((t) => t.id));
    assert.match(await own.server.command('CLIENT', 'PAUSE', '800', 'ALL'), /^\+OK/);
    const t0 = Date.now();
    assert.deepEqual(await q.take(5), [], 'nothing handed out: the TAKE timed out');
    assert.ok(Date.now() - t0 < 600, 'the caller waited no longer than the command timeout');
    assert.equal(q.stats().redisAvailable, false);
    await until('Redis answering again', async () => (await own.admin.ping()) === 'PONG', 3000);
  }

  it('the batches the late TAKE moved in flight are taken again once Redis answers, each once', async () => {
    const projectId = `timeout_${process.pid}_${++n}`;
    const q = queue(projectId, 100);
    assert.equal(await q.ready(), true);
    const batches = Array.from({ length: 5 }, () => makeBatch());
    for (const b of batches) await q.enqueue(b);

    await takeDuringStall(q);

    const taken: QueuedBatch[] = [];
    await until('every batch taken again', async () => {
      taken.push(...(await q.take(10)));
      return taken.length >= batches.length;
    }, 5000);
    assert.deepEqual(taken.map((t) => t.batch.batchId), batches.map((b) => b.batchId), 'all of them, oldest first, once');
    assert.equal(await own.admin.llen(lists(projectId).inflight), batches.length, 'in flight: exactly the ones handed out');
    await q.ack(taken.map((t) => t.id));
    assert.equal(await own.admin.llen(lists(projectId).inflight), 0);
  });

  it('close() right after the stall puts them back to pending for the next run', async () => {
    const projectId = `timeout_${process.pid}_${++n}`;
    // No probe before close: close itself has to notice.
    const q = queue(projectId, 60_000);
    assert.equal(await q.ready(), true);
    for (let i = 0; i < 5; i++) await q.enqueue(makeBatch());

    await takeDuringStall(q);
    assert.equal(await own.admin.llen(lists(projectId).inflight), 5, 'the late TAKE moved them in flight');

    await q.close();
    assert.equal(await own.admin.llen(lists(projectId).inflight), 0, 'nothing stranded in flight');
    assert.equal(await own.admin.llen(lists(projectId).pending), 5);
  });

  it('a handler delivers every queued event once Redis and the backend answer, without a restart', async () => {
    const backend = new DevBackend({ apiKeys: [KEY] });
    await backend.start();
    const projectId = `timeout_${process.pid}_${++n}`;
    const handler = new GuardAgentHandler(
      {
        apiKey: KEY,
        endpoint: backend.url,
        projectId,
        flushInterval: 60,
        retryAttempts: 0,
        redisUrl: own.server.url,
        queue: { commandTimeoutMs: 200 },
        breaker: { failureThreshold: 1000 },
      },
      { env: {}, drainIntervalMs: 50 },
    );
    try {
      await handler.start();
      backend.faults.push({ kind: 'down' });
      const total = 100;
      for (let b = 0; b < 10; b++) {
        for (let i = 0; i < 10; i++) await handler.sendEvent({ eventType: 'ip_banned', ipAddress: '203.0.113.9', reason: `stall ${b}-${i}` });
        await handler.flushBuffer(1000);
      }
      await until('the events queued in Redis', () => handler.getStats().queue.depthItems >= total, 5000);
      // The drainer keeps taking while the backend is down: its next TAKE is sent during the stall.
      assert.match(await own.server.command('CLIENT', 'PAUSE', '800', 'ALL'), /^\+OK/);
      backend.faults.clear();
      await until('every event delivered', () => backend.events.length >= total, 8000);
      assert.equal(backend.stats.duplicateEvents, 0, 'none sent twice');
      // The last batch's ack may still be on its way when its events have arrived.
      await until('the queue acknowledged everything', () => handler.getStats().queue.depthItems === 0, 3000);
    } finally {
      await handler.stop(2000);
      await backend.stop();
    }
  });
});
