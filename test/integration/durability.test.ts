/**
 * durability: 'emit' against a real Redis (the shared one, a fresh project
 * per test) and the real dev backend: events are journaled when emitted,
 * removed once delivered, replayed by a restart of the same instance after
 * a crash, and taken over from a dead sibling (never from a live one).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { DevBackend, DEFAULT_DEV_API_KEY } from '../../src/dev-backend/index.js';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { RedisFallbackQueue } from '../../src/queue/redis-fallback-queue.js';
import { until } from '../helpers/until.js';

const REDIS_URL = 'redis://127.0.0.1:6379';


function event(key: string) {
  return { idempotencyKey: key, eventType: 'ip_banned', ipAddress: '203.0.113.9', actionTaken: 'block', reason: 'durability test' };
}

/** Simulates a SIGKILL in-process: timers and connections stop, nothing is flushed or written. */
function crash(h: GuardAgentHandler): void {
  h.pipeline.journal?.detach();
  (h.pipeline.queue.current as RedisFallbackQueue).detach();
  h.pipeline.drainer.stop().catch(() => undefined);
}

describe("durability: 'emit' (real Redis, real dev backend)", function () {
  this.timeout(20_000);
  let backend: DevBackend;
  let redis: Redis;
  let project: string;
  const handlers: GuardAgentHandler[] = [];

  function make(instanceId: string, extra: Record<string, unknown> = {}): GuardAgentHandler {
    const h = new GuardAgentHandler(
      { apiKey: DEFAULT_DEV_API_KEY, endpoint: backend.url, projectId: project, flushInterval: 60, retryAttempts: 0, redisUrl: REDIS_URL, durability: 'emit', instanceId, queue: { leaseMs: 600, drainIntervalMs: 50 }, ...extra },
      { env: {} },
    );
    handlers.push(h);
    return h;
  }

  before(async () => {
    redis = new Redis(REDIS_URL);
  });
  beforeEach(async () => {
    project = `dur-${randomUUID().slice(0, 8)}`;
    backend = new DevBackend();
    await backend.start();
  });
  afterEach(async () => {
    await Promise.all(handlers.splice(0).map((h) => h.stop(2000)));
    await backend.stop();
  });
  after(async () => {
    redis.disconnect();
  });

  it('journals an event when emitted (sendEvent resolves after Redis acked) and removes it once delivered', async () => {
    const h = make('solo');
    await h.start();
    const key = randomUUID();
    await h.sendEvent(event(key));
    const journalKey = h.pipeline.journal!.key;
    assert.ok(journalKey.includes(`{${project}}`), 'hash-tagged by project');
    assert.equal(await redis.hexists(journalKey, key), 1);
    await h.flushBuffer(5000);
    assert.deepEqual(backend.events.map((e) => e.idempotency_key), [key]);
    await until(async () => (await redis.hlen(journalKey)) === 0, 8000);
    assert.equal(h.pipeline.journal!.stats().written, 1);
  });

  it('events the full SDK queue refused are queued, delivered, and leave no journal entry behind', async () => {
    const h = make('burst', { maxQueueSize: 20, maxExportBatchSize: 20 });
    await h.start();
    const keys = Array.from({ length: 200 }, () => randomUUID());
    await Promise.all(keys.map((k) => h.sendEvent(event(k))));
    await h.flushBuffer(8000);
    await until(() => backend.events.length === 200, 8000);
    assert.deepEqual(new Set(backend.events.map((e) => e.idempotency_key)), new Set(keys));
    const st = h.getStats();
    assert.ok(st.sdkQueueRescued >= 100, `a 20-record queue refused most of the 200 (rescued ${st.sdkQueueRescued})`);
    assert.equal(st.eventsSent + st.replayedItemsSent, 200, 'exported directly or replayed from the queue, each once');
    assert.equal(st.dropped.sdkQueue, 0);
    const journalKey = h.pipeline.journal!.key;
    await until(async () => (await redis.hlen(journalKey)) === 0, 8000);
    assert.equal(h.pipeline.journal!.stats().live, 0, 'no entry waits for a restart');
  });

  it('a restart of the same instance replays what a crash left in the journal', async () => {
    const first = make('worker-1');
    await first.start();
    const keys = Array.from({ length: 25 }, () => randomUUID());
    await Promise.all(keys.map((k) => first.sendEvent(event(k))));
    crash(first); // the SDK batch processor still held all 25 (flushInterval 60 s)
    assert.equal(backend.events.length, 0);
    const second = make('worker-1');
    await second.start();
    await until(() => backend.events.length === 25, 8000);
    assert.deepEqual(new Set(backend.events.map((e) => e.idempotency_key)), new Set(keys));
    assert.equal(second.pipeline.journal!.stats().replayed, 25);
  });

  it("takes over a dead sibling's journal after its lease, never a live sibling's", async () => {
    const live = make('live');
    const dead = make('dead');
    await Promise.all([live.start(), dead.start()]);
    const liveKeys = Array.from({ length: 5 }, () => randomUUID());
    const deadKeys = Array.from({ length: 7 }, () => randomUUID());
    await Promise.all([...liveKeys.map((k) => live.sendEvent(event(k))), ...deadKeys.map((k) => dead.sendEvent(event(k)))]);
    crash(dead);
    const survivor = make('survivor');
    await survivor.start();
    await until(() => backend.events.length >= 7, 8000);
    await new Promise((r) => setTimeout(r, 700)); // more claim ticks: the live sibling's entries must stay put
    assert.deepEqual(new Set(backend.events.map((e) => e.idempotency_key)), new Set(deadKeys));
    assert.equal(await redis.hlen(live.pipeline.journal!.key), 5);
  });
});
