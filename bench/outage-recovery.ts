/**
 * Outage recovery: how long after the backend is back the agent has
 * delivered what it queued during the outage. The app emits 20 events/s; the
 * dev backend answers 503 to everything for OUTAGE seconds, then recovers.
 * The lag is the time from recovery until every event emitted so far is at
 * the backend. `flushInterval` is 1 s (the default 30 s alone would decide
 * the lag at this rate: nothing is even sent for 30 s). Two breakers in one run: the default (first window 5 s,
 * doubled per failed probe up to 60 s) and a fixed 60-s window (the Python
 * agent's, `initialRecoveryTimeoutMs: 60000`).
 *
 *   node --import tsx bench/outage-recovery.ts [outageSeconds=10]
 *
 * Not part of `npm run bench`: the fixed window alone can take a minute. The
 * lag depends on where in its window the breaker is when the backend comes
 * back, so it varies by a few seconds between runs.
 */
import { DevBackend, DEFAULT_DEV_API_KEY } from '../src/dev-backend/index.js';
import { GuardAgentHandler } from '../src/handler/guard-agent-handler.js';

const OUTAGE_S = Number(process.argv[2] ?? 10);
const RATE = 20;

async function lagAfterOutage(initialRecoveryTimeoutMs: number): Promise<number> {
  const backend = new DevBackend();
  await backend.start();
  const handler = new GuardAgentHandler(
    { apiKey: DEFAULT_DEV_API_KEY, endpoint: backend.url, projectId: 'bench-outage', flushInterval: 1, breaker: { failureThreshold: 5, recoveryTimeoutMs: 60_000, initialRecoveryTimeoutMs } },
    { env: {}, stopBeforeExit: false },
  );
  await handler.start();
  let emitted = 0;
  const emit = setInterval(() => void handler.sendEvent({ eventType: 'ip_banned', ipAddress: '203.0.113.7', reason: `outage ${emitted++}` }), 1000 / RATE);
  await new Promise((r) => setTimeout(r, 2000));
  backend.faults.push({ kind: 'down' });
  await new Promise((r) => setTimeout(r, OUTAGE_S * 1000));
  backend.faults.clear();
  const back = Date.now();
  const target = emitted;
  while (backend.stats.eventsReceived < target) await new Promise((r) => setTimeout(r, 50));
  const lag = (Date.now() - back) / 1000;
  clearInterval(emit);
  await handler.stop(2000);
  await backend.stop();
  return lag;
}

const grown = await lagAfterOutage(5_000);
console.log(`${OUTAGE_S}-s outage, breaker window 5 s doubling to 60 s (default): everything queued delivered ${grown.toFixed(1)} s after the backend was back`);
const fixed = await lagAfterOutage(60_000);
console.log(`${OUTAGE_S}-s outage, fixed 60-s breaker window (the Python agent's): ${fixed.toFixed(1)} s`);
console.log(`recovery lag, default / fixed: ${(grown / fixed).toFixed(2)}x`);
