import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import { GuardAgentValidationError } from '../../src/errors.js';
import { cidrProblem, formatIp, ipProblem, ipToBigInt, isValidIp, parseCidr, parseIp, parseIpInto } from '../../src/rules/ip-address.js';

const text = (ip: string): string => {
  const a = parseIp(ip);
  return `v${a.family} ${formatIp(ipToBigInt(a), a.family)}`;
};

describe('rules/ip-address', () => {
  describe('parseIp', () => {
    it('parses IPv4 dotted quads at the edges of the range', () => {
      assert.equal(text('0.0.0.0'), 'v4 0.0.0.0');
      assert.equal(text('255.255.255.255'), 'v4 255.255.255.255');
      assert.equal(ipToBigInt(parseIp('1.2.3.4')), 0x01020304n);
    });

    it('parses every compressed IPv6 form', () => {
      assert.equal(text('::'), 'v6 ::');
      assert.equal(text('::1'), 'v6 ::1');
      assert.equal(text('1::'), 'v6 1::');
      assert.equal(text('2001:db8::'), 'v6 2001:db8::');
      assert.equal(text('2001:DB8:0:0:0:0:0:1'), 'v6 2001:db8::1');
      assert.equal(text('1:2:3:4:5:6:7::'), 'v6 1:2:3:4:5:6:7:0');
      assert.equal(text('::2:3:4:5:6:7:8'), 'v6 0:2:3:4:5:6:7:8');
      assert.equal(text('1:0:0:2::3'), 'v6 1:0:0:2::3');
      assert.equal(text('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), 'v6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
    });

    it('accepts IPv6 hextets with leading zeros, up to four digits', () => {
      assert.equal(text('2001:0db8:0000:0000:0000:0000:0000:0001'), 'v6 2001:db8::1');
      assert.equal(text('0001::000a'), 'v6 1::a');
      assert.match(ipProblem('00001::1') ?? '', /longer than 4 hex digits/);
    });

    it('reads IPv4-mapped IPv6 (dotted and hex) as the IPv4 address', () => {
      assert.equal(text('::ffff:10.0.0.1'), 'v4 10.0.0.1');
      assert.equal(text('::FFFF:0a00:0001'), 'v4 10.0.0.1');
      assert.equal(text('0:0:0:0:0:ffff:192.168.1.1'), 'v4 192.168.1.1');
      // IPv4-compatible (deprecated) and other embedded forms stay IPv6.
      assert.equal(text('::1.2.3.4'), 'v6 ::102:304');
      assert.equal(text('64:ff9b::1.2.3.4'), 'v6 64:ff9b::102:304');
    });

    it('strips an IPv6 zone id but rejects an empty one or one on IPv4', () => {
      assert.equal(text('fe80::1%eth0'), 'v6 fe80::1');
      assert.equal(text('fe80::1%25'), 'v6 fe80::1');
      assert.match(ipProblem('fe80::1%') ?? '', /empty or malformed zone id/);
      assert.equal(isValidIp("fe80::1%a b"), false);
      assert.match(ipProblem('1.2.3.4%eth0') ?? '', /zone id on an IPv4/);
    });

    it('rejects out-of-range and ambiguous IPv4', () => {
      assert.match(ipProblem('256.0.0.1') ?? '', /out of range/);
      assert.match(ipProblem('1.2.3.999') ?? '', /out of range|four decimal/);
      assert.match(ipProblem('010.0.0.1') ?? '', /leading zero/);
      assert.match(ipProblem('1.2.3.04') ?? '', /leading zero/);
      for (const bad of ['1.2.3', '1.2.3.4.5', '1..2.3', '1.2.3.', '.1.2.3', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.-4', '0x1.2.3.4', '1.2.3.4/32', '']) {
        assert.equal(isValidIp(bad), false, bad);
      }
    });

    it('rejects malformed IPv6', () => {
      for (const bad of [':', ':::', '1:::2', '1::2::3', ':1::2', '1::2:', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1::2:3:4:5:6:7:8', 'g::1', '::ffff:256.1.1.1', '::ffff:1.2.3', '1.2.3.4::', '::1.2.3.4:5', 'x'.repeat(200) + ':']) {
        assert.equal(isValidIp(bad), false, bad);
        assert.equal(typeof ipProblem(bad), 'string', bad);
      }
    });

    it('throws a GuardAgentValidationError naming the input and the reason', () => {
      assert.throws(
        () => parseIp('300.1.1.1'),
        (err: unknown) => err instanceof GuardAgentValidationError && err.field === 'ip' && /"300\.1\.1\.1".*out of range/.test(err.message),
      );
      assert.throws(() => parseIp(42 as unknown as string), GuardAgentValidationError);
      assert.equal(isValidIp(null as unknown as string), false);
    });

    it('parseIpInto writes into the caller buffer and returns 0 for garbage', () => {
      const out = new Uint32Array(4);
      assert.equal(parseIpInto('2001:db8::ff', out), 6);
      assert.deepEqual([...out], [0x20010db8, 0, 0, 0xff]);
      assert.equal(parseIpInto('::ffff:1.2.3.4', out), 4);
      assert.equal(out[0], 0x01020304);
      assert.equal(parseIpInto('nope', out), 0);
    });

    it('agrees with node:net isIP on validity (property)', () => {
      const chars = fc.constantFrom(...'0123456789abcdefABCDEF:.%'.split(''), '::', '1.2.3.4', 'ffff', '255', '256', '00');
      fc.assert(
        fc.property(fc.array(chars, { maxLength: 24 }).map((a) => a.join('')), (s) => {
          assert.equal(isValidIp(s), net.isIP(s) !== 0, JSON.stringify(s));
        }),
        { numRuns: 20000 },
      );
    });

    it('round-trips random addresses through every textual form (property)', () => {
      const word = fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
      fc.assert(
        fc.property(fc.array(word, { minLength: 8, maxLength: 8 }), fc.boolean(), (groups, upper) => {
          const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
          const full = groups.map((g) => g.toString(16).padStart(4, '0')).join(':');
          const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1); // WHATWG serializer, independent of ours
          const mapped = value >> 32n === 0xffffn;
          for (const form of [full, compressed, upper ? full.toUpperCase() : compressed + '%zone']) {
            const ip = parseIp(form);
            if (mapped) {
              assert.equal(ip.family, 4);
              assert.equal(ipToBigInt(ip), value & 0xffffffffn);
            } else {
              assert.equal(ip.family, 6);
              assert.equal(ipToBigInt(ip), value);
              assert.equal(formatIp(value, 6), compressed, 'RFC 5952 text like the URL serializer');
            }
          }
        }),
        { numRuns: 3000 },
      );
    });
  });

  describe('parseCidr', () => {
    it('parses IPv4 and IPv6 networks with their bounds', () => {
      const v4 = parseCidr('192.168.0.0/16');
      assert.equal(v4.family, 4);
      assert.equal(v4.first, 0xc0a80000n);
      assert.equal(v4.last, 0xc0a8ffffn);
      const v6 = parseCidr('2001:db8::/32');
      assert.equal(v6.family, 6);
      assert.equal(v6.network, '2001:db8::/32');
      assert.equal(v6.last, (0x20010db8n << 96n) | ((1n << 96n) - 1n));
    });

    it('accepts /0 to /32 for IPv4 and /0 to /128 for IPv6, nothing beyond', () => {
      assert.equal(parseCidr('0.0.0.0/0').last, 0xffffffffn);
      assert.equal(parseCidr('1.2.3.4/32').first, 0x01020304n);
      assert.equal(parseCidr('::/0').last, (1n << 128n) - 1n);
      assert.equal(parseCidr('::1/128').first, 1n);
      assert.match(cidrProblem('1.2.3.4/33') ?? '', /out of range for IPv4/);
      assert.match(cidrProblem('::/129') ?? '', /out of range for IPv6/);
      for (const bad of ['1.2.3.4/', '1.2.3.4/-1', '1.2.3.4/ 8', '1.2.3.4/8/8', '1.2.3.4/0x8', '/8', 'fe80::%eth0/64']) {
        assert.equal(typeof cidrProblem(bad), 'string', bad);
      }
      assert.throws(() => parseCidr('10.0.0.0/40'), (e: unknown) => e instanceof GuardAgentValidationError && e.field === 'cidr');
    });

    it('treats a bare address as a host route', () => {
      assert.equal(parseCidr('10.0.0.1').prefix, 32);
      assert.equal(parseCidr('2001:db8::1').prefix, 128);
      assert.equal(parseCidr('::ffff:10.0.0.1').network, '10.0.0.1/32');
    });

    it('clears host bits and maps ::ffff:0:0/96 networks to IPv4', () => {
      assert.equal(parseCidr('10.1.2.3/8').network, '10.0.0.0/8');
      assert.equal(parseCidr('2001:db8:1:2::5/32').network, '2001:db8::/32');
      const mapped = parseCidr('::ffff:10.0.0.0/104');
      assert.equal(mapped.family, 4);
      assert.equal(mapped.network, '10.0.0.0/8');
      assert.equal(parseCidr('::ffff:0:0/96').network, '0.0.0.0/0');
      assert.equal(parseCidr('::ffff:0:0/95').family, 6, 'wider than the mapped range: stays IPv6');
    });
  });
});
