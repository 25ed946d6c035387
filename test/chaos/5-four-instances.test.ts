/**
 * Chaos 5: four instances share one Redis; one of them, holding queued
 * batches (the backend was down), is SIGKILLed. Once its lease expires a
 * survivor takes its entries over and delivers them: lost 0.
 */
import assert from 'node:assert/strict';
import { readKeys, record, sleep, startAgent, tally, waitDelivered, type AgentProcess, useRedisAndBackend } from './harness.js';

describe('chaos 5: four instances on one Redis, one SIGKILLed holding queued data', function () {
  this.timeout(60_000);
  const suite = useRedisAndBackend();

  it('the survivors deliver the dead instance\'s queue; lost 0', async () => {
    const { redis, backend } = suite;
    backend.faults.push({ kind: 'down' });
    const agents: AgentProcess[] = [];
    for (let i = 0; i < 4; i++) {
      agents.push(
        await startAgent({
          backend,
          label: 'four',
          env: {
            GUARD_AGENT_REDIS_URL: redis.url,
            GUARD_AGENT_INSTANCE_ID: `chaos-5-${i}`,
            GUARD_AGENT_PROJECT_ID: 'chaos-four',
            CHAOS_RATE: '100',
            CHAOS_SIGNAL_HOOKS: '1',
            // The victim stops emitting early so that all it holds has been exported into the queue when it dies.
            CHAOS_DURATION_MS: i === 0 ? '2500' : undefined,
          },
        }),
      );
    }
    await sleep(5000);
    const victim = agents[0];
    victim.kill('SIGKILL');
    await victim.exited;
    const victimKeys = readKeys(victim.keysFile);
    const before = tally(backend, victimKeys).delivered;
    backend.faults.clear();
    // Lease 3 s + one heartbeat tick, then the drain.
    await waitDelivered(backend, () => victimKeys, 15_000);
    const survivors = agents.slice(1);
    for (const a of survivors) a.kill('SIGTERM');
    const exits = await Promise.all(survivors.map((a) => a.exited));
    const keys = agents.flatMap((a) => readKeys(a.keysFile));
    await waitDelivered(backend, () => keys, 3000);
    const t = tally(backend, keys);
    const v = tally(backend, victimKeys);
    const pass = t.lost === 0 && before === 0 && exits.every((e) => e.code === 143);
    record({
      scenario: '5 four instances, one SIGKILLed',
      emitted: t.emitted,
      delivered: t.delivered,
      duplicates: t.duplicates,
      lost: t.lost,
      pass,
      notes: `victim held ${victimKeys.length} queued events (0 delivered before it died); survivors delivered ${v.delivered}`,
    });
    assert.equal(before, 0, 'the victim had delivered nothing itself');
    assert.ok(victimKeys.length > 100, `victim emitted ${victimKeys.length}`);
    assert.equal(v.lost, 0, 'the victim\'s queue was delivered by a survivor');
    assert.deepEqual(exits.map((e) => e.code), [143, 143, 143]);
    assert.equal(t.lost, 0, `lost e.g. ${t.lostKeys.slice(0, 3).join(', ')}`);
  });
});
