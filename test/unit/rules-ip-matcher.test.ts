import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IpMatcher } from '../../src/rules/ip-matcher.js';

/**
 * The oracle: every address is a point of the 128-bit IPv6 space (IPv4 is its
 * mapped range ::ffff:0:0/96); a rule is a range of that space. Built from
 * numbers, not from the parser under test.
 */
interface RefRule {
  text: string;
  first: bigint;
  last: bigint;
  /** Prefix in 128-bit terms. */
  prefix128: number;
}
const MAPPED = 0xffffn << 32n;

function v4Text(v: bigint): string {
  const n = Number(v);
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
function v6Text(v: bigint, compress: boolean): string {
  const groups = [];
  for (let k = 7; k >= 0; k--) groups.push(((v >> BigInt(16 * k)) & 0xffffn).toString(16));
  const full = groups.join(':');
  return compress ? new URL(`http://[${full}]/`).hostname.slice(1, -1) : full;
}
function refRule(family: 4 | 6, value: bigint, prefix: number, compress: boolean): RefRule {
  const bits = family === 4 ? 32 : 128;
  const host = (1n << BigInt(bits - prefix)) - 1n;
  const first = value & ~host & ((1n << BigInt(bits)) - 1n);
  const text = family === 4 ? `${v4Text(value)}/${prefix}` : `${v6Text(value, compress)}/${prefix}`;
  return family === 4
    ? { text, first: MAPPED | first, last: MAPPED | first | host, prefix128: prefix + 96 }
    : { text, first, last: first | host, prefix128: prefix };
}
function naiveMatch(rules: RefRule[], point: bigint): string | null {
  let best: RefRule | null = null;
  for (const r of rules) if (r.first <= point && point <= r.last && (best === null || r.prefix128 > best.prefix128)) best = r;
  return best ? best.text : null;
}

// Values concentrated on a few bases so that rules nest and overlap often.
const v4Value = fc.oneof(
  fc.constantFrom(0n, 0x0a000000n, 0x0a010000n, 0xc0a80000n, 0xffffffffn),
  fc.bigInt({ min: 0n, max: 0xffffffffn }),
  fc.tuple(fc.constantFrom(0x0a000000n, 0xc0a80100n), fc.bigInt({ min: 0n, max: 0x1ffn })).map(([b, o]) => b + o),
);
const v6Value = fc.oneof(
  fc.constantFrom(0n, 1n, 0x20010db8n << 96n, MAPPED, MAPPED | 0x0a000000n, (1n << 128n) - 1n),
  fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
  fc.tuple(fc.constantFrom(0x20010db8n << 96n, 0xfe80n << 112n, MAPPED), fc.bigInt({ min: 0n, max: 0xffffn })).map(([b, o]) => b + o),
);
const rule = fc.oneof(
  fc.tuple(v4Value, fc.integer({ min: 0, max: 32 })).map(([v, p]) => refRule(4, v, p, true)),
  fc.tuple(v6Value, fc.integer({ min: 0, max: 128 }), fc.boolean()).map(([v, p, c]) => refRule(6, v, p, c)),
);

describe('rules/ip-matcher', () => {
  it('matches IPv4 CIDR boundaries: first and last address in, neighbours out', () => {
    const m = new IpMatcher(['192.168.1.0/24']);
    assert.equal(m.contains('192.168.1.0'), true);
    assert.equal(m.contains('192.168.1.255'), true);
    assert.equal(m.contains('192.168.0.255'), false);
    assert.equal(m.contains('192.168.2.0'), false);
    assert.equal(m.contains('::ffff:192.168.1.7'), true, 'IPv4-mapped client');
  });

  it('matches IPv6 CIDR boundaries', () => {
    const m = new IpMatcher(['2001:db8::/32']);
    assert.equal(m.contains('2001:db8::'), true);
    assert.equal(m.contains('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'), true);
    assert.equal(m.contains('2001:db7:ffff:ffff:ffff:ffff:ffff:ffff'), false);
    assert.equal(m.contains('2001:db9::'), false);
    assert.equal(m.contains('fe80::1%eth0'), false);
  });

  it('handles the ends of the address space', () => {
    const m = new IpMatcher(['255.255.255.255', '0.0.0.0', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::']);
    assert.equal(m.contains('255.255.255.255'), true);
    assert.equal(m.contains('255.255.255.254'), false);
    assert.equal(m.contains('0.0.0.0'), true);
    assert.equal(m.contains('0.0.0.1'), false);
    assert.equal(m.contains('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), true);
    assert.equal(m.contains('::'), true);
    assert.equal(m.contains('::1'), false);
  });

  it('returns the most specific of overlapping rules, and the first of duplicates', () => {
    const m = new IpMatcher(['10.0.0.0/8', '10.1.0.0/16', '10.1.2.3', '10.0.0.0/8 ', '::ffff:10.0.0.0/104', '::/0']);
    assert.equal(m.match('10.1.2.3'), '10.1.2.3');
    assert.equal(m.match('10.1.2.4'), '10.1.0.0/16');
    assert.equal(m.match('10.200.0.1'), '10.0.0.0/8');
    assert.equal(m.match('11.0.0.1'), '::/0', '::/0 covers the IPv4-mapped range too');
    assert.equal(m.match('::1'), '::/0');
    assert.equal(m.size, 6);
  });

  it('reports invalid entries and keeps the valid ones', () => {
    const m = new IpMatcher(['1.2.3.4', 'not-an-ip', '10.0.0.0/33', 42, '  5.6.7.8  ', '', '01.2.3.4']);
    assert.equal(m.size, 2);
    assert.deepEqual(m.invalid.map((i) => i.entry), ['not-an-ip', '10.0.0.0/33', 42, '', '01.2.3.4']);
    assert.ok(m.invalid.every((i) => typeof i.reason === 'string' && i.reason.length > 0));
    assert.equal(m.contains('5.6.7.8'), true);
  });

  it('never matches an unparseable or non-string client address', () => {
    const m = new IpMatcher(['0.0.0.0/0', '::/0']);
    for (const ip of ['', 'unknown', '1.2.3.256', undefined, null, 7]) assert.equal(m.contains(ip as unknown as string), false);
    assert.equal(new IpMatcher([]).contains('1.2.3.4'), false);
  });

  it('agrees with a naive linear scan over random CIDR sets and addresses (property)', () => {
    const probe = fc.oneof(v4Value.map((v) => MAPPED | v), v6Value);
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 40 }), fc.array(probe, { minLength: 1, maxLength: 30 }), fc.nat(), (rules, probes, pick) => {
        const m = new IpMatcher(rules.map((r) => r.text));
        assert.equal(m.invalid.length, 0);
        // Probe the edges of the rules too: that is where interval code breaks.
        const edges = rules.flatMap((r) => [r.first, r.last, r.first - 1n, r.last + 1n]).filter((v) => v >= 0n && v < 1n << 128n);
        for (const point of [...probes, ...edges]) {
          const isV4 = point >> 32n === 0xffffn;
          const forms = isV4 ? [v4Text(point & 0xffffffffn), `::ffff:${v4Text(point & 0xffffffffn)}`] : [v6Text(point, true), v6Text(point, false)];
          const text = forms[pick % forms.length];
          const want = naiveMatch(rules, point);
          assert.equal(m.contains(text), want !== null, `${text} in ${JSON.stringify(rules.map((r) => r.text))}`);
          // Same-range duplicates may be written differently; compare the range when a match exists.
          if (want !== null) {
            const got = rules.find((r) => r.text === m.match(text));
            const exp = rules.find((r) => r.text === want) as RefRule;
            assert.ok(got, `match returned a rule of the list for ${text}`);
            assert.equal(`${got.first}-${got.last}`, `${exp.first}-${exp.last}`, `most specific rule for ${text}`);
          }
        }
      }),
      { numRuns: 600 },
    );
  });

  it('keeps the first listed of equal blocks and the narrowest of nested ones in long runs sharing one start (property)', () => {
    // Dozens of blocks starting at 10.0.0.0, each spelled with its own host bits: the build
    // sorts runs of one start separately (by insertion when short, by a stable sort when long).
    const entry = fc.tuple(fc.integer({ min: 8, max: 32 }), fc.integer({ min: 0, max: 0xffff })).map(([prefix, host]) => {
      const hostBits = 32 - prefix;
      const v = 0x0a000000 + (hostBits === 0 ? 0 : host % 2 ** Math.min(hostBits, 16));
      return { prefix, text: `${v4Text(BigInt(v))}/${prefix}` };
    });
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 60, size: 'max' }), fc.array(fc.integer({ min: 0, max: 0xffffff }), { maxLength: 20 }), (entries, offsets) => {
        const m = new IpMatcher(entries.map((e) => e.text));
        for (const off of [0, 1, 255, 256, 0xffff, 0x10000, ...offsets]) {
          const ip = v4Text(BigInt(0x0a000000 + off));
          // The naive answer: among the blocks covering ip, the narrowest; among equal ones, the first listed.
          let want: { prefix: number; text: string } | null = null;
          for (const e of entries) if (off < 2 ** (32 - e.prefix) && (want === null || e.prefix > want.prefix)) want = e;
          assert.equal(m.match(ip), want?.text ?? null, `${ip} in ${JSON.stringify(entries.map((e) => e.text))}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('builds 10,000 mixed rules quickly and answers correctly', () => {
    const rules: string[] = [];
    for (let i = 0; i < 5000; i++) rules.push(`10.${(i >> 8) & 255}.${i & 255}.0/24`, `2001:db8:${i.toString(16)}::/48`);
    const t0 = process.hrtime.bigint();
    const m = new IpMatcher(rules);
    const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(buildMs < 2000, `built in ${buildMs} ms`);
    assert.equal(m.match('10.19.135.77'), '10.19.135.0/24');
    assert.equal(m.match('2001:db8:1387::1'), '2001:db8:1387::/48');
    assert.equal(m.contains('10.20.0.1'), false);
    assert.equal(m.contains('2001:db8:1388::1'), false);
  });
});
