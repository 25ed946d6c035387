// QueueDrainer + HTTPTransport + the dev backend + a real fallback queue (memory, and Redis
// at 127.0.0.1:6379 under a project id of its own): a backend that refuses one kind with
// 2xx success:false (an events quota) must not hold back the queued batches of the other kind.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DEFAULT_CONFIG } from '../../src/config.js';
import { DevBackend } from '../../src/dev-backend/index.js';
import { encodeMetric } from '../../src/models/codec.js';
import { SecurityMetric } from '../../src/models/index.js';
import { QueueDrainer } from '../../src/queue/drainer.js';
import type { FallbackQueue } from '../../src/queue/fallback-queue.js';
import { MemoryFallbackQueue } from '../../src/queue/memory-fallback-queue.js';
import { RedisFallbackQueue } from '../../src/queue/redis-fallback-queue.js';
import { queueKeys } from '../../src/queue/redis-keys.js';
import { generateBatchId } from '../../src/transport/batch-builder.js';
import { HTTPTransport } from '../../src/transport/http-transport.js';
import type { WireBatch } from '../../src/transport/types.js';
import { until } from '../helpers/until.js';

const KEY = 'fg_test_key_0123456789';
const PROJECT = 'proj_DK';
const REDIS_URL = 'redis://127.0.0.1:6379';

let seq = 0;
function eventsBatch(n: number): WireBatch {
  const keys = Array.from({ length: n }, () => `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`);
  const items = keys.map((key, i) =>
    JSON.stringify({
      idempotency_key: key,
      timestamp: new Date(1_788_357_791_000 + seq * 10 + i).toISOString(),
      event_type: 'rate_limited',
      ip_address: '198.51.100.23',
      action_taken: 'request_blocked',
      reason: 'Rate limit exceeded',
      metadata: { seq, i },
    }),
  );
  return { kind: 'events', batchId: generateBatchId(), items, idempotencyKeys: keys, createdAt: Date.now() };
}

function metricsBatch(n: number): WireBatch {
  const items = Array.from({ length: n }, (_, i) => encodeMetric(new SecurityMetric({ metricType: 'request_count', value: i + 1 })));
  return { kind: 'metrics', batchId: generateBatchId(), items, idempotencyKeys: [], createdAt: Date.now() };
}

for (const store of ['memory', 'redis'] as const) {
  describe(`QueueDrainer with a backend refusing one kind (success:false), ${store} queue`, function () {
    this.timeout(20000);
    let backend: DevBackend;
    let home: string;
    let offset = 0;
    let transport: HTTPTransport;
    let queue: FallbackQueue;
    let drainer: QueueDrainer | undefined;
    let project = '';

    before(async () => {
      home = mkdtempSync(join(tmpdir(), 'drainer-kind-home-'));
      backend = new DevBackend({ apiKeys: [KEY], projectId: PROJECT });
      await backend.start();
    });
    after(async () => {
      await backend.stop();
      rmSync(home, { recursive: true, force: true });
    });
    beforeEach(async () => {
      backend.reset();
      offset = 0;
      transport = new HTTPTransport(
        { ...DEFAULT_CONFIG, apiKey: KEY, endpoint: backend.url, projectId: PROJECT, flushInterval: 10, retryAttempts: 0, timeout: 2 },
        { installIdHomeDir: home, now: () => Date.now() + offset },
      );
      if (store === 'memory') {
        queue = new MemoryFallbackQueue();
      } else {
        project = `drainer-kind-${randomUUID().slice(0, 8)}`;
        const q = new RedisFallbackQueue({ url: REDIS_URL, projectId: project, instanceId: 'drainer-kind-test' });
        assert.equal(await q.ready(), true, 'Redis at 127.0.0.1:6379 answers');
        queue = q;
      }
    });
    afterEach(async () => {
      await drainer?.stop();
      drainer = undefined;
      await queue.close();
      await transport.close();
      if (store === 'redis') {
        // Only this test's keys: the Redis is shared.
        const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, found] = await redis.scan(cursor, 'MATCH', `${queueKeys('guard_agent', project).base}:*`, 'COUNT', 1000);
          cursor = next;
          keys.push(...found);
        } while (cursor !== '0');
        if (keys.length > 0) await redis.del(...keys);
        redis.disconnect();
      }
    });

    it('delivers the queued metrics behind refused events, keeps the events in order, and delivers them once accepted', async () => {
      // An outage queued events first, then metrics; more events batches than one tick takes.
      const events = Array.from({ length: 7 }, () => eventsBatch(2));
      const metrics = Array.from({ length: 4 }, () => metricsBatch(3));
      for (const b of [...events, ...metrics]) await queue.enqueue(b);
      backend.faults.push({ kind: 'successFalse', times: Infinity, path: '/api/v1/events' });

      const d = new QueueDrainer({ transport, queue, intervalMs: 20, maxBatchesPerTick: 2 });
      drainer = d;
      d.start();
      const metricsBatchesDelivered = (): number => backend.batches.filter((b) => b.path === '/api/v1/metrics' && b.status === 200).length;
      await until(() => metricsBatchesDelivered() === metrics.length, 4000).catch(() => undefined);
      assert.equal(metricsBatchesDelivered(), metrics.length, `queued metrics batches delivered while events were refused (of ${metrics.length})`);
      assert.equal(backend.metrics.length, 12);
      assert.deepEqual(
        backend.batches.filter((b) => b.path === '/api/v1/metrics').map((b) => b.batchId),
        metrics.map((b) => b.batchId),
        'metrics oldest first',
      );

      // The events are kept, not lost nor acked, and the transport's events gate held them (one refused POST).
      await d.pause();
      assert.equal(backend.events.length, 0);
      assert.equal(backend.batches.filter((b) => b.path === '/api/v1/events').length, 1, 'one refused events POST, then the gate holds');
      assert.equal(queue.stats().depthBatches, events.length);
      assert.equal(queue.stats().depthItems, 14);
      assert.equal(d.getStats().acked, metrics.length);
      // A flush's drain ends (false: the queue is not empty) instead of retaking the refused events until its deadline.
      assert.equal(await d.drainNow(Date.now() + 10_000), false);
      assert.equal(backend.batches.filter((b) => b.path === '/api/v1/events').length, 1);
      assert.equal(queue.stats().depthBatches, events.length);

      // With nothing but refused events left, the drainer waits for the events gate (10 s of real
      // time) instead of taking and releasing them every tick.
      await d.tick(); // the tick that finds nothing past the refused events (if none did yet)
      const skipped = d.getStats().skippedTicks;
      assert.equal(await d.tick().then(() => d.getStats().skippedTicks), skipped + 1, 'a tick while the gate is closed is skipped');
      await d.stop();

      // The backend takes events again and the gate has passed (the transport's clock moved; a new
      // drainer, as this one would still wait the gate out in real time): every event arrives, oldest batch first.
      backend.faults.clear();
      offset += 10_001;
      const d2 = new QueueDrainer({ transport, queue, intervalMs: 20, maxBatchesPerTick: 2 });
      drainer = d2;
      d2.start();
      await until('the queue to empty', () => queue.stats().depthBatches === 0 && backend.events.length === 14);
      const eventPosts = backend.batches.filter((b) => b.path === '/api/v1/events').map((b) => b.batchId);
      assert.deepEqual(eventPosts, [events[0].batchId, ...events.map((b) => b.batchId)], 'the refused one, then every events batch oldest first, each once');
      assert.deepEqual(
        backend.events.map((e) => e.idempotency_key),
        events.flatMap((b) => b.idempotencyKeys),
      );
      assert.equal(d2.getStats().acked, events.length);
    });

    it('while only refused batches are queued, waits for their gate instead of taking and releasing them every tick', async () => {
      for (let i = 0; i < 3; i++) await queue.enqueue(eventsBatch(2));
      backend.faults.push({ kind: 'successFalse', times: Infinity, path: '/api/v1/events' });
      const d = new QueueDrainer({ transport, queue, intervalMs: 10, maxBatchesPerTick: 2 });
      drainer = d;
      d.start();
      await until('ten skipped ticks', () => d.getStats().skippedTicks >= 10);
      const st = d.getStats();
      assert.deepEqual({ replayed: st.replayed, released: st.released, acked: st.acked }, { replayed: 1, released: 3, acked: 0 }, 'one tick took them, later ticks did not');
      assert.equal(backend.batches.length, 1, 'one refused POST');
      assert.equal(queue.stats().depthBatches, 3);
    });

    it('still stops the whole tick when the backend is down, and keeps the queue oldest first', async () => {
      const queued = [eventsBatch(1), metricsBatch(1), metricsBatch(1)];
      for (const b of queued) await queue.enqueue(b);
      backend.faults.push({ kind: 'down' });
      const d = new QueueDrainer({ transport, queue, maxBatchesPerTick: 3 });
      drainer = d;
      await d.tick();
      assert.equal(backend.batches.length, 1, 'only the first batch was tried');
      assert.deepEqual(
        { replayed: d.getStats().replayed, acked: d.getStats().acked, released: d.getStats().released },
        { replayed: 1, acked: 0, released: 3 },
      );
      assert.equal(queue.stats().depthBatches, 3);
      backend.faults.clear();
      assert.equal(await d.drainNow(Date.now() + 10_000), true);
      assert.equal(backend.events.length, 1);
      assert.equal(backend.metrics.length, 2);
      assert.deepEqual(
        backend.batches.slice(1).map((b) => b.batchId),
        queued.map((b) => b.batchId),
        'the batch that failed is replayed first, then the ones released with it',
      );
    });
  });
}
