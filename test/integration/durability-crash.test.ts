/**
 * durability: 'emit' across a SIGKILL with real agent processes (the chaos
 * agent), a real redis-server on a free port and the real dev backend: what
 * the journal holds after the crash reaches the backend even when Redis is
 * not reachable yet when the agent restarts (the app started before Redis).
 */
import assert from 'node:assert/strict';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
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
});
