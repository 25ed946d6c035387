/**
 * How many metric records (and POSTs, and bytes) reach the backend for the
 * same traffic: the Python agent's one-sample-per-request metrics (reference
 * 2.3: request_count + response_time per request, plus error_rate when
 * status >= 400, shipped in batches of buffer_size 100) versus the OTel
 * pipeline here (GuardInstruments -> MeterProvider -> GuardMetricExporter:
 * one record per series per export interval). Both go through the same
 * HTTPTransport to the dev backend on 127.0.0.1, in the same run.
 *
 *   node --import tsx bench/metric-reduction.ts [requests=10000] [intervals=10]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { DEFAULT_CONFIG } from '../src/config.js';
import type { AgentConfig } from '../src/config-types.js';
import { DevBackend } from '../src/dev-backend/index.js';
import { SecurityMetric } from '../src/models/index.js';
import { GuardInstruments } from '../src/otel/guard-instruments.js';
import { GuardMetricExporter } from '../src/otel/guard-metric-exporter.js';
import { HTTPTransport } from '../src/transport/http-transport.js';
import { type BenchResult, figure } from './lib/figures.js';
import { isMain } from './lib/main-guard.js';

let REQUESTS = 10_000;
let INTERVALS = 10;
const ROUTES = ['/api/items', '/api/login', '/health'];
const SEED_BUFFER_SIZE = 100;
const KEY = 'bench-key-0123456789';

interface Request {
  endpoint: string;
  method: string;
  status: number;
  seconds: number;
}

/** Deterministic traffic: 3 routes, about 8% errors, response times 5-50 ms. */
function traffic(n: number): Request[] {
  return Array.from({ length: n }, (_, i) => ({
    endpoint: ROUTES[i % ROUTES.length],
    method: i % 7 === 0 ? 'POST' : 'GET',
    status: i % 12 === 0 ? 500 : 200,
    seconds: 0.005 + ((i * 37) % 46) / 1000,
  }));
}

/** What the adapters emit per request (reference 2.3). */
function perRequestSamples(r: Request): SecurityMetric[] {
  const tags = { endpoint: r.endpoint, method: r.method };
  const out = [
    new SecurityMetric({ metricType: 'response_time', value: r.seconds, tags: { ...tags, status: String(r.status) } }),
    new SecurityMetric({ metricType: 'request_count', value: 1, tags }),
  ];
  if (r.status >= 400) out.push(new SecurityMetric({ metricType: 'error_rate', value: 1, tags: { ...tags, status: String(r.status) } }));
  return out;
}

interface Tally {
  records: number;
  posts: number;
  bytes: number;
}

function tally(backend: DevBackend): Tally {
  const batches = backend.batches.filter((b) => b.path === '/api/v1/metrics');
  return { records: backend.metrics.length, posts: batches.length, bytes: batches.reduce((s, b) => s + b.rawBytes, 0) };
}

/** Runs the bench (argv: requests, intervals) and returns its figures; also prints them. */
export async function main(argv: string[] = []): Promise<BenchResult> {
  REQUESTS = Number(argv[0] ?? 10_000);
  INTERVALS = Number(argv[1] ?? 10);
  const home = mkdtempSync(join(tmpdir(), 'bench-metrics-'));
  const backend = new DevBackend({ apiKeys: [KEY] });
  const { url } = await backend.start();
  const config: AgentConfig = { ...DEFAULT_CONFIG, apiKey: KEY, endpoint: url, rateLimit: { maxCalls: 1_000_000, windowMs: 60_000 } };
  const transport = new HTTPTransport(config, { installIdHomeDir: home });
  const reqs = traffic(REQUESTS);
  try {
    // Baseline: every per-request sample, shipped in seed-sized batches.
    let buffer: SecurityMetric[] = [];
    for (const r of reqs) {
      buffer.push(...perRequestSamples(r));
      if (buffer.length >= SEED_BUFFER_SIZE) {
        await transport.sendMetrics(buffer);
        buffer = [];
      }
    }
    if (buffer.length) await transport.sendMetrics(buffer);
    const baseline = tally(backend);
    backend.reset();

    // Ours: the same samples recorded on OTel instruments; one export per interval.
    const exporter = new GuardMetricExporter({ transport, queue: null, config });
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const instruments = new GuardInstruments(provider.getMeter('bench'));
    const perInterval = Math.ceil(REQUESTS / INTERVALS);
    for (let i = 0; i < reqs.length; i++) {
      for (const m of perRequestSamples(reqs[i])) instruments.record(m);
      if ((i + 1) % perInterval === 0 || i === reqs.length - 1) await reader.forceFlush();
    }
    await provider.shutdown();
    const ours = tally(backend);
    const counted = backend.metrics.filter((m) => m.metric_type === 'request_count').reduce((s, m) => s + Number(m.value), 0);

    const ratio = (a: number, b: number): string => (b === 0 ? 'n/a' : (a / b).toFixed(1) + 'x');
    console.log(`traffic: ${REQUESTS} requests over ${ROUTES.length} routes, ${INTERVALS} export intervals`);
    console.log(`per-request samples (Python agent): ${baseline.records} records, ${baseline.posts} POSTs, ${baseline.bytes} bytes on the wire`);
    console.log(`aggregated (this agent):            ${ours.records} records, ${ours.posts} POSTs, ${ours.bytes} bytes on the wire`);
    console.log(`reduction: records ${ratio(baseline.records, ours.records)}, POSTs ${ratio(baseline.posts, ours.posts)}, bytes ${ratio(baseline.bytes, ours.bytes)}`);
    console.log(`check: request_count values sum to ${counted} (expected ${REQUESTS})`);
    if (counted !== REQUESTS) throw new Error(`metric-reduction: request_count values sum to ${counted}, expected ${REQUESTS}`);
    const div = (a: number, b: number): number => (b === 0 ? NaN : a / b);
    return {
      name: 'metric-reduction',
      figures: [
        figure('metrics.records_reduction', 'metric records: per-request samples / aggregated', div(baseline.records, ours.records), 'x'),
        figure('metrics.posts_reduction', 'metric POSTs: per-request samples / aggregated', div(baseline.posts, ours.posts), 'x'),
        figure('metrics.bytes_reduction', 'metric wire bytes: per-request samples / aggregated', div(baseline.bytes, ours.bytes), 'x'),
      ],
      details: { requests: REQUESTS, intervals: INTERVALS, baseline, ours },
    };
  } finally {
    await transport.close();
    await backend.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await main(process.argv.slice(2));
