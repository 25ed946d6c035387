/**
 * Chaos 4: Redis is killed during a backend outage. The agent does not crash,
 * its memory stays bounded (the in-memory fallback queue drops its oldest
 * batches, counted), and at the end every emitted event is either at the
 * backend or counted as dropped with a reason: emitted = delivered + drops.
 * Redis comes back empty before the end, so what it held is counted too
 * (redis_data_loss).
 */
import assert from 'node:assert/strict';
import { countedDrops, readKeys, readStats, record, sleep, startAgent, tally, useRedisAndBackend } from './harness.js';

const MEMORY_MAX_BYTES = 2 * 1024 * 1024;
/** Allowed RSS growth over the baseline: the memory queue bound, the SDK's record queue (16384 records) and GC slack. */
const RSS_HEADROOM = 96 * 1024 * 1024;

describe('chaos 4: Redis killed during a backend outage', function () {
  this.timeout(60_000);
  const suite = useRedisAndBackend();

  it('no crash, bounded memory, emitted = delivered + counted drops', async () => {
    const { redis, backend } = suite;
    const agent = await startAgent({
      backend,
      label: 'redis-killed',
      env: {
        GUARD_AGENT_REDIS_URL: redis.url,
        GUARD_AGENT_INSTANCE_ID: 'chaos-4',
        GUARD_AGENT_QUEUE_MEMORY_MAX_BATCHES: '20',
        GUARD_AGENT_QUEUE_MEMORY_MAX_BYTES: String(MEMORY_MAX_BYTES),
        CHAOS_RATE: '400',
        CHAOS_PAD_BYTES: '400',
        CHAOS_SIGNAL_HOOKS: '1',
      },
    });
    await sleep(1500);
    backend.faults.push({ kind: 'down' });
    await sleep(2000);
    await redis.kill9();
    const baseline = agent.rss();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, agent.rss())), 200);
    await sleep(10_000);
    clearInterval(sampler);
    await redis.restart();
    await sleep(1000);
    backend.faults.clear();
    await sleep(4000);
    agent.kill('SIGTERM');
    const exit = await agent.exited;
    const stats = readStats(agent.statsFile);
    const drops = countedDrops(stats);
    const t = tally(backend, readKeys(agent.keysFile));
    const accounted = t.delivered + drops.total;
    const rssGrowth = peak - baseline;
    const pass = exit.code === 143 && accounted === t.emitted && rssGrowth < RSS_HEADROOM;
    record({
      scenario: '4 Redis killed during backend outage',
      emitted: t.emitted,
      delivered: t.delivered,
      duplicates: t.duplicates,
      lost: t.lost,
      pass,
      countedDrops: drops.byReason,
      rssBaselineMb: Math.round(baseline / 1048576),
      rssPeakMb: Math.round(peak / 1048576),
      notes: `lost = counted drops ${JSON.stringify(drops.byReason)}; RSS ${Math.round(baseline / 1048576)} -> peak ${Math.round(peak / 1048576)} MB (memory queue bound ${MEMORY_MAX_BYTES / 1048576} MB)`,
    });
    assert.equal(exit.code, 143, agent.stderr());
    assert.ok(rssGrowth < RSS_HEADROOM, `RSS grew ${rssGrowth} bytes`);
    assert.ok((drops.byReason.queue_full ?? 0) > 0, 'the memory bound was reached and counted');
    assert.equal(accounted, t.emitted, `emitted ${t.emitted} != delivered ${t.delivered} + drops ${drops.total} ${JSON.stringify(drops.byReason)}`);
  });
});
