/**
 * Which HTTP client should the transport use? Posts ~20 KB JSON bodies to a
 * loopback node:http server through node:http + Agent({keepAlive}) and
 * through undici (Pool + request), in the same run, at concurrency 1 and 8,
 * three interleaved rounds each, and prints the median requests/s and the ratio. Both clients do what the transport
 * needs: keep-alive, a timeout, and a bounded read of the response body.
 * Also measures gzip levels 1 / 6 and sync vs async on a 256 KiB batch.
 *
 *   node --import tsx bench/http-client.ts [requests=5000]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { Pool } from 'undici';
import { createHttpClient } from '../src/transport/http-client.js';
import { type BenchResult, type Figure, figure } from './lib/figures.js';
import { isMain } from './lib/main-guard.js';

let REQUESTS = 5000;
const WARMUP = 500;
const BODY_CAP = 64 * 1024;

interface Client {
  post(body: Buffer): Promise<number>;
  close(): Promise<void>;
}

function nodeHttpClient(url: URL): Client {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  return {
    post(body) {
      return new Promise((resolve, reject) => {
        const req = http.request(
          {
            agent,
            host: url.hostname,
            port: url.port,
            path: '/api/v1/events',
            method: 'POST',
            headers: { 'content-type': 'application/json', 'content-length': body.length },
            timeout: 10_000,
          },
          (res) => {
            let read = 0;
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => {
              if (read < BODY_CAP) chunks.push(c);
              read += c.length;
            });
            res.on('end', () => resolve(res.statusCode ?? 0));
            res.on('error', reject);
          },
        );
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end(body);
      });
    },
    async close() {
      agent.destroy();
    },
  };
}

function undiciClient(url: URL): Client {
  const pool = new Pool(url.origin, { connections: 16, headersTimeout: 10_000, bodyTimeout: 10_000 });
  return {
    async post(body) {
      const res = await pool.request({
        path: '/api/v1/events',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      let read = 0;
      const chunks: Buffer[] = [];
      for await (const c of res.body as AsyncIterable<Buffer>) {
        if (read < BODY_CAP) chunks.push(c);
        read += c.length;
      }
      return res.statusCode;
    },
    close: () => pool.close(),
  };
}

/** The transport's own client (whichever one src/transport/http-client.ts picked), for reference. */
function projectClient(url: URL): Client {
  const c = createHttpClient();
  return {
    async post(body) {
      const r = await c.request({
        method: 'POST',
        url: `${url.origin}/api/v1/events`,
        headers: { 'content-type': 'application/json' },
        body,
        timeoutMs: 10_000,
      });
      return r.status;
    },
    close: () => c.close(),
  };
}

async function run(client: Client, body: Buffer, total: number, concurrency: number): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      next++;
      const status = await client.post(body);
      if (status !== 200) throw new Error(`status ${status}`);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return total / ((performance.now() - t0) / 1000);
}

/** Deterministic pseudo-random hex, so keys and IPs compress like real ones (not like a repeated template). */
let seed = 42;
function hex(n: number): string {
  let out = '';
  while (out.length < n) {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    out += seed.toString(16);
  }
  return out.slice(0, n);
}

function makeBody(bytes: number): Buffer {
  const items: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const item = JSON.stringify({
      idempotency_key: `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`,
      timestamp: new Date(1_788_357_791_483 + i).toISOString(),
      event_type: 'rate_limited',
      ip_address: `${parseInt(hex(2), 16)}.${parseInt(hex(2), 16)}.${i % 256}.${parseInt(hex(2), 16)}`,
      user_agent: `Mozilla/5.0 (${hex(6)}) client/${i % 97}`,
      action_taken: 'request_blocked',
      reason: 'Rate limit exceeded',
      endpoint: `/api/login/${i}`,
      method: 'POST',
      status_code: 429,
      metadata: { limit: 10, window: 60, n: i, request_id: hex(16) },
    });
    items.push(item);
    size += item.length + 1;
  }
  return Buffer.from(`{"project_id":"proj_bench","events":[${items.join(',')}],"metrics":[]}`);
}

/** Runs the bench (argv[0]: requests per run) and returns its figures; also prints them. */
export async function main(argv: string[] = []): Promise<BenchResult> {
  REQUESTS = Number(argv[0] ?? 5000);
  const figures: Figure[] = [];
  const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"success":true,"events_received":1,"errors":null}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const body = makeBody(20 * 1024);
  console.log(`node ${process.version}, body ${body.length} bytes, ${REQUESTS} requests per run (after ${WARMUP} warm-up)`);

  const makers: Array<[string, (u: URL) => Client]> = [
    ['node:http Agent(keepAlive)', nodeHttpClient],
    ['undici Pool.request', undiciClient],
    ['project createHttpClient()', projectClient],
  ];
  // Rounds are interleaved and the median kept: client and server share this
  // process's CPU, so one slow round (GC, another process) must not decide.
  const ROUNDS = 3;
  for (const concurrency of [1, 8]) {
    const samples: Record<string, number[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, make] of makers) {
        const client = make(url);
        await run(client, body, WARMUP, concurrency);
        (samples[name] ??= []).push(await run(client, body, REQUESTS, concurrency));
        await client.close();
      }
    }
    const rates: Record<string, number> = {};
    for (const [name] of makers) {
      const sorted = samples[name].sort((a, b) => a - b);
      rates[name] = sorted[Math.floor(sorted.length / 2)];
      const all = sorted.map((r) => r.toFixed(0)).join(', ');
      console.log(`  c=${concurrency}  ${name.padEnd(28)} ${rates[name].toFixed(0).padStart(7)} req/s (median of ${all})`);
    }
    const ratio = rates['undici Pool.request'] / rates['node:http Agent(keepAlive)'];
    console.log(`  c=${concurrency}  undici / node:http = ${ratio.toFixed(2)}x`);
    figures.push(
      figure(`http.c${concurrency}.project_rps`, `http client c=${concurrency}: project client`, rates['project createHttpClient()'], 'req/s'),
      figure(`http.c${concurrency}.undici_vs_node`, `http client c=${concurrency}: undici / node:http`, ratio, 'x'),
    );
  }
  server.close();
  figures.push(...(await gzipFigures()));
  return { name: 'http-client', figures, details: { requests: REQUESTS, bodyBytes: body.length } };
}

/** gzip level 1 vs 6, sync vs async, on batches at the body cap (256 KiB) and at 20 KB. */
async function gzipFigures(): Promise<Figure[]> {
  const figures: Figure[] = [];
  const gzipAsync = promisify(zlib.gzip);
  for (const bytes of [20 * 1024, 256 * 1024]) {
    const body = makeBody(bytes);
    const n = bytes > 100_000 ? 100 : 1000;
    console.log(`gzip, body ${body.length} bytes, ${n} runs each`);
    const sync: Record<number, number> = {};
    for (const level of [1, 6]) {
      for (let i = 0; i < 10; i++) zlib.gzipSync(body, { level });
      const t0 = performance.now();
      let out = 0;
      for (let i = 0; i < n; i++) out = zlib.gzipSync(body, { level }).length;
      const ms = (performance.now() - t0) / n;
      sync[level] = ms;
      const t1 = performance.now();
      for (let i = 0; i < n; i++) await gzipAsync(body, { level });
      const asyncMs = (performance.now() - t1) / n;
      console.log(
        `  level ${level}: ${out} bytes (${((100 * out) / body.length).toFixed(1)}%), sync ${ms.toFixed(3)} ms, async ${asyncMs.toFixed(3)} ms (async/sync ${(asyncMs / ms).toFixed(2)}x)`,
      );
    }
    console.log(`  level 6 / level 1 time = ${(sync[6] / sync[1]).toFixed(2)}x`);
    figures.push(figure(`gzip.${Math.round(bytes / 1024)}k.l6_vs_l1`, `gzip ${Math.round(bytes / 1024)} KiB: level 6 / level 1 time`, sync[6] / sync[1], 'x'));
  }
  return figures;
}

if (isMain(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
