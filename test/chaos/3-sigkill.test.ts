/**
 * Chaos 3: SIGKILL mid-flight, then a restart of the same instance.
 * durability 'batch': at most the batch processor's window (one flush
 * interval of events) is lost. durability 'emit': every event Redis
 * journaled is replayed by the restart: lost 0.
 */
import assert from 'node:assert/strict';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { readKeys, readStats, record, sleep, startAgent, startBackend, tally, waitDelivered } from './harness.js';
import type { DevBackend } from '../../src/dev-backend/index.js';

const RATE = 200;
const FLUSH_S = 1;

describe('chaos 3: SIGKILL mid-flight', function () {
  this.timeout(60_000);
  let redis: RedisServerHandle;
  let backend: DevBackend;

  before(async () => {
    redis = await startRedisServer();
  });
  beforeEach(async () => {
    backend = await startBackend();
  });
  afterEach(async () => {
    await backend.stop();
  });
  after(async () => {
    await redis.stop();
  });

  for (const durability of ['batch', 'emit'] as const) {
    it(`durability '${durability}': ${durability === 'batch' ? 'loses at most the in-memory window' : 'loses nothing'}`, async () => {
      const env = {
        GUARD_AGENT_REDIS_URL: redis.url,
        GUARD_AGENT_INSTANCE_ID: `chaos-3-${durability}`,
        GUARD_AGENT_DURABILITY: durability,
        GUARD_AGENT_FLUSH_INTERVAL: String(FLUSH_S),
        CHAOS_RATE: String(RATE),
      };
      const first = await startAgent({ backend, label: `sigkill-${durability}`, env });
      await sleep(3300);
      first.kill('SIGKILL');
      await first.exited;
      const second = await startAgent({ backend, label: `sigkill-${durability}`, dir: first.dir, env: { ...env, CHAOS_RATE: '0', CHAOS_EXIT_AFTER_MS: '3000' } });
      const exit2 = await second.exited;
      const stats = readStats(second.statsFile);
      const keys = readKeys(first.keysFile);
      await waitDelivered(backend, () => keys, 2000);
      const t = tally(backend, keys);
      // The window: what the batch processor holds between two scheduled exports, plus the timer's jitter.
      const window = Math.ceil(RATE * (FLUSH_S + 0.25));
      const pass = durability === 'emit' ? t.lost === 0 : t.lost <= window;
      record({
        scenario: `3${durability === 'batch' ? 'a' : 'b'} SIGKILL, durability ${durability}`,
        emitted: t.emitted,
        delivered: t.delivered,
        duplicates: t.duplicates,
        lost: t.lost,
        pass,
        notes: durability === 'emit' ? `${stats.journal?.replayed ?? 0} events replayed from the journal by the restart` : `window ${window} events (${RATE}/s x ${FLUSH_S} s flush interval + jitter)`,
      });
      assert.equal(exit2.code, 0, second.stderr());
      assert.ok(t.emitted > RATE * 1.5, `emitted ${t.emitted}`);
      if (durability === 'emit') assert.equal(t.lost, 0, `lost e.g. ${t.lostKeys.slice(0, 3).join(', ')}\n${second.stderr()}`);
      else assert.ok(t.lost <= window, `lost ${t.lost} > window ${window}`);
    });
  }
});
