/** The demo's options and the parsing of its command-line values (`20s`, `1500ms`, `1m`, `15`). */

export interface DemoOptions {
  /** How long the traffic runs, ms. */
  durationMs: number;
  /** Requests per second. */
  rate: number;
  /** Dev backend on this port, OTLP receiver on +1, the app on +2; 0 = free ports. */
  portBase: number;
  /** Keep the dev backend and its page up after the summary, until Ctrl-C. */
  keepOpen: boolean;
  /** Requests in flight at most. */
  concurrency: number;
  /** The example app to run; default: `examples/express.ts` of the repository checkout. */
  appScript?: string;
  /** Seconds between the app's exports (its `GUARD_AGENT_FLUSH_INTERVAL`). */
  flushIntervalSeconds: number;
}

export const DEFAULT_DEMO_OPTIONS: Readonly<DemoOptions> = {
  durationMs: 15_000,
  rate: 40,
  portBase: 0,
  keepOpen: false,
  concurrency: 16,
  flushIntervalSeconds: 1,
};

/** Milliseconds from `20s`, `1500ms`, `1m` or a bare number of seconds; throws on anything else. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)} (try 20s, 1500ms or 1m)`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms <= 0) throw new Error(`duration must be positive, got ${JSON.stringify(text)}`);
  return Math.round(ms);
}

/** A positive number (requests per second). */
export function parseRate(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > 100_000) throw new Error(`--rate must be a positive number of requests per second, got ${JSON.stringify(text)}`);
  return n;
}

/** 0, or a port with room for two more above it. */
export function parsePortBase(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || (n > 0 && (n < 1024 || n > 65533))) {
    throw new Error(`--port-base must be 0 or a port in 1024-65533, got ${JSON.stringify(text)}`);
  }
  return n;
}
