/**
 * Rule enforcement cost, two figures:
 *
 * 1. IP matching with 10,000 CIDR rules (mixed IPv4/IPv6, as IpMatcher gets
 *    them from a ruleset): median over batches of the mean ns per lookup, and
 *    the same for the whole synchronous access check of the RuleEngine
 *    (whitelist, blacklist, country, user agent) over 10,000 distinct client
 *    IPs (more than the engine's verdict cache holds: the uncached cost).
 *    And the user-agent check alone: the bench rules' 3 patterns and a
 *    100-pattern bad-bot list against 10,000 distinct browser user agents
 *    (more than the per-user-agent verdict cache holds: every check a miss)
 *    and against 20 repeated ones (the cached cost).
 * 2. Throughput of an `http` server answered by autocannon (issue 5: "at least
 *    0.9x the same server without the instrumentation, side by side in one run").
 *
 * What is compared, and why it is fair:
 * - Each side is its own child process running the same file, the same app
 *   (a 2-line JSON handler: the worst case, any real handler dilutes the
 *   overhead) and the same process setup: no NodeSDK and no context manager
 *   on either side (a NodeSDK with an AsyncLocalStorage context manager costs
 *   more per request than everything measured here, and would be on both
 *   sides of a real app alike). The plain child never creates the
 *   instrumentation; the guarded child enables GuardInstrumentation in
 *   enforce mode holding the 10,000 CIDRs (plus user-agent and country rules)
 *   and records its request metrics into a real MeterProvider (PeriodicExportingMetricReader,
 *   no-op exporter, the instrumentation's response-time producer attached as
 *   guardAgent() attaches it). Separate processes, so neither side's JIT state, hidden
 *   classes or GC heap is shaped by the other.
 * - The load generator runs in this (parent) process, never in a server's.
 * - Rounds alternate (ABBA...) so a change in the machine's load hits both
 *   sides alike; the figure is the median over rounds of the ratio of each
 *   round pair (adjacent in time, so they share the machine's load), and the
 *   ratio of the medians is printed too.
 * - Second figure, less sensitive to other load on the machine: each
 *   server's CPU time per request (process.cpuUsage() in the child, user +
 *   system, over requests served), median over rounds.
 *
 * BENCH_ENFORCEMENT_VARIANT (default `mr`): the guarded side, or several
 * comma-separated (`o,m,mr`) measured in the same interleaved rounds against
 * the one plain side: `o` observe only, `m` + request metrics, `r` + rules in
 * enforce mode. The target applies to `mr`.
 *
 * Run: node --import tsx bench/enforcement.ts [rounds=10] [secondsPerRound=2]
 * Profile a side: BENCH_ENFORCEMENT_PROF=1 writes --cpu-prof files of each
 * server child to ./bench-prof/<side>/ (the main thread is the larger file).
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
import { prng } from './lib/events.js';
import { isMain } from './lib/main-guard.js';
import { median } from './lib/timing.js';

const RULES = 10_000;


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

/** 100 user-agent patterns as a bad-bot list has them: mostly names (substrings), some regexes. */
export function userAgentPatterns(): string[] {
  const names = [
    'sqlmap', 'sqlninja', 'nikto', 'masscan', 'zgrab', 'nmap', 'nessus', 'acunetix', 'netsparker', 'wpscan', 'dirbuster', 'gobuster', 'feroxbuster', 'nuclei', 'httpx', 'whatweb',
    'commix', 'havij', 'w3af', 'arachni', 'skipfish', 'openvas', 'jaeles', 'xsstrike', 'hydra', 'medusa', 'burpcollaborator', 'interactsh', 'ahrefsbot', 'semrushbot',
    'mj12bot', 'dotbot', 'blexbot', 'petalbot', 'bytespider', 'dataforseobot', 'megaindex', 'serpstatbot', 'seekportbot', 'zoominfobot', 'barkrowler', 'censysinspect',
    'expanse', 'internetmeasurement', 'netcraftsurveyagent', 'paloaltonetworks', 'leakix', 'l9explore', 'odin', 'shodan', 'binaryedge', 'criminalip', 'fofa',
    'headlesschrome', 'phantomjs', 'slimerjs', 'htmlunit', 'scrapy', 'colly', 'mechanize', 'libwww-perl', 'lwp-trivial', 'winhttp', 'indy library', 'harvest',
    'emailcollector', 'emailsiphon', 'webcopier', 'webzip', 'teleport', 'offline explorer', 'sitesnagger', 'grabnet', 'extractorpro', 'blackwidow', 'zmeu',
    'morfeus', 'jorgee', 'muieblackcat', 'friendly-scanner', 'sipvicious', 'revolt', 'cpanel-scanner', 'wordpress-scanner', 'fuzz faster u fool',
  ];
  const regexes = [
    'python-requests/\\d+', '^curl/', 'Go-http-client/\\d\\.\\d', '^java/\\d', '^wget/', 'aiohttp/\\d', 'okhttp/\\d+\\.\\d+', 'node-fetch/\\d',
    'axios/\\d', 'httpclient/\\d', '^python-urllib', 'bot\\d{3,}', '(?:crawl|spider|scan)er-\\w+', 'zgrab/\\d\\.x', 'masscan/\\d',
  ];
  return [...names, ...regexes].slice(0, 100);
}

/** n distinct browser user agents (Chrome, Firefox, Safari, Edge; random versions and builds), about 110 to 140 characters. */
export function distinctUserAgents(n: number, seed = 11): string[] {
  const rand = prng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const os = ['Windows NT 10.0; Win64; x64', 'Macintosh; Intel Mac OS X 10_15_7', 'X11; Linux x86_64', 'Linux; Android 14; Pixel 8', 'iPhone; CPU iPhone OS 17_5 like Mac OS X'];
  const out = new Set<string>();
  while (out.size < n) {
    const o = os[int(0, os.length - 1)];
    const v = `${int(100, 131)}.0.${int(1000, 6999)}.${int(0, 250)}`;
    const k = int(0, 3);
    if (k === 0) out.add(`Mozilla/5.0 (${o}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v} Safari/537.36`);
    else if (k === 1) out.add(`Mozilla/5.0 (${o}; rv:${int(100, 131)}.0) Gecko/20100101 Firefox/${int(100, 131)}.${int(0, 9)}`);
    else if (k === 2) out.add(`Mozilla/5.0 (${o}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${int(14, 18)}.${int(0, 6)} Safari/605.1.15 build/${int(0, 99999)}`);
    else out.add(`Mozilla/5.0 (${o}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v} Safari/537.36 Edg/${v}`);
  }
  return [...out];
}

/** Median ns per `checkAccess` that only the user-agent check can decide (no IP or country rules), cycling through `uas`. */
function userAgentCheckNs(patterns: string[], uas: string[]): number {
  const engine = new RuleEngine({ ...defaultDynamicRules(), ruleId: 'bench-ua', blockedUserAgents: patterns });
  const reqs = uas.map((userAgent) => ({ ip: '198.51.100.7', userAgent, country: null, path: '/' }));
  const batch = Math.max(reqs.length, 10_000);
  let sink = 0;
  const ns: number[] = [];
  for (let round = 0; round < 30; round++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) if (engine.checkAccess(reqs[i % reqs.length]) !== null) sink++;
    ns.push(Number(process.hrtime.bigint() - t) / batch);
  }
  if (sink < 0) console.log(sink);
  return median(ns.slice(5));
}

/**
 * The worst a ruleset inside the sanitizer's budget can cost: nine counted-repeat
 * patterns (`(.{40}){10}zN`, which defeat RE2's fast paths, so a search steps
 * through user-agent length x program size instructions) against new random
 * 512-character user agents of letters and digits (the searched maximum).
 * Median and max ms per check over 15 user agents, each checked once (no
 * cache hit; the first check also builds the matcher's automaton).
 */
const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

function slowRulesetMs(): { median: number; max: number; kept: number } {
  const patterns = Array.from({ length: 9 }, (_, i) => `(.{40}){10}z${i}`);
  const engine = new RuleEngine({ ...defaultDynamicRules(), ruleId: 'bench-ua-slow', blockedUserAgents: patterns });
  const rand = prng(23);
  const ms: number[] = [];
  for (let i = 0; i < 15; i++) {
    // Letters and digits: the patterns' `zN` tails then match partway, the slow case.
    const userAgent = Array.from({ length: 512 }, () => ALNUM[Math.floor(rand() * ALNUM.length)]).join('');
    const t = process.hrtime.bigint();
    engine.checkAccess({ ip: '198.51.100.7', userAgent, country: null, path: '/' });
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return { median: median(ms), max: Math.max(...ms), kept: engine.rules.blockedUserAgents.length };
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

async function serve(variant: string): Promise<void> {
  // 'plain': the same app, the instrumentation never created.
  const inst =
    variant === 'plain' ? undefined : new GuardInstrumentation({ mode: 'enforce', countryHeader: 'cf-ipcountry', enabled: false, recordMetrics: variant.includes('m') });
  if (inst !== undefined) {
    // As guardAgent() builds its readers: the reader carries the instrumentation's response-time producer.
    const reader = new PeriodicExportingMetricReader({
      exporter: new NoopMetricExporter(),
      exportIntervalMillis: 10_000,
      metricProducers: [inst.metricProducer(AggregationTemporality.DELTA)],
    });
    const provider = new MeterProvider({ readers: [reader] });
    inst.setMeterProvider(provider);
    if (variant.includes('r')) inst.setRules(benchRules());
    inst.enable();
  }
  const body = Buffer.from('{"ok":true}');
  let served = 0;
  const server = http.createServer((_req, res) => {
    served++;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  process.on('message', (m: { stop?: boolean }) => {
    if (m.stop) {
      if (process.env.BENCH_ENFORCEMENT_PROF) console.log(`  [${variant}] served ${served} requests (divide profile times by this)`);
      server.closeAllConnections();
      server.close(() => process.exit(0));
      return;
    }
    const cpu = process.cpuUsage();
    process.send!({ ack: true, observing: inst?.isObserving ?? false, stats: inst?.getEnforcementStats(), cpuUs: cpu.user + cpu.system, served });
  });
  process.send!({ port: (server.address() as AddressInfo).port });
}

// ---- the load side ------------------------------------------------------------

interface Reply {
  port?: number;
  ack?: boolean;
  observing?: boolean;
  stats?: { evaluated: number };
  cpuUs?: number;
  served?: number;
}

function ask(child: ChildProcess, msg: object): Promise<Reply> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as Reply));
    if (Object.keys(msg).length > 0) child.send(msg);
  });
}

async function load(url: string, seconds: number): Promise<{ rps: number; total: number }> {
  const result = await autocannon({ url, connections: 32, duration: seconds, pipelining: 1, headers: { 'user-agent': 'Mozilla/5.0 (bench)', 'cf-ipcountry': 'US' } });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`unexpected answers: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, total: result.requests.total };
}

interface Side {
  name: string;
  child: ChildProcess;
  url: string;
  rps: number[];
  cpu: number[];
  last?: Reply;
}

async function startSide(name: string): Promise<Side> {
  const prof = process.env.BENCH_ENFORCEMENT_PROF ? ['--cpu-prof', `--cpu-prof-dir=bench-prof/${name}`] : [];
  const child = fork(fileURLToPath(import.meta.url), ['--serve', name], { execArgv: ['--import', 'tsx', ...prof], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await ask(child, {});
  return { name, child, url: `http://127.0.0.1:${port}/api/items`, rps: [], cpu: [] };
}

/** One measured round of one side: req/s and server CPU µs per request. */
async function round(side: Side, seconds: number): Promise<void> {
  const before = await ask(side.child, { q: true });
  const { rps } = await load(side.url, seconds);
  const after = await ask(side.child, { q: true });
  side.rps.push(rps);
  side.cpu.push((after.cpuUs! - before.cpuUs!) / Math.max(1, after.served! - before.served!));
  side.last = after;
}

export async function main(argv: string[] = []): Promise<BenchResult> {
  const rounds = Number(argv[0] ?? 10);
  const seconds = Number(argv[1] ?? 2);
  const variants = (process.env.BENCH_ENFORCEMENT_VARIANT ?? 'mr').split(',').map((v) => v.trim()).filter((v) => /^[omr]+$/.test(v));
  if (variants.length === 0) throw new Error('BENCH_ENFORCEMENT_VARIANT: comma-separated variants made of o, m, r');
  const rules = benchRules();
  const { lookupNs, checkNs } = matching(rules);
  console.log(`IP matching, ${RULES} CIDR rules: ${lookupNs.toFixed(0)} ns per IpMatcher lookup; ${checkNs.toFixed(0)} ns per RuleEngine.checkAccess (median of 50 batches of 10,000)`);
  // 10,000 distinct user agents: more than the engine's per-user-agent verdict cache holds, so every check is a miss.
  const patterns = userAgentPatterns();
  const distinct = distinctUserAgents(10_000);
  const uaBenchNs = userAgentCheckNs(rules.blockedUserAgents, distinct);
  const uaDistinctNs = userAgentCheckNs(patterns, distinct);
  const uaRepeatedNs = userAgentCheckNs(patterns, distinct.slice(0, 20));
  // Distinct user agents that match the 97th pattern: a blocked one, named by the first pattern in list order that matches.
  const late = patterns[96];
  const uaLateMatchNs = userAgentCheckNs(patterns, distinct.map((ua) => `${ua} ${late}/1.0`));
  const slow = slowRulesetMs();
  console.log(
    `user-agent check, ns per RuleEngine.checkAccess (median of 25 batches): ${rules.blockedUserAgents.length} patterns, 10,000 distinct UAs ${uaBenchNs.toFixed(0)}; ${patterns.length} patterns, 10,000 distinct UAs ${uaDistinctNs.toFixed(0)}; ${patterns.length} patterns, 20 UAs repeated ${uaRepeatedNs.toFixed(0)}; ${patterns.length} patterns, 10,000 distinct UAs matching the 97th (${late}) ${uaLateMatchNs.toFixed(0)}`,
  );
  console.log(`user-agent check, a ruleset built to be slow (${slow.kept} patterns (.{40}){10}zN kept by the sanitizer), new 512-character UAs: ${slow.median.toFixed(1)} ms median, ${slow.max.toFixed(1)} ms max per check`);

  const sides: Side[] = [];
  try {
    for (const name of ['plain', ...variants]) sides.push(await startSide(name));
    for (const side of sides.slice(1)) {
      const r = await ask(side.child, { q: true });
      if (r.observing !== true) throw new Error(`the ${side.name} side is not observing`);
    }
    for (const side of sides) await load(side.url, 1); // warm-up: JIT, connections
    for (const side of sides) side.rps.length = side.cpu.length = 0;
    // Pair ratios: each guarded round against the plain round next to it in time.
    const pairRatio = new Map<string, number[]>(variants.map((v) => [v, []]));
    for (let r = 0; r < rounds; r++) {
      // ABBA: plain goes first in even rounds, last in odd ones.
      const order = r % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) await round(side, seconds);
      const p = sides[0].rps[r];
      for (const side of sides.slice(1)) pairRatio.get(side.name)!.push(side.rps[r] / p);
    }
    const plain = sides[0];
    const p = median(plain.rps);
    const pc = median(plain.cpu);
    console.log(`http throughput, ${rounds} rounds of ${seconds} s per side (autocannon, 32 connections, servers in child processes), req/s and server CPU per request:`);
    console.log(`  ${'plain (no instrumentation)'.padEnd(30)} ${p.toFixed(0).padStart(6)} req/s  ${pc.toFixed(1).padStart(5)} us/req  [${plain.rps.map((x) => x.toFixed(0)).join(', ')}]`);
    const label: Record<string, string> = { o: 'observe only', m: 'observe + metrics', r: 'enforce, rules', mr: `enforce, ${RULES} rules + metrics`, om: 'observe + metrics', omr: `enforce, ${RULES} rules + metrics` };
    for (const side of sides.slice(1)) {
      const g = median(side.rps);
      const gc = median(side.cpu);
      const pr = median(pairRatio.get(side.name)!);
      console.log(
        `  ${(label[side.name] ?? side.name).padEnd(30)} ${g.toFixed(0).padStart(6)} req/s  ${gc.toFixed(1).padStart(5)} us/req  ratio ${pr.toFixed(3)}x (median of pairs; of medians ${(g / p).toFixed(3)}x), CPU ratio ${(pc / gc).toFixed(3)}x, +${(gc - pc).toFixed(1)} us/req`,
      );
    }
    const main = sides.find((s) => s.name === 'mr') ?? sides[sides.length - 1];
    const g = median(main.rps);
    const gc = median(main.cpu);
    const ratio = median(pairRatio.get(main.name)!);
    console.log(`  target: ${main.name} throughput ratio ${ratio.toFixed(3)}x >= 0.9; requests checked by the rules: ${main.last?.stats?.evaluated ?? 0}`);
    return {
      name: 'enforcement',
      figures: [
        figure('enforcement.ip_lookup_ns', `IpMatcher lookup, ${RULES} CIDRs`, lookupNs, 'ns/lookup', { note: 'median of batches of 10,000 lookups' }),
        figure('enforcement.check_access_ns', `RuleEngine.checkAccess, ${RULES} CIDRs + UA + country`, checkNs, 'ns/request', { note: '10,000 distinct IPs: uncached' }),
        figure('enforcement.ua_check_distinct_ns', `RuleEngine.checkAccess, ${patterns.length} user-agent patterns`, uaDistinctNs, 'ns/request', { note: '10,000 distinct browser UAs: uncached' }),
        figure('enforcement.ua_check_repeated_ns', `RuleEngine.checkAccess, ${patterns.length} user-agent patterns`, uaRepeatedNs, 'ns/request', { note: '20 UAs repeated' }),
        figure('enforcement.ua_check_late_match_ns', `RuleEngine.checkAccess, ${patterns.length} user-agent patterns, matching the 97th`, uaLateMatchNs, 'ns/request', { note: '10,000 distinct UAs: uncached' }),
        figure('enforcement.ua_slow_ruleset_max_ms', 'user-agent check, a ruleset built to be slow, worst of 15 new 512-char UAs', slow.max, 'ms/request', { note: `median ${slow.median.toFixed(1)} ms` }),
        figure('enforcement.plain_rps', 'http server without the instrumentation', p, 'req/s'),
        figure('enforcement.enforced_rps', `http server, ${main.name}`, g, 'req/s'),
        figure('enforcement.plain_cpu_us', 'server CPU per request, without the instrumentation', pc, 'us/request'),
        figure('enforcement.enforced_cpu_us', `server CPU per request, ${main.name}`, gc, 'us/request'),
        figure('enforcement.cpu_ratio', 'CPU-bound throughput ratio (plain CPU / enforced CPU per request)', pc / gc, 'x', { note: 'less sensitive to other load than req/s' }),
        figure('enforcement.throughput_ratio', 'throughput enforced / plain', ratio, 'x', { target: { op: '>=', value: 0.9 }, note: 'autocannon, servers in child processes, interleaved rounds, median of pair ratios' }),
      ],
      details: { rounds, seconds, variants, sides: sides.map((x) => ({ name: x.name, rps: x.rps, cpuUs: x.cpu })), pairRatios: Object.fromEntries(pairRatio), evaluated: main.last?.stats?.evaluated },
    };
  } finally {
    for (const side of sides) {
      side.child.send({ stop: true });
      await new Promise((r) => side.child.once('exit', r));
    }
  }
}

const serveAt = process.argv.indexOf('--serve');
if (serveAt !== -1) await serve(process.argv[serveAt + 1] ?? 'mr');
else if (isMain(import.meta.url)) await main(process.argv.slice(2));
