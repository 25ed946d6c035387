/**
 * Rule enforcement cost, two figures:
 *
 * 1. IP matching with 10,000 CIDR rules (mixed IPv4/IPv6, as IpMatcher gets
 *    them from a ruleset): median over batches of the mean ns per lookup, and
 *    the same for the whole synchronous access check of the RuleEngine
 *    (whitelist, blacklist, country, user agent).
 * 2. Throughput of one `http` server (in a child process, so the load
 *    generator does not share its CPU) answered by autocannon: with
 *    GuardInstrumentation in enforce mode holding those 10,000 rules (plus
 *    user-agent and country rules, and its request metrics recorded on a real
 *    MeterProvider), against the same server with the instrumentation
 *    disabled. The two are measured in alternating rounds (ABBA order) in one
 *    run; the figure is the ratio of the medians. Target >= 0.9x.
 *
 * Also reported: the server's CPU time per request on each side (process
 * CPU delta / requests served), much less sensitive than req/s to other load
 * on the machine. BENCH_ENFORCEMENT_VARIANT (default `mr`) isolates parts of
 * the guarded side: `o` observe only, `m` + request metrics, `r` + rules.
 *
 * Run: node --import tsx bench/enforcement.ts [rounds=6] [secondsPerRound=3]
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { AggregationTemporality, MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import autocannon from 'autocannon';
import { defaultDynamicRules, type DynamicRules } from '../src/models/dynamic-rules.js';
import { GuardInstrumentation } from '../src/otel/guard-instrumentation.js';
import { IpMatcher } from '../src/rules/ip-matcher.js';
import { RuleEngine } from '../src/rules/rule-engine.js';
import { type BenchResult, figure } from './lib/figures.js';
import { isMain } from './lib/main-guard.js';
import { median } from './lib/timing.js';

const RULES = 10_000;

// Deterministic PRNG (mulberry32) so runs are comparable.
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 10,000 CIDRs, half IPv4 /8-/32, half IPv6 /32-/128; none covers the loopback the bench's requests come from. */
export function benchRules(): DynamicRules {
  const rand = prng(0x5eed);
  const u32 = (): number => Math.floor(rand() * 4294967296);
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const v4 = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  const v6 = (w: number[]): string => w.flatMap((x) => [(x >>> 16).toString(16), (x & 0xffff).toString(16)]).join(':');
  const list: string[] = [];
  while (list.length < RULES) {
    const cidr = list.length % 2 === 0 ? `${v4(u32())}/${int(8, 32)}` : `${v6([0x20010db8 + int(0, 255), u32(), u32(), u32()])}/${int(32, 128)}`;
    if (!new IpMatcher([cidr]).contains('127.0.0.1')) list.push(cidr);
  }
  return { ...defaultDynamicRules(), ruleId: 'bench', ipBlacklist: list, blockedUserAgents: ['sqlmap', 'nikto', 'masscan'], blockedCountries: ['KP', 'IR'] };
}

function lookupIps(rules: DynamicRules, n: number): string[] {
  const rand = prng(7);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = rand();
    const a = Math.floor(rand() * 4294967296);
    const v4 = `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
    if (r < 0.33) out.push(rules.ipBlacklist[Math.floor(rand() * rules.ipBlacklist.length)].split('/')[0]);
    else if (r < 0.66) out.push(v4);
    else if (r < 0.8) out.push(`::ffff:${v4}`);
    else out.push(`2001:db8:${Math.floor(rand() * 65536).toString(16)}::${Math.floor(rand() * 65536).toString(16)}`);
  }
  return out;
}

function matching(rules: DynamicRules): { lookupNs: number; checkNs: number } {
  const matcher = new IpMatcher(rules.ipBlacklist);
  const engine = new RuleEngine(rules);
  const ips = lookupIps(rules, 10_000);
  const reqs = ips.map((ip, i) => ({ ip, userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0', country: i % 3 === 0 ? 'US' : null, path: '/' }));
  let sink = 0;
  const lookup: number[] = [];
  const check: number[] = [];
  for (let round = 0; round < 60; round++) {
    let t = process.hrtime.bigint();
    for (let i = 0; i < ips.length; i++) if (matcher.contains(ips[i])) sink++;
    lookup.push(Number(process.hrtime.bigint() - t) / ips.length);
    t = process.hrtime.bigint();
    for (let i = 0; i < reqs.length; i++) if (engine.checkAccess(reqs[i]) !== null) sink++;
    check.push(Number(process.hrtime.bigint() - t) / reqs.length);
  }
  if (sink < 0) console.log(sink);
  // The first rounds warm the JIT up: leave them out.
  return { lookupNs: median(lookup.slice(10)), checkNs: median(check.slice(10)) };
}

// ---- the server side (child process) ----------------------------------------

class NoopMetricExporter implements PushMetricExporter {
  export(_m: ResourceMetrics, cb: (r: ExportResult) => void): void {
    cb({ code: ExportResultCode.SUCCESS });
  }
  selectAggregationTemporality(): AggregationTemporality {
    return AggregationTemporality.DELTA;
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

async function serve(): Promise<void> {
  const variant = process.env.BENCH_ENFORCEMENT_VARIANT ?? 'mr';
  const inst = new GuardInstrumentation({ mode: 'enforce', countryHeader: 'cf-ipcountry', enabled: false, recordMetrics: variant.includes('m') });
  const provider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: new NoopMetricExporter(), exportIntervalMillis: 10_000 })] });
  inst.setMeterProvider(provider);
  if (variant.includes('r')) inst.setRules(benchRules());
  const body = Buffer.from('{"ok":true}');
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  process.on('message', (m: { guard?: boolean; stop?: boolean }) => {
    if (m.stop) {
      server.closeAllConnections();
      server.close(() => process.exit(0));
      return;
    }
    if (m.guard) inst.enable();
    else inst.disable();
    const cpu = process.cpuUsage();
    process.send!({ ack: true, observing: inst.isObserving, stats: inst.getEnforcementStats(), cpuUs: cpu.user + cpu.system });
  });
  process.send!({ port: (server.address() as AddressInfo).port });
}

// ---- the load side ------------------------------------------------------------

function ask(child: ChildProcess, msg: object): Promise<{ port?: number; ack?: boolean; observing?: boolean; stats?: { evaluated: number }; cpuUs?: number }> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as never));
    if (Object.keys(msg).length > 0) child.send(msg);
  });
}

async function load(url: string, seconds: number): Promise<{ rps: number; total: number }> {
  const result = await autocannon({ url, connections: 32, duration: seconds, pipelining: 1, headers: { 'user-agent': 'Mozilla/5.0 (bench)', 'cf-ipcountry': 'US' } });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`unexpected answers: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, total: result.requests.total };
}

export async function main(argv: string[] = []): Promise<BenchResult> {
  const rounds = Number(argv[0] ?? 6);
  const seconds = Number(argv[1] ?? 3);
  const rules = benchRules();
  const { lookupNs, checkNs } = matching(rules);
  console.log(`IP matching, ${RULES} CIDR rules: ${lookupNs.toFixed(0)} ns per IpMatcher lookup; ${checkNs.toFixed(0)} ns per RuleEngine.checkAccess (median of 50 batches of 10,000)`);

  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const { port } = await ask(child, {});
    const url = `http://127.0.0.1:${port}/api/items`;
    await ask(child, { guard: true });
    await load(url, 1); // warm-up, both paths
    await ask(child, { guard: false });
    await load(url, 1);
    const plain: number[] = [];
    const guarded: number[] = [];
    // Server CPU time per request: far less sensitive than req/s to other load on the machine.
    const plainCpu: number[] = [];
    const guardedCpu: number[] = [];
    let final = await ask(child, { guard: false });
    for (let r = 0; r < rounds; r++) {
      // ABBA: neither side always goes first.
      const order = r % 2 === 0 ? [false, true] : [true, false];
      for (const guard of order) {
        const ack = await ask(child, { guard });
        if (ack.observing !== guard) throw new Error('the instrumentation did not switch');
        const { rps, total } = await load(url, seconds);
        final = await ask(child, { guard });
        (guard ? guarded : plain).push(rps);
        (guard ? guardedCpu : plainCpu).push((final.cpuUs! - ack.cpuUs!) / total);
      }
    }
    final = await ask(child, { guard: false });
    const p = median(plain);
    const g = median(guarded);
    const pc = median(plainCpu);
    const gc = median(guardedCpu);
    console.log(`http throughput, ${rounds} rounds of ${seconds} s each side (autocannon, 32 connections), req/s:`);
    console.log(`  without instrumentation  median ${p.toFixed(0)}  [${plain.map((x) => x.toFixed(0)).join(', ')}]`);
    console.log(`  enforce, ${RULES} rules     median ${g.toFixed(0)}  [${guarded.map((x) => x.toFixed(0)).join(', ')}]`);
    console.log(`  ratio enforced / plain = ${(g / p).toFixed(3)}x (target >= 0.9); requests checked by the rules: ${final.stats?.evaluated}`);
    console.log(`  server CPU per request: plain ${pc.toFixed(1)} us, enforced ${gc.toFixed(1)} us -> CPU-bound throughput ratio ${(pc / gc).toFixed(3)}x`);
    return {
      name: 'enforcement',
      figures: [
        figure('enforcement.ip_lookup_ns', `IpMatcher lookup, ${RULES} CIDRs`, lookupNs, 'ns/lookup', { note: 'median of batches of 10,000 lookups' }),
        figure('enforcement.check_access_ns', `RuleEngine.checkAccess, ${RULES} CIDRs + UA + country`, checkNs, 'ns/request'),
        figure('enforcement.plain_rps', 'http server without the instrumentation', p, 'req/s'),
        figure('enforcement.enforced_rps', `http server, enforce mode, ${RULES} rules`, g, 'req/s'),
        figure('enforcement.plain_cpu_us', 'server CPU per request, without the instrumentation', pc, 'us/request'),
        figure('enforcement.enforced_cpu_us', `server CPU per request, enforce mode, ${RULES} rules`, gc, 'us/request'),
        figure('enforcement.cpu_ratio', 'CPU-bound throughput ratio (plain CPU / enforced CPU per request)', pc / gc, 'x', { note: 'less sensitive to other load than req/s' }),
        figure('enforcement.throughput_ratio', 'throughput enforced / plain', g / p, 'x', { target: { op: '>=', value: 0.9 }, note: 'autocannon, interleaved rounds, medians' }),
      ],
      details: { rounds, seconds, plain, guarded, plainCpu, guardedCpu, evaluated: final.stats?.evaluated },
    };
  } finally {
    child.send({ stop: true });
    await new Promise((r) => child.once('exit', r));
  }
}

if (process.argv.includes('--serve')) await serve();
else if (isMain(import.meta.url)) await main(process.argv.slice(2));
