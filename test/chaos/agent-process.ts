/**
 * The chaos suite's agent: a standalone GuardAgentHandler emitting security
 * events at a steady rate with known idempotency keys, run as a real child
 * process (`node --import tsx test/chaos/agent-process.ts`) so tests can
 * SIGTERM / SIGKILL it. Configured by GUARD_AGENT_* (the agent's own env
 * vars) plus:
 *
 *   CHAOS_KEYS_FILE        each emitted key is appended (synchronously) once sendEvent resolved
 *                          (in durability 'emit' mode: once Redis journaled it)
 *   CHAOS_STATS_FILE       getStats() + journal stats, written after a clean stop
 *   CHAOS_RATE             events per second (default 100)
 *   CHAOS_DURATION_MS      how long to emit (default: until stopped)
 *   CHAOS_EXIT_AFTER_MS    stop() and exit this long after start (default: never)
 *   CHAOS_SIGNAL_HOOKS=1   flush on SIGTERM/SIGINT through installShutdownHooks
 *   CHAOS_STOP_TIMEOUT_MS  stop() deadline (default 10000)
 *   CHAOS_PAD_BYTES        metadata padding per event (default 0)
 *
 * Prints `READY` on stdout once emitting; diagnostics (WARN and up) go to stderr.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { diag, DiagConsoleLogger, DiagLogLevel } from '@opentelemetry/api';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { installShutdownHooks } from '../../src/handler/shutdown-hooks.js';

diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

const env = process.env;
const rate = Number(env.CHAOS_RATE ?? 100);
const durationMs = env.CHAOS_DURATION_MS ? Number(env.CHAOS_DURATION_MS) : Infinity;
const exitAfterMs = env.CHAOS_EXIT_AFTER_MS ? Number(env.CHAOS_EXIT_AFTER_MS) : null;
const pad = 'x'.repeat(Number(env.CHAOS_PAD_BYTES ?? 0));
const keysFd = openSync(env.CHAOS_KEYS_FILE ?? '/dev/null', 'a');

const handler = new GuardAgentHandler({}, { stopTimeoutMs: Number(env.CHAOS_STOP_TIMEOUT_MS ?? 10_000) });
await handler.start();

let emitting = true;
let carry = 0;
let seq = 0;
const started = Date.now();
const TICK_MS = 10;

const emitTimer = setInterval(() => {
  if (!emitting) return;
  if (Date.now() - started >= durationMs) {
    emitting = false;
    return;
  }
  carry += (rate * TICK_MS) / 1000;
  const n = Math.floor(carry);
  carry -= n;
  const keys: string[] = [];
  const sends: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const key = randomUUID();
    keys.push(key);
    sends.push(
      handler.sendEvent({
        idempotencyKey: key,
        eventType: 'ip_banned',
        ipAddress: `10.0.${(seq >> 8) & 255}.${seq & 255}`,
        actionTaken: 'block',
        reason: `chaos event ${seq++}`,
        metadata: pad ? { pad } : {},
      }),
    );
  }
  if (keys.length > 0) void Promise.all(sends).then(() => writeSync(keysFd, keys.join('\n') + '\n'));
}, TICK_MS);

let stopping: Promise<void> | null = null;
function stopAndReport(): Promise<void> {
  stopping ??= (async () => {
    emitting = false;
    clearInterval(emitTimer);
    await handler.stop();
    const stats = handler.getStats();
    writeFileSync(
      env.CHAOS_STATS_FILE ?? '/dev/null',
      JSON.stringify({ stats, journal: handler.pipeline.journal?.stats() ?? null, status: await handler.getStatus() }),
    );
    closeSync(keysFd);
  })();
  return stopping;
}

if (env.CHAOS_SIGNAL_HOOKS === '1') installShutdownHooks(stopAndReport);
if (exitAfterMs !== null) {
  setTimeout(() => {
    void stopAndReport().then(() => process.exit(0));
  }, exitAfterMs);
}
// Keep the process alive while it is meant to run (the agent's own timers are unref'd).
setInterval(() => undefined, 60_000);
process.stdout.write('READY\n');
