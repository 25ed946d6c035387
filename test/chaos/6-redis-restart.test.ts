/**
 * Chaos 6: Redis restarts without persistence while it holds the queue (the
 * backend is down). The agent says so clearly (a diag error naming the lost
 * queue and the fix), counts the loss (redis_data_loss), and carries on:
 * everything emitted after the restart is delivered, and
 * emitted = delivered + counted drops.
 */
import assert from 'node:assert/strict';
import { countedDrops, readKeys, readStats, record, sleep, startAgent, tally, useRedisAndBackend } from './harness.js';

describe('chaos 6: Redis restarted without persistence', function () {
  this.timeout(60_000);
  const suite = useRedisAndBackend();

  it('reports the loss clearly and carries on', async () => {
    const { redis, backend } = suite;
    const agent = await startAgent({
      backend,
      label: 'redis-restart',
      env: { GUARD_AGENT_REDIS_URL: redis.url, GUARD_AGENT_INSTANCE_ID: 'chaos-6', CHAOS_RATE: '200', CHAOS_SIGNAL_HOOKS: '1' },
    });
    await sleep(1000);
    backend.faults.push({ kind: 'down' });
    await sleep(3000);
    await redis.restart();
    const restartedAt = readKeys(agent.keysFile).length;
    await sleep(3000);
    backend.faults.clear();
    await sleep(4000);
    agent.kill('SIGTERM');
    const exit = await agent.exited;
    const keys = readKeys(agent.keysFile);
    const after = tally(backend, keys.slice(restartedAt + 400)); // emitted well after the restart (the SDK window had been exported)
    const t = tally(backend, keys);
    const drops = countedDrops(readStats(agent.statsFile));
    const diagnostic = /Redis lost the fallback queue/.test(agent.stderr());
    const pass = diagnostic && exit.code === 143 && after.lost === 0 && t.delivered + drops.total === t.emitted;
    record({
      scenario: '6 Redis restarted without persistence',
      emitted: t.emitted,
      delivered: t.delivered,
      duplicates: t.duplicates,
      lost: t.lost,
      pass,
      countedDrops: drops.byReason,
      notes: `lost = counted ${JSON.stringify(drops.byReason)}, reported by a diag error; all ${after.emitted} events emitted after the restart delivered`,
    });
    assert.ok(diagnostic, agent.stderr());
    assert.equal(exit.code, 143);
    assert.equal(after.lost, 0);
    assert.ok((drops.byReason.redis_data_loss ?? 0) > 0, JSON.stringify(drops.byReason));
    assert.equal(t.delivered + drops.total, t.emitted, JSON.stringify({ t: { ...t, lostKeys: undefined }, drops }));
  });
});
