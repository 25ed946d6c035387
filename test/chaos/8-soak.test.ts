/**
 * Chaos 8: a soak. One real agent process emits 10,000 security events/s
 * (and 100 metric samples/s) for CHAOS_SOAK_MS (default 60 s; the 10-minute
 * soak is `npm run soak`), with one 10 s backend outage at 30% of the run
 * and a 5 s slow period (every answer 1 s late) at 60%, so the fallback queue
 * (a real redis-server) and the drainer work under load. Then SIGTERM (the
 * signal hooks flush).
 *
 * Asserted: the rate was reached (at least 90% of 10,000/s), every emitted
 * key is at the backend or counted as dropped with a reason (expected: none
 * dropped, lost 0), every metric sample reached the backend, and the agent's
 * memory is bounded: its RSS, sampled every second, stays under
 * RSS_CEILING_MB and the last quarter's median is not far above the second
 * quarter's. Duplicates and the event-loop delay are recorded, not asserted
 * (the README allows duplicates; timings belong to the benches).
 *
 * The dev backend keeps only the keys (`keepEvents: false`): 6 M event objects
 * would fill the test process's heap.
 */
import assert from 'node:assert/strict';
import { countedDrops, readStats, record, sleep, startAgent, tallyFile, useRedisAndBackend } from './harness.js';

const SOAK_MS = Number(process.env.CHAOS_SOAK_MS ?? 60_000);
const RATE = 10_000;
const METRICS_RATE = 100;
const OUTAGE_MS = 10_000;
const SLOW_MS = 5_000;
const SLOW_DELAY_MS = 1_000;
/**
 * Peak RSS allowed. Measured (Node 20.20, 2 shared cores): 198 and 211 MB in
 * two 60 s runs, 195 MB over 10 minutes (a sawtooth between 130 and 195 MB as
 * V8's heap grows and is collected); the ceiling is 1.5x the largest, rounded.
 */
const RSS_CEILING_MB = 320;
/**
 * The last quarter's median RSS may be at most this much above the second
 * quarter's (growth without bound fails it). Generous: the sawtooth alone
 * spans 1.5x, and a 60 s run's quarters can fall on its low and high ends
 * (138 then 178 MB in one run; 173 then 145 MB over 10 minutes).
 */
const RSS_GROWTH_FACTOR = 1.75;

const mb = (bytes: number) => Math.round(bytes / 1048576);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length / 2)];
}

describe('chaos 8: soak at 10,000 events/s with an outage and a slow period', function () {
  this.timeout(SOAK_MS + 180_000);
  const suite = useRedisAndBackend({ keepEvents: false });

  it('loses nothing, reaches the rate, and keeps the agent memory bounded', async () => {
    assert.ok(SOAK_MS >= 30_000, 'CHAOS_SOAK_MS must be at least 30000 (the outage and the slow period must not overlap)');
    const { redis, backend } = suite;
    const agent = await startAgent({
      backend,
      label: 'soak',
      env: {
        GUARD_AGENT_REDIS_URL: redis.url,
        GUARD_AGENT_INSTANCE_ID: 'chaos-8',
        GUARD_AGENT_ENABLE_METRICS: 'true',
        CHAOS_RATE: String(RATE),
        CHAOS_CATCH_UP: '1',
        CHAOS_METRICS_RATE: String(METRICS_RATE),
        CHAOS_SIGNAL_HOOKS: '1',
        CHAOS_STOP_TIMEOUT_MS: '30000',
      },
    });
    const started = Date.now();
    const rss: number[] = [];
    const sampler = setInterval(() => rss.push(agent.rss()), 1000);
    const at = (ms: number) => sleep(Math.max(0, started + ms - Date.now()));

    try {
      await at(SOAK_MS * 0.3);
      backend.faults.push({ kind: 'down' });
      await at(SOAK_MS * 0.3 + OUTAGE_MS);
      backend.faults.clear();
      await at(SOAK_MS * 0.6);
      backend.faults.push({ kind: 'delay', ms: SLOW_DELAY_MS, times: Infinity });
      await at(SOAK_MS * 0.6 + SLOW_MS);
      backend.faults.clear();
      await at(SOAK_MS);
    } finally {
      clearInterval(sampler);
    }
    const elapsedMs = Date.now() - started;
    agent.kill('SIGTERM');
    const exit = await agent.exited;
    // The agent exits only after its flush; let the backend finish the requests it answered last.
    for (let last = -1; backend.eventCount !== last; ) {
      last = backend.eventCount;
      await sleep(500);
    }

    const stats = readStats(agent.statsFile);
    const chaos = stats.chaos!;
    const drops = countedDrops(stats);
    const t = tallyFile(backend, agent.keysFile);
    const metricsAtBackend = backend.metrics.filter((m) => m.metric_type === 'request_count').reduce((sum, m) => sum + Number(m.value), 0);
    const metricDrops = Object.values(stats.stats.dropped.metrics ?? {}).reduce((a, b) => a + b, 0);
    const queueLeft = stats.stats.queue.depthItems;
    const quarter = Math.floor(rss.length / 4);
    const q2 = median(rss.slice(quarter, 2 * quarter));
    const q4 = median(rss.slice(3 * quarter));
    const peak = Math.max(...rss);
    const minEmitted = Math.floor(RATE * (SOAK_MS / 1000) * 0.9);
    const accounted = t.delivered + drops.total;
    const pass =
      exit.code === 143 &&
      t.emitted >= minEmitted &&
      accounted === t.emitted &&
      t.lost === 0 &&
      metricsAtBackend + metricDrops >= chaos.metricSamples &&
      peak < RSS_CEILING_MB * 1048576 &&
      q4 <= q2 * RSS_GROWTH_FACTOR;
    record({
      scenario: `8 soak ${Math.round(SOAK_MS / 1000)} s at 10k events/s`,
      emitted: t.emitted,
      delivered: t.delivered,
      duplicates: t.duplicates,
      lost: t.lost,
      pass,
      durationMs: elapsedMs,
      eventsPerSecond: Math.round(t.emitted / (elapsedMs / 1000)),
      countedDrops: drops.byReason,
      metricSamples: chaos.metricSamples,
      metricsAtBackend,
      metricDrops,
      queueLeftAtStop: queueLeft,
      fallbackQueue: { batchesQueued: stats.stats.queue.enqueued, itemsReplayed: stats.stats.replayedItemsSent, sdkQueueRescued: stats.stats.sdkQueueRescued },
      rssPeakMb: mb(peak),
      rssQ2MedianMb: mb(q2),
      rssLastQuarterMedianMb: mb(q4),
      rssCeilingMb: RSS_CEILING_MB,
      eventLoopDelayMs: chaos.eventLoopDelayMs,
      backendRejected: backend.stats.rejected.byStatus,
      testProcessRssMb: mb(process.memoryUsage().rss),
      rssMbEvery5s: rss.filter((_, i) => i % 5 === 4).map(mb),
      notes:
        `${Math.round(t.emitted / (elapsedMs / 1000))} events/s over ${Math.round(elapsedMs / 1000)} s, outage ${OUTAGE_MS / 1000} s, slow ${SLOW_MS / 1000} s; ` +
        `RSS peak ${mb(peak)} MB (Q2 median ${mb(q2)}, last quarter ${mb(q4)}); event loop p99 ${chaos.eventLoopDelayMs.p99} ms; ` +
        `metrics ${metricsAtBackend} at the backend for ${chaos.metricSamples} samples; drops ${JSON.stringify(drops.byReason)}`,
    });

    assert.equal(exit.code, 143, agent.stderr());
    assert.ok(t.emitted >= minEmitted, `emitted ${t.emitted} < ${minEmitted} (90% of ${RATE}/s for ${SOAK_MS} ms)`);
    assert.equal(accounted, t.emitted, `emitted ${t.emitted} != delivered ${t.delivered} + counted drops ${drops.total} ${JSON.stringify(drops.byReason)}; ${queueLeft} items left in the queue at stop; lost e.g. ${t.lostKeys.slice(0, 3).join(', ')}\n${agent.stderr()}`);
    assert.equal(t.lost, 0, `lost ${t.lost} (counted drops ${JSON.stringify(drops.byReason)})`);
    assert.ok(metricsAtBackend + metricDrops >= chaos.metricSamples, `metric samples ${chaos.metricSamples}, at the backend ${metricsAtBackend}, dropped ${metricDrops}`);
    assert.ok(peak < RSS_CEILING_MB * 1048576, `RSS peak ${mb(peak)} MB >= ${RSS_CEILING_MB} MB`);
    assert.ok(q4 <= q2 * RSS_GROWTH_FACTOR, `RSS still growing: last quarter median ${mb(q4)} MB > ${RSS_GROWTH_FACTOR} x second quarter ${mb(q2)} MB`);
  });
});
