/**
 * Chaos 1: the backend is down for 30 s under steady load. Everything the
 * agent emitted reaches the backend once it is back (queued in Redis
 * meanwhile, replayed oldest first beside live traffic): lost 0.
 */
import assert from 'node:assert/strict';
import { readKeys, record, sleep, startAgent, tally, waitDelivered, useRedisAndBackend } from './harness.js';

const OUTAGE_MS = Number(process.env.CHAOS_OUTAGE_MS ?? 30_000);

describe('chaos 1: backend down 30 s under steady load', function () {
  this.timeout(OUTAGE_MS + 60_000);
  const suite = useRedisAndBackend();

  it('loses nothing: every emitted key reaches the backend after the outage', async () => {
    const { redis, backend } = suite;
    const agent = await startAgent({
      backend,
      label: 'backend-down',
      env: { GUARD_AGENT_REDIS_URL: redis.url, GUARD_AGENT_INSTANCE_ID: 'chaos-1', CHAOS_RATE: '200', CHAOS_SIGNAL_HOOKS: '1' },
    });
    await sleep(2000);
    backend.faults.push({ kind: 'down' });
    await sleep(OUTAGE_MS);
    backend.faults.clear();
    await sleep(3000);
    agent.kill('SIGTERM');
    const exit = await agent.exited;
    const keys = readKeys(agent.keysFile);
    await waitDelivered(backend, () => keys, 5000);
    const t = tally(backend, keys);
    const pass = t.lost === 0 && t.emitted > (OUTAGE_MS / 1000) * 150;
    record({ scenario: '1 backend down 30 s', emitted: t.emitted, delivered: t.delivered, duplicates: t.duplicates, lost: t.lost, pass, notes: `outage ${OUTAGE_MS / 1000} s at 200 events/s, Redis queue` });
    assert.equal(exit.code, 143, agent.stderr());
    assert.ok(t.emitted > (OUTAGE_MS / 1000) * 150, `emitted ${t.emitted}`);
    assert.equal(t.lost, 0, `lost keys, e.g. ${t.lostKeys.slice(0, 3).join(', ')}\n${agent.stderr()}`);
  });
});
