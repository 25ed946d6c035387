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
 *   CHAOS_CATCH_UP=1       pace by the time elapsed since start: each tick emits what the rate owes
 *                          (at most 100 ms worth), so late timer ticks do not lower the rate
 *   CHAOS_METRICS_RATE     request_count samples (value 1, over 4 endpoints) per second through
 *                          sendMetric (default 0; needs GUARD_AGENT_ENABLE_METRICS=true)
 *
 * The stats file also holds `chaos`: events and metric samples emitted, and the
 * event-loop delay (perf_hooks.monitorEventLoopDelay, ms past its 10 ms sampling
 * period) from start to the stop.
 *
 * Prints `READY` on stdout once emitting; diagnostics (WARN and up) go to stderr.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
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
const catchUp = env.CHAOS_CATCH_UP === '1';
const metricsRate = Number(env.CHAOS_METRICS_RATE ?? 0);
const LOOP_DELAY_RESOLUTION_MS = 10;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
loopDelay.enable();

const handler = new GuardAgentHandler({}, { stopTimeoutMs: Number(env.CHAOS_STOP_TIMEOUT_MS ?? 10_000) });
await handler.start();

let emitting = true;
let carry = 0;
let seq = 0;
let metricCarry = 0;
let metricSamples = 0;
const started = Date.now();
const TICK_MS = 10;

const emitTimer = setInterval(() => {
  if (!emitting) return;
  if (Date.now() - started >= durationMs) {
    emitting = false;
    return;
  }
  let n: number;
  if (catchUp) {
    n = Math.min(Math.floor((rate * (Date.now() - started)) / 1000) - seq, Math.ceil(rate / 10));
  } else {
    carry += (rate * TICK_MS) / 1000;
    n = Math.floor(carry);
    carry -= n;
  }
  metricCarry += (metricsRate * TICK_MS) / 1000;
  for (; metricCarry >= 1; metricCarry -= 1) {
    void handler.sendMetric({ metricType: 'request_count', value: 1, endpoint: `/chaos/${metricSamples++ % 4}` });
  }
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
    loopDelay.disable();
    await handler.stop();
    const stats = handler.getStats();
    // The histogram holds the time between its timer's callbacks (about 10.1 ms in an idle process): the delay is what exceeds the period.
    const ms = (ns: number) => Math.max(0, Math.round(ns / 1e4 - LOOP_DELAY_RESOLUTION_MS * 100) / 100);
    const chaos = {
      emitted: seq,
      metricSamples,
      eventLoopDelayMs: { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max), mean: ms(loopDelay.mean) },
    };
    writeFileSync(
      env.CHAOS_STATS_FILE ?? '/dev/null',
      JSON.stringify({ stats, journal: handler.pipeline.journal?.stats() ?? null, status: await handler.getStatus(), chaos }),
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
