/**
 * Model-based property test: random sequences of enqueue / take / ack /
 * release / crash-and-reopen / Redis data loss, run against the REAL Redis
 * queue (on a redis-server spawned for this suite) and a plain in-memory
 * model, compared after every step. Seeded: set QUEUE_MODEL_SEED to replay.
 *
 * The model:
 *  - `pending` in take order (enqueue appends; release puts back at the head
 *    in the order given; a crash puts the dead run's in-flight batches back
 *    at the head), `inflight` in take order;
 *  - bound: more than MAX_ENTRIES held (pending + in flight) drops the oldest
 *    pending batch, counted `queue_full`;
 *  - a Redis restart without persistence loses pending and in-flight copies;
 *    the live queue object detects it at its next Redis call, counts the
 *    pending items as `redis_data_loss`, and writes back an in-flight batch
 *    if it is released; a crash before that loses them for good.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { RedisFallbackQueue } from '../../src/queue/redis-fallback-queue.js';
import type { QueuedBatch } from '../../src/queue/fallback-queue.js';
import type { WireBatch } from '../../src/transport/types.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

const MAX_ENTRIES = 6;
const SEED = Number(process.env.QUEUE_MODEL_SEED ?? 20261117);

type Cmd =
  | { t: 'enqueue'; items: number }
  | { t: 'take'; n: number }
  | { t: 'ack'; pick: number[] }
  | { t: 'release'; pick: number[] }
  | { t: 'crash' }
  | { t: 'flush' };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 1, max: 3 }).map((items) => ({ t: 'enqueue', items }) as Cmd) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 4 }).map((n) => ({ t: 'take', n }) as Cmd) },
  { weight: 2, arbitrary: fc.array(fc.nat(7), { minLength: 1, maxLength: 3 }).map((pick) => ({ t: 'ack', pick }) as Cmd) },
  { weight: 2, arbitrary: fc.array(fc.nat(7), { minLength: 1, maxLength: 3 }).map((pick) => ({ t: 'release', pick }) as Cmd) },
  { weight: 1, arbitrary: fc.constant({ t: 'crash' } as Cmd) },
  { weight: 1, arbitrary: fc.constant({ t: 'flush' } as Cmd) },
);

interface ModelEntry {
  batchId: string;
  items: number;
}

class Model {
  pending: ModelEntry[] = [];
  inflight: ModelEntry[] = [];
  /** In flight when Redis lost its data: only this run's memory still has them. */
  lostCopies = new Set<string>();
  acked = new Set<string>();
  /** Redis lost data and the live queue object has not noticed yet. */
  lossUnnoticed = false;
  lossItems = 0;
  // Counters of the live queue object (reset by a crash: a new object starts at zero).
  queueFull = 0;
  dataLoss = 0;
  lossDetected = 0;

  /** The live object's next Redis call notices a loss. */
  notice(): void {
    if (!this.lossUnnoticed) return;
    this.lossUnnoticed = false;
    this.lossDetected++;
    this.dataLoss += this.lossItems;
    this.lossItems = 0;
  }

  inRedisInflight(): number {
    return this.inflight.filter((e) => !this.lostCopies.has(e.batchId)).length;
  }

  enqueue(entry: ModelEntry): void {
    this.notice();
    this.pending.push(entry);
    while (this.pending.length > 0 && this.pending.length + this.inRedisInflight() > MAX_ENTRIES) {
      this.queueFull += this.pending.shift()!.items;
    }
  }

  take(n: number): ModelEntry[] {
    this.notice();
    const taken = this.pending.splice(0, n);
    this.inflight.push(...taken);
    return taken;
  }

  ack(ids: string[]): void {
    this.notice();
    for (const id of ids) {
      this.inflight = this.inflight.filter((e) => e.batchId !== id);
      this.lostCopies.delete(id);
      this.acked.add(id);
    }
  }

  release(ids: string[]): void {
    this.notice();
    const back = ids.map((id) => this.inflight.find((e) => e.batchId === id)!);
    this.inflight = this.inflight.filter((e) => !ids.includes(e.batchId));
    for (const id of ids) this.lostCopies.delete(id);
    this.pending.unshift(...back);
  }

  crash(): void {
    const survivors = this.inflight.filter((e) => !this.lostCopies.has(e.batchId));
    this.pending = [...survivors, ...this.pending];
    this.inflight = [];
    this.lostCopies.clear();
    this.lossUnnoticed = false; // the new object never knew the old epoch
    this.lossItems = 0;
    this.queueFull = 0;
    this.dataLoss = 0;
    this.lossDetected = 0;
  }

  flush(): void {
    this.lossItems += this.pending.reduce((sum, e) => sum + e.items, 0);
    this.pending = [];
    for (const e of this.inflight) this.lostCopies.add(e.batchId);
    this.lossUnnoticed = true;
  }
}

let seq = 0;
function makeBatch(items: number): WireBatch {
  const n = ++seq;
  const keys = Array.from({ length: items }, (_, i) => `k-${n}-${i}`);
  return {
    kind: 'events',
    batchId: `b${n}`,
    items: keys.map((k) => JSON.stringify({ idempotency_key: k })),
    idempotencyKeys: keys,
    createdAt: Date.now(),
  };
}

describe('RedisFallbackQueue model-based property test (real redis-server)', function () {
  this.timeout(60000);
  let server: RedisServerHandle;
  let client: Redis;

  before(async () => {
    server = await startRedisServer();
    client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  after(async () => {
    client.disconnect();
    await server.stop();
  });

  it('agrees with a simple model after every step (100 seeded runs of up to 40 steps)', async () => {
    let run = 0;
    let stepsRun = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(cmdArb, { minLength: 1, maxLength: 40, size: 'max' }), async (cmds) => {
        run++;
        await client.flushall();
        const open = (): RedisFallbackQueue =>
          new RedisFallbackQueue({
            client,
            projectId: `model-${run}`,
            instanceId: 'w1',
            maxEntries: MAX_ENTRIES,
            // Long lease: no background heartbeat fires during a run, so only our calls touch Redis.
            leaseMs: 600_000,
            commandTimeoutMs: 2000,
          });
        let q = open();
        const model = new Model();
        const held = new Map<string, QueuedBatch>(); // batchId -> what the real queue handed out
        try {
          assert.equal(await q.ready(), true);
          for (const cmd of cmds) {
            stepsRun++;
            switch (cmd.t) {
              case 'enqueue': {
                const batch = makeBatch(cmd.items);
                model.enqueue({ batchId: batch.batchId, items: cmd.items });
                await q.enqueue(batch);
                break;
              }
              case 'take': {
                const expected = model.take(cmd.n).map((e) => e.batchId);
                const got = await q.take(cmd.n);
                for (const t of got) assert.ok(!model.acked.has(t.batch.batchId), `acked batch ${t.batch.batchId} came back`);
                assert.deepEqual(got.map((t) => t.batch.batchId), expected, 'take order');
                for (const t of got) held.set(t.batch.batchId, t);
                break;
              }
              case 'ack':
              case 'release': {
                if (model.inflight.length === 0) break; // nothing to pick: no call, no Redis round trip
                const ids = [...new Set(cmd.pick.map((i) => model.inflight[i % model.inflight.length].batchId))];
                const entryIds = ids.map((id) => held.get(id)!.id);
                if (cmd.t === 'ack') {
                  model.ack(ids);
                  await q.ack(entryIds);
                } else {
                  model.release(ids);
                  await q.release(entryIds);
                }
                for (const id of ids) held.delete(id);
                break;
              }
              case 'crash': {
                q.detach();
                model.crash();
                held.clear();
                q = open();
                assert.equal(await q.ready(), true);
                break;
              }
              case 'flush': {
                await client.flushall(); // what a restart without persistence leaves
                model.flush();
                break;
              }
            }
            const s = q.stats();
            assert.equal(s.dataLossDetected, model.lossDetected, `dataLossDetected after ${cmd.t}`);
            assert.equal(s.dropped.queue_full ?? 0, model.queueFull, `queue_full after ${cmd.t}`);
            assert.equal(s.dropped.redis_data_loss ?? 0, model.dataLoss, `redis_data_loss after ${cmd.t}`);
            assert.equal(s.redisAvailable, true);
            if (!model.lossUnnoticed) {
              assert.equal(s.depthBatches, model.pending.length + model.inRedisInflight(), `depth after ${cmd.t}`);
            }
          }
          // Crash once more: every unacked batch (not lost with Redis) must be deliverable, none acked.
          q.detach();
          model.crash();
          q = open();
          await q.ready();
          const all = await q.take(1000);
          assert.deepEqual(all.map((t) => t.batch.batchId), model.pending.map((e) => e.batchId), 'deliverable after crash');
          for (const t of all) assert.ok(!model.acked.has(t.batch.batchId));
        } finally {
          q.detach();
        }
      }),
      { numRuns: 100, seed: SEED },
    );
    assert.ok(stepsRun > 1000, `only ${stepsRun} steps ran`);
  });
});
