/**
 * durability: 'emit' across a SIGKILL with real agent processes (the chaos
 * agent), a real redis-server on a free port and the real dev backend: what
 * the journal holds after the crash reaches the backend even when Redis is
 * not reachable yet when the agent restarts (the app started before Redis).
 */
import assert from 'node:assert/strict';
import { freePort, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { readKeys, sleep, startAgent, startBackend, tally, waitDelivered } from '../chaos/harness.js';
import type { DevBackend } from '../../src/dev-backend/index.js';

describe("durability: 'emit' after a SIGKILL (real processes, real Redis)", function () {
  this.timeout(60_000);
  let redis: RedisServerHandle;
  let backend: DevBackend;

  beforeEach(async () => {
    // Persisted on every write: a Redis restart keeps the journal.
    redis = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    backend = await startBackend();
  });
  afterEach(async () => {
    await backend.stop();
    await redis.stop();
  });

  it('a restart that finds Redis down replays its journal once Redis answers', async () => {
    const env = {
      GUARD_AGENT_REDIS_URL: redis.url,
      GUARD_AGENT_INSTANCE_ID: 'crash-redis-late',
      GUARD_AGENT_DURABILITY: 'emit',
      // The SDK holds every event until the crash: only the journal has them.
      GUARD_AGENT_FLUSH_INTERVAL: '60',
      CHAOS_RATE: '100',
      CHAOS_DURATION_MS: '500',
    };
    const first = await startAgent({ backend, label: 'crash-redis-late', env });
    await sleep(1000);
    first.kill('SIGKILL');
    await first.exited;
    const keys = readKeys(first.keysFile);
    assert.ok(keys.length >= 30, `emitted ${keys.length}`);
    assert.equal(backend.events.length, 0, 'nothing exported before the crash');

    await redis.kill9();
    const second = await startAgent({ backend, label: 'crash-redis-late', dir: first.dir, env: { ...env, CHAOS_RATE: '0' } });
    try {
      await sleep(3000); // the agent's first connection attempt gives up
      await redis.restart();
      await waitDelivered(backend, () => keys, 10_000);
      const t = tally(backend, keys);
      assert.equal(t.lost, 0, `lost ${t.lost} of ${t.emitted} journaled events\n${second.stderr()}`);
    } finally {
      second.kill('SIGKILL');
      await second.exited;
    }
  });

  it('a SIGKILL just after Redis stalled (the queue fell back to memory for a moment) loses nothing journaled', async () => {
    const env = {
      GUARD_AGENT_REDIS_URL: redis.url,
      GUARD_AGENT_INSTANCE_ID: 'crash-after-stall',
      GUARD_AGENT_DURABILITY: 'emit',
      GUARD_AGENT_FLUSH_INTERVAL: '0.1',
      CHAOS_RATE: '200',
    };
    // The backend is down: every export goes to the fallback queue.
    const first = await startAgent({ backend, label: 'crash-after-stall', env: { ...env, GUARD_AGENT_ENDPOINT: `http://127.0.0.1:${await freePort()}` } });
    await sleep(1500);
    // Writes stall past the queue's command timeout (500 ms): it queues in memory until its next probe (1 s).
    await redis.command('CLIENT', 'PAUSE', '700', 'WRITE');
    await sleep(1200);
    first.kill('SIGKILL');
    await first.exited;
    const keys = readKeys(first.keysFile);
    assert.match(first.stderr(), /queueing in memory/, 'the stall sent the queue to its memory fallback');
    const second = await startAgent({ backend, label: 'crash-after-stall', dir: first.dir, env: { ...env, CHAOS_RATE: '0' } });
    try {
      await waitDelivered(backend, () => keys, 10_000);
      const t = tally(backend, keys);
      assert.equal(t.lost, 0, `lost ${t.lost} of ${t.emitted}\n${first.stderr()}\n${second.stderr()}`);
    } finally {
      second.kill('SIGKILL');
      await second.exited;
    }
  });

  it('replays journaled events larger than the default batch size when the body cap allows them', async () => {
    const env = {
      GUARD_AGENT_REDIS_URL: redis.url,
      GUARD_AGENT_INSTANCE_ID: 'crash-large-events',
      GUARD_AGENT_DURABILITY: 'emit',
      GUARD_AGENT_FLUSH_INTERVAL: '60',
      // Valid together: an event up to 300,000 bytes, bodies up to 1 MiB.
      GUARD_AGENT_MAX_BODY_BYTES: '1048576',
      GUARD_AGENT_MAX_EVENT_BYTES: '300000',
      CHAOS_PAD_BYTES: '250000',
      CHAOS_RATE: '10',
      CHAOS_DURATION_MS: '500',
    };
    const first = await startAgent({ backend, label: 'crash-large-events', env });
    await sleep(1000);
    first.kill('SIGKILL');
    await first.exited;
    const keys = readKeys(first.keysFile);
    assert.ok(keys.length >= 3, `emitted ${keys.length}`);
    const second = await startAgent({ backend, label: 'crash-large-events', dir: first.dir, env: { ...env, CHAOS_RATE: '0' } });
    try {
      await waitDelivered(backend, () => keys, 8000);
      const t = tally(backend, keys);
      assert.equal(t.lost, 0, `lost ${t.lost} of ${t.emitted}\n${second.stderr()}`);
    } finally {
      second.kill('SIGKILL');
      await second.exited;
    }
  });
});
