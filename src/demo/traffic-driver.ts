/**
 * Sends the scripted traffic at a fixed rate with bounded concurrency over
 * keep-alive connections (an undici Pool), and tallies the answers. Request
 * `i` is due at `start + i / rate`; when the app falls behind, at most
 * `concurrency` requests wait in flight and the schedule catches up.
 * Aborting stops new requests and cancels those in flight.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { raisesSecurityEvent, scriptedRequest, type TrafficKind } from './traffic-mix.js';

export interface TrafficTally {
  /** Requests the schedule holds for the whole run. */
  planned: number;
  sent: number;
  /** Requests answered (any status). */
  answered: number;
  /** Requests that got no answer (connection errors). */
  failed: number;
  /** Answers by HTTP status. */
  byStatus: Record<string, number>;
  /** Requests sent by kind. */
  byKind: Record<TrafficKind, number>;
  /** Answers the guard should report as a security event. */
  expectedEvents: number;
  startedAt: number;
  finishedAt?: number;
}

export interface TrafficOptions {
  /** The app's base URL. */
  baseUrl: string;
  rate: number;
  durationMs: number;
  concurrency: number;
  signal?: AbortSignal;
}

export function emptyTally(planned = 0): TrafficTally {
  return {
    planned,
    sent: 0,
    answered: 0,
    failed: 0,
    byStatus: {},
    byKind: { normal: 0, unauthorized: 0, forbidden: 0, rate_limited: 0, attack: 0 },
    expectedEvents: 0,
    startedAt: Date.now(),
  };
}

/** Runs the traffic; `tally` (optional) is updated live so a progress display can read it. */
export async function driveTraffic(options: TrafficOptions, tally: TrafficTally = emptyTally()): Promise<TrafficTally> {
  const { baseUrl, rate, durationMs, concurrency, signal } = options;
  tally.planned = Math.max(1, Math.round((rate * durationMs) / 1000));
  tally.startedAt = Date.now();
  const pool = new Pool(baseUrl, { connections: concurrency, keepAliveTimeout: 10_000 });
  const inFlight = new Set<Promise<void>>();
  // One abort listener for the pool, not one per request: destroying it fails what is in flight.
  const cancel = (): void => void pool.destroy().catch(() => undefined);
  signal?.addEventListener('abort', cancel, { once: true });
  const start = performance.now();
  try {
    for (let i = 0; i < tally.planned && !signal?.aborted; i++) {
      const wait = start + (i * 1000) / rate - performance.now();
      if (wait > 1 && !(await pause(wait, signal))) break;
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
      if (signal?.aborted) break;
      const p: Promise<void> = sendOne(pool, i, tally, signal).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.allSettled(inFlight);
  } finally {
    tally.finishedAt = Date.now();
    signal?.removeEventListener('abort', cancel);
    if (signal?.aborted) await pool.destroy().catch(() => undefined);
    else await pool.close();
  }
  return tally;
}

async function sendOne(pool: Pool, i: number, tally: TrafficTally, signal: AbortSignal | undefined): Promise<void> {
  const req = scriptedRequest(i);
  tally.sent++;
  tally.byKind[req.kind]++;
  try {
    const res = await pool.request({ method: req.method, path: req.path, headers: req.headers, body: req.body });
    await res.body.dump();
    tally.answered++;
    tally.byStatus[res.statusCode] = (tally.byStatus[res.statusCode] ?? 0) + 1;
    if (raisesSecurityEvent(req, res.statusCode)) tally.expectedEvents++;
  } catch {
    // Aborted (Ctrl-C) or the connection failed: either way no answer.
    if (!signal?.aborted) tally.failed++;
  }
}

/** Waits `ms`; false when aborted first. */
async function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
