/**
 * Shared parts of the chaos scenarios: spawning agent processes, reading
 * what they emitted, counting what the dev backend received, and recording
 * each scenario's figures in test-output/chaos/results.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevBackend, DEFAULT_DEV_API_KEY, type DevBackendOptions } from '../../src/dev-backend/index.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const AGENT = join(ROOT, 'test/chaos/agent-process.ts');
export const RESULTS_FILE = join(ROOT, 'test-output/chaos/results.json');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface AgentOptions {
  backend: DevBackend;
  label: string;
  env?: Record<string, string | undefined>;
  /** Reuse files (a restart of the same agent appends to the same keys file). */
  dir?: string;
}

export interface AgentProcess {
  proc: ChildProcess;
  dir: string;
  keysFile: string;
  statsFile: string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resident set size of the child in bytes (from /proc). */
  rss(): number;
  kill(signal: NodeJS.Signals): void;
}

/** What every scenario's agent uses unless overridden: fast flushes, short retries, no client-side rate limit in the way. */
export function baseEnv(backend: DevBackend, label: string): Record<string, string> {
  return {
    GUARD_AGENT_API_KEY: DEFAULT_DEV_API_KEY,
    GUARD_AGENT_ENDPOINT: backend.url,
    GUARD_AGENT_PROJECT_ID: `chaos-${label}`,
    GUARD_AGENT_INSTALL_ID: `chaos-${label}`,
    GUARD_AGENT_FLUSH_INTERVAL: '1',
    GUARD_AGENT_RETRY_ATTEMPTS: '1',
    GUARD_AGENT_BACKOFF_FACTOR: '0.1',
    GUARD_AGENT_MAX_BACKOFF: '0.5',
    GUARD_AGENT_TIMEOUT: '2',
    GUARD_AGENT_BREAKER_RECOVERY_TIMEOUT_MS: '1000',
    GUARD_AGENT_RATE_LIMIT_MAX_CALLS: '100000',
    GUARD_AGENT_RATE_LIMIT_WINDOW_MS: '1000',
    GUARD_AGENT_QUEUE_DRAIN_INTERVAL_MS: '200',
    GUARD_AGENT_QUEUE_DRAIN_BATCHES_PER_TICK: '10',
    GUARD_AGENT_QUEUE_LEASE_MS: '3000',
    GUARD_AGENT_ENABLE_METRICS: 'false',
  };
}

export async function startAgent(options: AgentOptions): Promise<AgentProcess> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), `chaos-${options.label}-`));
  const keysFile = join(dir, 'keys.txt');
  const statsFile = join(dir, 'stats.json');
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: dir,
    ...baseEnv(options.backend, options.label),
    CHAOS_KEYS_FILE: keysFile,
    CHAOS_STATS_FILE: statsFile,
    ...options.env,
  };
  const proc = spawn(process.execPath, ['--import', 'tsx', AGENT], { cwd: ROOT, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`agent ${options.label} did not start: ${err}`)), 15_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`agent ${options.label} exited at start: ${err}`));
    });
  });
  return {
    proc,
    dir,
    keysFile,
    statsFile,
    stderr: () => err,
    exited,
    rss() {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
        return m ? Number(m[1]) * 1024 : 0;
      } catch {
        return 0;
      }
    },
    kill: (signal) => proc.kill(signal),
  };
}

export function readKeys(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

export function readStats(file: string): AgentStatsFile {
  return JSON.parse(readFileSync(file, 'utf8')) as AgentStatsFile;
}

export interface AgentStatsFile {
  stats: {
    dropped: { atIngest: Record<string, number>; sdkQueue: number; events: Record<string, number>; metrics?: Record<string, number>; queue: Record<string, number>; replay?: Record<string, number> };
    queue: { dataLossDetected: number; depthItems: number; enqueued: number };
    replayedItemsSent: number;
    sdkQueueRescued: number;
  };
  journal: { written: number; writeFailures: number; replayed: number } | null;
  status: unknown;
  /** What agent-process.ts counted itself (older stats files lack it). */
  chaos?: { emitted: number; metricSamples: number; eventLoopDelayMs: { p50: number; p99: number; max: number; mean: number } };
}

/** Every item the agent counted as dropped, by reason (events only: the chaos agent sends no metrics). */
export function countedDrops(s: AgentStatsFile): { total: number; byReason: Record<string, number> } {
  const byReason: Record<string, number> = {};
  const add = (r: Record<string, number>) => {
    for (const [k, v] of Object.entries(r)) byReason[k] = (byReason[k] ?? 0) + v;
  };
  add(s.stats.dropped.atIngest);
  add(s.stats.dropped.events);
  add(s.stats.dropped.queue);
  add(s.stats.dropped.replay ?? {});
  if (s.stats.dropped.sdkQueue) add({ sdk_queue_full: s.stats.dropped.sdkQueue });
  return { total: Object.values(byReason).reduce((a, b) => a + b, 0), byReason };
}

export interface Tally {
  emitted: number;
  delivered: number;
  duplicates: number;
  lost: number;
  lostKeys: string[];
}

/** Emitted keys (from the agents' files) against the unique keys the backend stored. */
export function tally(backend: DevBackend, emittedKeys: string[]): Tally {
  const emitted = [...new Set(emittedKeys.map((k) => k.toLowerCase()))];
  const lostKeys = emitted.filter((k) => !backend.hasEvent(k));
  return {
    emitted: emitted.length,
    delivered: emitted.length - lostKeys.length,
    duplicates: backend.stats.duplicateEvents,
    lost: lostKeys.length,
    lostKeys,
  };
}

/**
 * tally() for a keys file too large to hold as strings (the soak's millions
 * of keys, with a backend started with `keepEvents: false`): reads it in 1 MiB
 * chunks, one key per line. Each key is written once by agent-process.ts, so
 * lines are not deduplicated (and a last line without its newline is not
 * counted). Keeps the first 10 lost keys.
 */
export function tallyFile(backend: DevBackend, file: string): Tally {
  const result: Tally = { emitted: 0, delivered: 0, duplicates: backend.stats.duplicateEvents, lost: 0, lostKeys: [] };
  if (!existsSync(file)) return result;
  const fd = openSync(file, 'r');
  const chunk = Buffer.alloc(1 << 20);
  let rest = '';
  try {
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; ) {
      const lines = (rest + chunk.toString('latin1', 0, n)).split('\n');
      rest = lines.pop() ?? '';
      for (const key of lines) {
        if (key === '') continue;
        result.emitted += 1;
        if (backend.hasEvent(key)) result.delivered += 1;
        else if (result.lostKeys.push(key) > 10) result.lostKeys.length = 10;
      }
    }
  } finally {
    closeSync(fd);
  }
  result.lost = result.emitted - result.delivered;
  return result;
}

/** Waits until every key is at the backend, or the timeout. */
export async function waitDelivered(backend: DevBackend, keys: () => string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (tally(backend, keys()).lost === 0) return;
    await sleep(250);
  }
}

export interface ScenarioResult {
  scenario: string;
  emitted: number;
  delivered: number;
  duplicates: number;
  lost: number;
  pass: boolean;
  notes?: string;
  [extra: string]: unknown;
}

/** Prints the scenario line and merges it into test-output/chaos/results.json. */
export function record(result: ScenarioResult): void {
  console.log(
    `    [chaos] ${result.scenario}: emitted ${result.emitted} / delivered ${result.delivered} / duplicates ${result.duplicates} / lost ${result.lost}${result.notes ? ` (${result.notes})` : ''} -> ${result.pass ? 'PASS' : 'FAIL'}`,
  );
  mkdirSync(join(ROOT, 'test-output/chaos'), { recursive: true });
  let all: { updatedAt?: string; node?: string; scenarios: ScenarioResult[] } = { scenarios: [] };
  try {
    all = JSON.parse(readFileSync(RESULTS_FILE, 'utf8'));
  } catch {
    // first scenario of the run
  }
  const scenarios = (all.scenarios ?? []).filter((s) => s.scenario !== result.scenario);
  scenarios.push({ ...result, at: new Date().toISOString() });
  scenarios.sort((a, b) => a.scenario.localeCompare(b.scenario, 'en', { numeric: true }));
  writeFileSync(RESULTS_FILE, JSON.stringify({ updatedAt: new Date().toISOString(), node: process.version, scenarios }, null, 2) + '\n');
}

export async function startBackend(options: DevBackendOptions = {}): Promise<DevBackend> {
  const backend = new DevBackend(options);
  await backend.start();
  return backend;
}


/**
 * The common fixture of a scenario: a real redis-server on a free port and a
 * dev backend, started before the suite and stopped after it. Read them
 * inside tests (`const { redis, backend } = suite;`): they exist once `before` ran.
 */
export function useRedisAndBackend(backendOptions: DevBackendOptions = {}): { redis: RedisServerHandle; backend: DevBackend } {
  const suite = {} as { redis: RedisServerHandle; backend: DevBackend };
  before(async () => {
    suite.redis = await startRedisServer();
    suite.backend = await startBackend(backendOptions);
  });
  after(async () => {
    await suite.backend?.stop();
    await suite.redis?.stop();
  });
  return suite;
}
