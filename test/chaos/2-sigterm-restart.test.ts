/**
 * Chaos 2: SIGTERM while exports are in flight to a slow backend, then a
 * restart of the same instance. The signal hooks flush within the stop
 * deadline; what cannot be delivered goes to Redis; the restarted process
 * (same instanceId) replays it at once: lost 0.
 */
import assert from 'node:assert/strict';
import { readKeys, readStats, record, sleep, startAgent, tally, waitDelivered, useRedisAndBackend } from './harness.js';

describe('chaos 2: SIGTERM mid-flight, then restart', function () {
  this.timeout(60_000);
  const suite = useRedisAndBackend();

  it('loses nothing across the SIGTERM and the restart', async () => {
    const { redis, backend } = suite;
    const env = { GUARD_AGENT_REDIS_URL: redis.url, GUARD_AGENT_INSTANCE_ID: 'chaos-2', CHAOS_RATE: '200', CHAOS_SIGNAL_HOOKS: '1', CHAOS_STOP_TIMEOUT_MS: '2500' };
    const first = await startAgent({ backend, label: 'sigterm', env });
    await sleep(2000);
    // Slow answers (longer than the stop deadline), then the backend goes down: exports are in flight at the signal.
    backend.faults.push({ kind: 'delay', ms: 4000, times: 20 });
    await sleep(1500);
    first.kill('SIGTERM');
    const exit1 = await first.exited;
    const stats1 = readStats(first.statsFile);
    const queuedAtStop = (stats1.stats as unknown as { queue: { depthItems: number } }).queue.depthItems;
    backend.faults.clear();

    const second = await startAgent({ backend, label: 'sigterm', dir: first.dir, env: { ...env, CHAOS_DURATION_MS: '1500', CHAOS_EXIT_AFTER_MS: '4000' } });
    const exit2 = await second.exited;
    const keys = readKeys(first.keysFile);
    await waitDelivered(backend, () => keys, 3000);
    const t = tally(backend, keys);
    const pass = t.lost === 0 && exit1.code === 143 && exit2.code === 0;
    record({ scenario: '2 SIGTERM mid-flight, restart', emitted: t.emitted, delivered: t.delivered, duplicates: t.duplicates, lost: t.lost, pass, notes: `${queuedAtStop} items left in Redis at SIGTERM, replayed by the restart` });
    assert.equal(exit1.code, 143, first.stderr());
    assert.equal(exit2.code, 0, second.stderr());
    assert.equal(t.lost, 0, `lost e.g. ${t.lostKeys.slice(0, 3).join(', ')}\n${first.stderr()}\n${second.stderr()}`);
  });
});
