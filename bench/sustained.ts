/**
 * Sustained load: what the live path delivers per second, with the agent's
 * default configuration, when the app emits more security events than that
 * for a while. A standalone GuardAgentHandler (memory fallback queue) sends
 * to the dev backend; the app emits RATE events/s in 10 ms steps for
 * SECONDS. Printed each second: events at the backend, the fallback queue's
 * depth and its counted drops. At the end: the delivered rate over the last
 * third of the run (the client-side rate limit's initial allowance spent by
 * then), requests per minute, events per request, and the ceiling those
 * imply (`rateLimit.maxCalls` per `rateLimit.windowMs` times events per
 * request).
 *
 *   node --import tsx bench/sustained.ts [rate=2000] [seconds=75] [backendDelayMs=0] [maxCallsPerMinute=default]
 *
 * Not part of `npm run bench`: it runs for SECONDS on purpose. The figures
 * are rates over wall time, so run it on a quiet machine.
 */
import { DEFAULT_CONFIG } from '../src/config.js';
import { DevBackend, DEFAULT_DEV_API_KEY } from '../src/dev-backend/index.js';
import { GuardAgentHandler } from '../src/handler/guard-agent-handler.js';
import { makeEventInputs } from './lib/events.js';

const RATE = Number(process.argv[2] ?? 2000);
const SECONDS = Number(process.argv[3] ?? 75);
const DELAY_MS = Number(process.argv[4] ?? 0);
const MAX_CALLS = process.argv[5] ? Number(process.argv[5]) : DEFAULT_CONFIG.rateLimit.maxCalls;
const STEP_MS = 10;

const backend = new DevBackend();
await backend.start();
if (DELAY_MS > 0) backend.faults.push({ kind: 'delay', ms: DELAY_MS, times: Infinity, path: '/api/v1/events' });
const handler = new GuardAgentHandler(
  { apiKey: DEFAULT_DEV_API_KEY, endpoint: backend.url, projectId: 'bench-sustained', rateLimit: { maxCalls: MAX_CALLS, windowMs: 60_000 } },
  { env: {}, stopBeforeExit: false },
);
await handler.start();
// Fresh keys per event (the inputs carry none): the backend deduplicates by idempotency key.
const inputs = makeEventInputs(RATE, 11).map(({ timestamp: _t, ...rest }) => rest);
const perStep = Math.max(1, Math.round((RATE * STEP_MS) / 1000));
const samples: { t: number; received: number; requests: number }[] = [];
const t0 = Date.now();
let emitted = 0;
let nextSample = t0 + 1000;
while (Date.now() - t0 < SECONDS * 1000) {
  for (let j = 0; j < perStep; j++) void handler.sendEvent(inputs[emitted++ % inputs.length]);
  const now = Date.now();
  if (now >= nextSample) {
    nextSample += 1000;
    const st = handler.getStats();
    const requests = backend.batches.filter((b) => b.path === '/api/v1/events').length;
    samples.push({ t: (now - t0) / 1000, received: backend.stats.eventsReceived, requests });
    console.log(`t=${samples.at(-1)!.t.toFixed(0)}s emitted ${emitted} at the backend ${backend.stats.eventsReceived} queued ${st.queue.depthItems} dropped by the queue ${JSON.stringify(st.dropped.queue)}`);
  }
  await new Promise((r) => setTimeout(r, STEP_MS - ((Date.now() - t0) % STEP_MS)));
}
const tail = samples.slice(Math.floor((samples.length * 2) / 3));
const first = tail[0];
const last = tail.at(-1)!;
const rate = (last.received - first.received) / (last.t - first.t);
const perMinute = ((last.requests - first.requests) / (last.t - first.t)) * 60;
const perRequest = (last.received - first.received) / Math.max(1, last.requests - first.requests);
console.log(`\nsustained, last ${Math.round(last.t - first.t)} s of ${SECONDS}: ${Math.round(rate)} events/s delivered of ${RATE} emitted; ${perMinute.toFixed(0)} requests/min to /api/v1/events, ${perRequest.toFixed(0)} events per request`);
console.log(`ceiling from the rate limit: ${MAX_CALLS} requests per 60 s x ${perRequest.toFixed(0)} events = ${Math.round((MAX_CALLS / 60) * perRequest)} events/s (metrics and heartbeats share the budget)`);
const st = handler.getStats();
console.log(`fallback queue at the end: ${st.queue.depthItems} events held, ${JSON.stringify(st.dropped.queue)} dropped (oldest first, counted)`);
await handler.stop(1000);
await backend.stop();
