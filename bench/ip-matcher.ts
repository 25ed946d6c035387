/**
 * IpMatcher lookup cost with 10,000 random CIDRs (mixed IPv4/IPv6), against
 * baselines measured in the same run:
 *  - naive: the same pre-parsed rules scanned linearly (same allocation-free
 *    address parser, word-wise compares), i.e. what a simple matcher does;
 *  - bigint: the matcher's own segments searched with BigInt compares, the
 *    representation `ip-address.ts` chose not to use on the lookup path;
 *  - parse only: the address parse every lookup includes.
 *
 * Also the event-loop time of one rules update at the sanitizer's limits
 * (three IP lists of 100,000 entries, a third of them IPv6): validation plus
 * the rule engine's build, as the RulePoller and the instrumentation do it,
 * against the JSON.parse of the same response body in the same run.
 *
 * Run: node --import tsx bench/ip-matcher.ts
 * Prints the median over batches of the mean ns per lookup; the variants'
 * batches are interleaved so machine load affects them alike.
 */
import { parseCidr, parseIpInto } from '../src/rules/ip-address.js';
import { parseDynamicRules } from '../src/models/dynamic-rules.js';
import { IpMatcher } from '../src/rules/ip-matcher.js';
import { RuleEngine } from '../src/rules/rule-engine.js';
import { sanitizeRules } from '../src/rules/rules-sanitizer.js';
import { type BenchResult, figure } from './lib/figures.js';
import { isMain } from './lib/main-guard.js';

const RULES = 10_000;
const LOOKUPS = 1_000_000;
const BATCH = 10_000;
const NAIVE_LOOKUPS = 10_000;
const NAIVE_BATCH = 100;

// Deterministic PRNG (mulberry32) so runs are comparable.
let seed = 0x5eed;
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const u32 = (): number => Math.floor(rand() * 4294967296);
const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
const v4 = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const v6 = (w: number[]): string => w.flatMap((x) => [(x >>> 16).toString(16), (x & 0xffff).toString(16)]).join(':');

const rules: string[] = [];
const ips: string[] = [];

/** The rules and the lookups (deterministic). */
function setup(): void {
  for (let i = 0; i < RULES; i++) {
    if (i % 2 === 0) rules.push(`${v4(u32())}/${int(8, 32)}`);
    else rules.push(`${v6([0x20010db8 + int(0, 255), u32(), u32(), u32()])}/${int(32, 128)}`);
  }
  // Lookups: a third inside random rules, the rest random (mostly misses), mixed families and mapped form.
  for (let i = 0; i < 10_000; i++) {
    const pick = i % 6;
    if (pick === 0 || pick === 1) {
      const c = parseCidr(rules[int(0, RULES - 1)]);
      const span = c.last - c.first;
      const v = c.first + (span > 0n ? BigInt(Math.floor(rand() * Number(span))) : 0n);
      ips.push(c.family === 4 ? v4(Number(v)) : v6([0, 1, 2, 3].map((k) => Number((v >> BigInt(96 - 32 * k)) & 0xffffffffn))));
    } else if (pick === 2) ips.push(v4(u32()));
    else if (pick === 3) ips.push(`::ffff:${v4(u32())}`);
    else ips.push(v6([0x20010db8 + int(0, 255), u32(), u32(), u32()]));
  }
}

/** The same rules as plain [family, first words, last words] rows, scanned in order. */
function buildNaive(list: string[]): (ip: string) => boolean {
  const fam: number[] = [];
  const lo = new Uint32Array(list.length * 4);
  const hi = new Uint32Array(list.length * 4);
  list.forEach((r, k) => {
    const c = parseCidr(r);
    fam.push(c.family);
    for (let w = 0; w < 4; w++) {
      const shift = BigInt(c.family === 4 ? 0 : 96 - 32 * w);
      lo[k * 4 + w] = c.family === 4 && w > 0 ? 0 : Number((c.first >> shift) & 0xffffffffn);
      hi[k * 4 + w] = c.family === 4 && w > 0 ? 0 : Number((c.last >> shift) & 0xffffffffn);
    }
  });
  const x = new Uint32Array(4);
  const cmp = (a: Uint32Array, o: number, words: number): number => {
    for (let w = 0; w < words; w++) if (a[o + w] !== x[w]) return a[o + w] < x[w] ? -1 : 1;
    return 0;
  };
  return (ip: string): boolean => {
    const f = parseIpInto(ip, x);
    if (f === 0) return false;
    const words = f === 4 ? 1 : 4;
    for (let k = 0; k < fam.length; k++) {
      if (fam[k] === f && cmp(lo, k * 4, words) <= 0 && cmp(hi, k * 4, words) >= 0) return true;
    }
    return false;
  };
}

/** The matcher's IPv6 segments searched with BigInt (the road not taken). */
function buildBigint(m: IpMatcher): (ip: string) => boolean {
  const inner = m as unknown as { v4Starts: Uint32Array; v4Labels: Int32Array; v6Starts: Uint32Array; v6Labels: Int32Array };
  const v6Starts: bigint[] = [];
  for (let k = 0; k < inner.v6Labels.length; k++) {
    let v = 0n;
    for (let w = 0; w < 4; w++) v = (v << 32n) | BigInt(inner.v6Starts[k * 4 + w]);
    v6Starts.push(v);
  }
  const v4Starts = Array.from(inner.v4Starts, (n) => BigInt(n));
  const x = new Uint32Array(4);
  return (ip: string): boolean => {
    const f = parseIpInto(ip, x);
    if (f === 0) return false;
    let value = BigInt(x[0]);
    if (f === 6) for (let w = 1; w < 4; w++) value = (value << 32n) | BigInt(x[w]);
    const starts = f === 4 ? v4Starts : v6Starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid] <= value) lo = mid;
      else hi = mid - 1;
    }
    return (f === 4 ? inner.v4Labels : inner.v6Labels)[lo] >= 0;
  };
}

let sink = 0;
let cursor = 0;
function batchMean(fn: (ip: string) => boolean, batch: number): number {
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < batch; k++) {
    if (fn(ips[cursor])) sink++;
    cursor = cursor + 1 === ips.length ? 0 : cursor + 1;
  }
  return Number(process.hrtime.bigint() - t0) / batch;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Batches of every variant interleaved round by round, so a change in machine
 * load hits them all alike; each variant's figure is the median batch mean.
 */
function measure(variants: Array<{ fn: (ip: string) => boolean; total: number; batch: number }>, rounds: number): number[] {
  for (const v of variants) for (let i = 0; i < 20_000; i++) if (v.fn(ips[i % ips.length])) sink++; // JIT warm-up
  const means = variants.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    variants.forEach((v, k) => {
      if (r < v.total / v.batch) means[k].push(batchMean(v.fn, v.batch));
    });
  }
  return means.map(median);
}

/** A rules response with three IP lists of `perList` entries: a third IPv4 hosts, a third IPv4 networks, a third IPv6 networks. */
function bigRulesBody(perList: number): string {
  const list = (): string[] =>
    Array.from({ length: perList }, (_, i) => {
      if (i % 3 === 0) return v4(u32());
      if (i % 3 === 1) return `${v4(u32())}/${int(8, 32)}`;
      return `${v6([0x20010db8 + int(0, 255), u32(), u32(), u32()])}/${int(32, 128)}`;
    });
  return JSON.stringify({ rule_id: 'bench', version: 1, ip_blacklist: list(), ip_whitelist: list(), emergency_whitelist: list() });
}

/** Median ms of one rules update (validate, sanitize, build the engine) and of JSON.parse of its body alone. */
function rulesUpdateMs(rounds = 5): { updateMs: number; parseMs: number; entries: number; bytes: number } {
  const body = bigRulesBody(100_000);
  const update: number[] = [];
  const parse: number[] = [];
  let entries = 0;
  for (let r = 0; r < rounds; r++) {
    let t0 = process.hrtime.bigint();
    const json: unknown = JSON.parse(body);
    parse.push(Number(process.hrtime.bigint() - t0) / 1e6);
    t0 = process.hrtime.bigint();
    const { rules } = sanitizeRules(parseDynamicRules(json));
    const engine = new RuleEngine(rules, { sanitized: true });
    update.push(Number(process.hrtime.bigint() - t0) / 1e6);
    entries = engine.rules.ipBlacklist.length + engine.rules.ipWhitelist.length + engine.rules.emergencyWhitelist.length;
  }
  return { updateMs: median(update), parseMs: median(parse), entries, bytes: body.length };
}

/** Runs the bench and returns its figures; also prints them. */
export function main(): BenchResult {
  setup();
  const t0 = process.hrtime.bigint();
  const matcher = new IpMatcher(rules);
  const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const naive = buildNaive(rules);
  const bigint = buildBigint(matcher);
  const scratch = new Uint32Array(4);

  // Agreement check before timing anything.
  for (const ip of ips.slice(0, 2_000)) {
    if (matcher.contains(ip) !== naive(ip) || matcher.contains(ip) !== bigint(ip)) throw new Error(`disagreement on ${ip}`);
  }
  const hitRate = ips.filter((ip) => matcher.contains(ip)).length / ips.length;

  const [matcherNs, bigintNs, parseNs, naiveNs] = measure(
    [
      { fn: (ip) => matcher.contains(ip), total: LOOKUPS, batch: BATCH },
      { fn: bigint, total: LOOKUPS / 2, batch: BATCH / 2 },
      { fn: (ip) => parseIpInto(ip, scratch) !== 0, total: LOOKUPS / 2, batch: BATCH / 2 },
      { fn: naive, total: NAIVE_LOOKUPS, batch: NAIVE_BATCH },
    ],
    LOOKUPS / BATCH,
  );

  console.log(`IpMatcher bench: ${RULES} CIDRs (${matcher.size} valid, ${matcher.invalid.length} invalid), ${ips.length} distinct addresses, ${(hitRate * 100).toFixed(0)}% hits, node ${process.version}`);
  console.log(`  build                          ${buildMs.toFixed(1)} ms`);
  console.log(`  IpMatcher.contains             ${matcherNs.toFixed(1)} ns/lookup (median of ${LOOKUPS / BATCH} batch means, ${LOOKUPS} lookups)`);
  console.log(`  naive linear scan              ${naiveNs.toFixed(1)} ns/lookup (${NAIVE_LOOKUPS} lookups)`);
  console.log(`  segments with BigInt compares  ${bigintNs.toFixed(1)} ns/lookup`);
  console.log(`  address parse alone            ${parseNs.toFixed(1)} ns`);
  console.log(`  ratio naive / IpMatcher        ${(naiveNs / matcherNs).toFixed(0)}x`);
  console.log(`  ratio BigInt / uint32 words    ${(bigintNs / matcherNs).toFixed(2)}x`);
  const upd = rulesUpdateMs();
  console.log(`  rules update, ${upd.entries} IP entries (${(upd.bytes / 1e6).toFixed(1)} MB of JSON): ${upd.updateMs.toFixed(0)} ms of the event loop to validate and build the engine (${((1000 * upd.updateMs) / upd.entries).toFixed(2)} µs/entry), ${(upd.updateMs / upd.parseMs).toFixed(1)}x the JSON.parse of its body (${upd.parseMs.toFixed(0)} ms)`);
  if (sink < 0) console.log(sink);
  return {
    name: 'ip-matcher',
    figures: [
      figure('ipmatcher.lookup_ns', `IpMatcher.contains, ${RULES} CIDRs`, matcherNs, 'ns/lookup'),
      figure('ipmatcher.naive_ratio', 'IpMatcher: naive linear scan / IpMatcher', naiveNs / matcherNs, 'x'),
      figure('ipmatcher.bigint_ratio', 'IpMatcher: BigInt compares / uint32 words', bigintNs / matcherNs, 'x'),
      figure('rules.update_ms', `rules update, ${upd.entries} IP entries: validate + build the engine`, upd.updateMs, 'ms', { note: 'event-loop time per rules change' }),
      figure('rules.update_vs_parse', 'rules update / JSON.parse of the same body', upd.updateMs / upd.parseMs, 'x'),
    ],
    details: { buildMs, hitRate, parseNs, rulesUpdate: upd },
  };
}

if (isMain(import.meta.url)) main();
