/**
 * Cost per event of `durability: 'emit'`: the same sendEvent loop through a
 * standalone GuardAgentHandler with durability 'batch' and 'emit', in one
 * run, against the shared Redis (127.0.0.1:6379) and the dev backend.
 *
 *   node --import tsx bench/durability.ts [events=20000] [rounds=3]
 *
 * Two figures per mode: the synchronous cost of sendEvent (what the request
 * path pays when it does not await), and the cost per event when every
 * sendEvent is awaited in waves of 500 (in 'emit' mode that includes the
 * pipelined journal round trip: the figure a caller pays for "a SIGKILL
 * loses nothing Redis acknowledged").
 */
import { randomUUID } from 'node:crypto';
import { DevBackend, DEFAULT_DEV_API_KEY } from '../src/dev-backend/index.js';
import { GuardAgentHandler } from '../src/handler/guard-agent-handler.js';

const EVENTS = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const WAVE = 500;

function event(i: number) {
  return { idempotencyKey: randomUUID(), eventType: 'ip_banned', ipAddress: `10.1.${(i >> 8) & 255}.${i & 255}`, actionTaken: 'block', reason: 'bench', metadata: { path: '/login', attempts: i % 7 } };
}

async function run(durability: 'batch' | 'emit', backendUrl: string): Promise<{ syncUs: number; awaitedUs: number }> {
  const h = new GuardAgentHandler(
    { apiKey: DEFAULT_DEV_API_KEY, endpoint: backendUrl, projectId: `bench-dur-${durability}-${randomUUID().slice(0, 6)}`, flushInterval: 1, redisUrl: 'redis://127.0.0.1:6379', durability, instanceId: `bench-${durability}` },
    { env: {} },
  );
  await h.start();
  await h.sendEvent(event(0)); // connect and warm up
  await h.flushBuffer(5000);
  // Synchronous cost: the loop does not wait (the journal writes go out in pipelines behind it).
  let t0 = process.hrtime.bigint();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < EVENTS; i++) pending.push(h.sendEvent(event(i)));
  const syncNs = Number(process.hrtime.bigint() - t0);
  await Promise.all(pending);
  await h.flushBuffer(30_000);
  // Awaited cost: waves of WAVE concurrent sendEvent calls, each wave awaited.
  t0 = process.hrtime.bigint();
  for (let i = 0; i < EVENTS; i += WAVE) {
    const wave: Promise<void>[] = [];
    for (let j = i; j < Math.min(EVENTS, i + WAVE); j++) wave.push(h.sendEvent(event(j)));
    await Promise.all(wave);
  }
  const awaitedNs = Number(process.hrtime.bigint() - t0);
  await h.stop(30_000);
  return { syncUs: syncNs / EVENTS / 1000, awaitedUs: awaitedNs / EVENTS / 1000 };
}

const backend = new DevBackend();
await backend.start();
const results: Record<string, { syncUs: number[]; awaitedUs: number[] }> = { batch: { syncUs: [], awaitedUs: [] }, emit: { syncUs: [], awaitedUs: [] } };
for (let r = 0; r < ROUNDS; r++) {
  // Interleaved, so drift (GC, CPU frequency) hits both modes alike.
  for (const mode of ['batch', 'emit'] as const) {
    const res = await run(mode, backend.url);
    results[mode].syncUs.push(res.syncUs);
    results[mode].awaitedUs.push(res.awaitedUs);
  }
}
await backend.stop();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const row = (mode: string) => ({ mode, syncUsPerEvent: +median(results[mode].syncUs).toFixed(2), awaitedUsPerEvent: +median(results[mode].awaitedUs).toFixed(2) });
const rows = [row('batch'), row('emit')];
console.table(rows);
console.log(
  `durability 'emit' costs +${(rows[1].syncUsPerEvent - rows[0].syncUsPerEvent).toFixed(2)} us/event on the request path (sync), ` +
    `+${(rows[1].awaitedUsPerEvent - rows[0].awaitedUsPerEvent).toFixed(2)} us/event when every sendEvent is awaited (${EVENTS} events x ${ROUNDS} rounds, medians)`,
);
process.exit(0);
