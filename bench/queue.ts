/**
 * Fallback-queue data models, measured against the shared Redis
 * (127.0.0.1:6379, or REDIS_URL) on a throw-away key prefix that is removed
 * at the end (SCAN + DEL, never KEYS).
 *
 *   node --import tsx bench/queue.ts
 *
 * For ~2 KB and ~20 KB batches (one entry per batch), it times:
 *  - streams:  XADD MAXLEN ~ (pipelined) / XREADGROUP COUNT + XACK + XDEL
 *  - lists:    HSET data + RPUSH pending (pipelined) / Lua LMOVE pending->inflight + HGET, then LREM + HDEL
 *  - queue:    RedisFallbackQueue itself (reliable lists in Lua, with bounds, epoch check, byte accounting)
 * and prints batches/s and MB/s, each as a ratio to the streams baseline of the same run.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisFallbackQueue } from '../src/queue/redis-fallback-queue.js';
import type { WireBatch } from '../src/transport/types.js';
import { type BenchResult, type Figure, figure } from './lib/figures.js';
import { isMain } from './lib/main-guard.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `bench_queue_${process.pid}_${randomBytes(3).toString('hex')}`;
const CHUNK = 64;

function batch(bytes: number, n: number): WireBatch {
  const itemBytes = 500;
  const count = Math.max(1, Math.round(bytes / itemBytes));
  const keys = Array.from({ length: count }, (_, i) => `${n}-${i}-${randomBytes(6).toString('hex')}`);
  return {
    kind: 'events',
    batchId: `${Date.now()}-${n.toString(16).padStart(8, '0')}`,
    items: keys.map((k) => JSON.stringify({ idempotency_key: k, event_type: 'ip_banned', pad: 'x'.repeat(itemBytes - 80) })),
    idempotencyKeys: keys,
    createdAt: Date.now(),
  };
}

interface Result {
  enqueuePerSec: number;
  drainPerSec: number;
}

async function timeIt(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function streams(redis: Redis, jsons: string[], tag: string): Promise<Result> {
  const key = `${prefix}:{bench}:stream:${tag}`;
  await redis.xgroup('CREATE', key, 'g', '0', 'MKSTREAM');
  const enq = await timeIt(async () => {
    for (let i = 0; i < jsons.length; i += CHUNK) {
      const p = redis.pipeline();
      for (const json of jsons.slice(i, i + CHUNK)) p.xadd(key, 'MAXLEN', '~', 100000, '*', 'b', json);
      await p.exec();
    }
  });
  let got = 0;
  const drain = await timeIt(async () => {
    for (;;) {
      const reply = (await redis.xreadgroup('GROUP', 'g', 'c1', 'COUNT', CHUNK, 'STREAMS', key, '>')) as [string, [string, string[]][]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) break;
      got += entries.length;
      const ids = entries.map((e) => e[0]);
      await redis.pipeline().xack(key, 'g', ...ids).xdel(key, ...ids).exec();
    }
  });
  if (got !== jsons.length) throw new Error(`streams drained ${got}/${jsons.length}`);
  return { enqueuePerSec: jsons.length / enq, drainPerSec: jsons.length / drain };
}

const TAKE_LUA = `
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
  if not id then break end
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[3], id)
end
return out`;
const ACK_LUA = `
for i = 1, #ARGV do
  redis.call('LREM', KEYS[1], -1, ARGV[i])
  redis.call('HDEL', KEYS[2], ARGV[i])
end
return #ARGV`;

async function lists(redis: Redis, jsons: string[], tag: string): Promise<Result> {
  const base = `${prefix}:{bench}:${tag}`;
  const [pend, infl, data] = [`${base}:pending`, `${base}:inflight`, `${base}:data`];
  const enq = await timeIt(async () => {
    for (let i = 0; i < jsons.length; i += CHUNK) {
      const p = redis.pipeline();
      jsons.slice(i, i + CHUNK).forEach((json, j) => {
        const id = `${i + j}`;
        p.hset(data, id, json).rpush(pend, id);
      });
      await p.exec();
    }
  });
  let got = 0;
  const drain = await timeIt(async () => {
    for (;;) {
      const reply = (await redis.eval(TAKE_LUA, 3, pend, infl, data, CHUNK)) as string[];
      if (reply.length === 0) break;
      const ids = reply.filter((_, i) => i % 2 === 0);
      got += ids.length;
      await redis.eval(ACK_LUA, 2, infl, data, ...ids);
    }
  });
  if (got !== jsons.length) throw new Error(`lists drained ${got}/${jsons.length}`);
  return { enqueuePerSec: jsons.length / enq, drainPerSec: jsons.length / drain };
}

async function queue(batches: WireBatch[], tag: string): Promise<Result> {
  const q = new RedisFallbackQueue({ url, projectId: `bench-${tag}`, prefix, instanceId: 'bench', maxEntries: 1e6, commandTimeoutMs: 5000 });
  if (!(await q.ready())) throw new Error('queue could not reach Redis');
  const enq = await timeIt(async () => {
    for (let i = 0; i < batches.length; i += CHUNK) await Promise.all(batches.slice(i, i + CHUNK).map((b) => q.enqueue(b)));
  });
  if (!q.stats().redisAvailable || q.stats().depthBatches !== batches.length) throw new Error('queue did not keep everything in Redis');
  let got = 0;
  const drain = await timeIt(async () => {
    for (;;) {
      const taken = await q.take(CHUNK);
      if (taken.length === 0) break;
      got += taken.length;
      await q.ack(taken.map((t) => t.id));
    }
  });
  await q.close();
  if (got !== batches.length) throw new Error(`queue drained ${got}/${batches.length}`);
  return { enqueuePerSec: batches.length / enq, drainPerSec: batches.length / drain };
}

async function cleanup(redis: Redis): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** Runs the bench against REDIS_URL (default the shared 127.0.0.1:6379) and returns its figures; also prints them. */
export async function main(): Promise<BenchResult> {
  const figures: Figure[] = [];
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    for (const [label, bytes, count] of [
      ['~2 KB', 2048, 4000],
      ['~20 KB', 20480, 1000],
    ] as const) {
      const batches = Array.from({ length: count }, (_, i) => batch(bytes, i));
      const jsons = batches.map((b) => JSON.stringify(b));
      const mb = jsons.reduce((s, j) => s + j.length, 0) / count / 1e6;
      // Warm-up round (JIT, connection), then the measured one.
      await streams(redis, jsons.slice(0, 200), `warm-s-${bytes}`);
      await lists(redis, jsons.slice(0, 200), `warm-l-${bytes}`);
      const s = await streams(redis, jsons, `s-${bytes}`);
      const l = await lists(redis, jsons, `l-${bytes}`);
      const q = await queue(batches, `q-${bytes}`);
      console.log(`\n${label} batches (${count}, avg ${(mb * 1e6 / 1024).toFixed(1)} KiB JSON), chunk ${CHUNK}`);
      console.log('model        enqueue/s   ratio   take+ack/s  ratio   enqueue MB/s');
      for (const [name, r] of [['streams', s], ['lists', l], ['queue(lists)', q]] as const) {
        console.log(
          `${name.padEnd(12)} ${r.enqueuePerSec.toFixed(0).padStart(9)}   ${(r.enqueuePerSec / s.enqueuePerSec).toFixed(2).padStart(5)}   ${r.drainPerSec.toFixed(0).padStart(10)}  ${(r.drainPerSec / s.drainPerSec).toFixed(2).padStart(5)}   ${(r.enqueuePerSec * mb).toFixed(1).padStart(8)}`,
        );
      }
      const tag = bytes >= 20_000 ? '20k' : '2k';
      figures.push(
        figure(`queue.${tag}.enqueue_per_s`, `queue ${label}: RedisFallbackQueue enqueue`, q.enqueuePerSec, 'batches/s'),
        figure(`queue.${tag}.drain_per_s`, `queue ${label}: RedisFallbackQueue take+ack`, q.drainPerSec, 'batches/s'),
        figure(`queue.${tag}.enqueue_vs_streams`, `queue ${label}: enqueue / streams baseline`, q.enqueuePerSec / s.enqueuePerSec, 'x'),
        figure(`queue.${tag}.drain_vs_streams`, `queue ${label}: take+ack / streams baseline`, q.drainPerSec / s.drainPerSec, 'x'),
      );
    }
  } finally {
    const deleted = await cleanup(redis);
    console.log(`\ncleaned up ${deleted} keys under ${prefix}:*`);
    await redis.quit();
  }
  return { name: 'queue', figures };
}

if (isMain(import.meta.url)) await main();
