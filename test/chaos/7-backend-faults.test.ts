/**
 * Chaos 7: the backend answers 413 (a standing item limit), 429 with
 * Retry-After, 5xx storms, garbage (non-JSON) bodies and one permanent rejection, in
 * turn, under steady load. Nothing is lost except the items the backend
 * rejected permanently, and those are counted exactly.
 */
import assert from 'node:assert/strict';
import { countedDrops, readKeys, readStats, record, sleep, startAgent, tally, waitDelivered, useRedisAndBackend } from './harness.js';

describe('chaos 7: 413, 429 + Retry-After, 5xx storms, garbage, in turn', function () {
  this.timeout(60_000);
  const suite = useRedisAndBackend();

  it('loses nothing but counted permanent rejections', async () => {
    const { redis, backend } = suite;
    const agent = await startAgent({
      backend,
      label: 'faults',
      env: { GUARD_AGENT_REDIS_URL: redis.url, GUARD_AGENT_INSTANCE_ID: 'chaos-7', CHAOS_RATE: '150', CHAOS_DURATION_MS: '11000', CHAOS_SIGNAL_HOOKS: '1' },
    });
    const f = backend.faults;
    f.push({ kind: 'maxItems', max: 16, times: Infinity });
    await sleep(2500);
    f.clear();
    f.push({ kind: 'status', status: 429, headers: { 'Retry-After': '1' }, times: 3 });
    await sleep(2000);
    f.push({ kind: 'status', status: 503, times: 12 }, { kind: 'status', status: 500, times: 4 }, { kind: 'status', status: 502, times: 4 }, { kind: 'reset', times: 2 });
    await sleep(3000);
    // Garbage bodies on error statuses. (A 2xx with a garbage body is success by contract, reference 11.9; the dev
    // backend's 'garbage' fault answers 200 and stores nothing, a backend losing acknowledged data, which no agent can see.)
    f.push({ kind: 'status', status: 502, body: '<html>bad gateway</html>', times: 2 }, { kind: 'status', status: 500, body: 'not json {', times: 1 });
    await sleep(1500);
    f.push({ kind: 'status', status: 422, times: 1 });
    // The breaker paces the storm (one probe per recovery period), so wait until the backend has served every fault.
    const deadline = Date.now() + 25_000;
    while (f.size > 0 && Date.now() < deadline) await sleep(250);
    const faultsLeft = f.size;
    await sleep(1000);
    const keys = readKeys(agent.keysFile);
    await waitDelivered(backend, () => keys, 10_000);
    agent.kill('SIGTERM');
    const exit = await agent.exited;
    const t = tally(backend, readKeys(agent.keysFile));
    const drops = countedDrops(readStats(agent.statsFile));
    if (process.env.CHAOS_DEBUG) console.log(JSON.stringify(readStats(agent.statsFile).stats, null, 1).slice(0, 6000), agent.stderr());
    const rejected = backend.stats.rejected.byStatus;
    const pass = exit.code === 143 && faultsLeft === 0 && t.delivered + drops.total === t.emitted && Object.keys(drops.byReason).every((r) => r === 'permanent_rejection' || r === 'too_large');
    record({
      scenario: '7 413 / 429 / 5xx / garbage in turn',
      emitted: t.emitted,
      delivered: t.delivered,
      duplicates: t.duplicates,
      lost: t.lost,
      pass,
      countedDrops: drops.byReason,
      backendRejected: rejected,
      notes: `lost = ${drops.total} counted permanent rejections ${JSON.stringify(drops.byReason)}; backend answered ${JSON.stringify(rejected)}`,
    });
    assert.equal(exit.code, 143, agent.stderr());
    assert.equal(faultsLeft, 0, 'every injected fault was served');
    assert.ok((rejected['413'] ?? 0) > 0 && (rejected['429'] ?? 0) > 0 && (rejected['503'] ?? 0) > 0, JSON.stringify(rejected));
    assert.deepEqual(Object.keys(drops.byReason).filter((r) => r !== 'permanent_rejection' && r !== 'too_large'), []);
    assert.equal(t.delivered + drops.total, t.emitted, JSON.stringify({ ...t, lostKeys: undefined, drops }));
  });
});
