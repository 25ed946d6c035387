/**
 * IP address and CIDR parsing for rule enforcement, with no dependency.
 *
 * Numeric form: an IPv4 address is one uint32; an IPv6 address is four
 * big-endian uint32 words. Both are written into a caller-owned
 * `Uint32Array(4)` so the per-request path (`parseIpInto`) allocates nothing.
 * BigInt is used only where speed does not matter (building matchers, tests):
 * a BigInt compare costs several times a uint32 compare on the lookup path.
 *
 * Accepted forms:
 * - IPv4 dotted quad, each octet 0-255 in plain decimal. Leading zeros
 *   (`010.0.0.1`) are rejected: `inet_aton` reads them as octal, so the same
 *   text means different addresses to different tools.
 * - IPv6 in every RFC 4291 form: full, `::`-compressed, embedded dotted IPv4
 *   in the last 32 bits, hextets with leading zeros (at most 4 digits), any
 *   letter case. A zone id (`fe80::1%eth0`) is stripped; it is not an address.
 * - IPv4-mapped IPv6 (`::ffff:1.2.3.4`, `::ffff:102:304`) is reported as the
 *   IPv4 address it maps, so it matches IPv4 rules: dual-stack servers report
 *   IPv4 clients that way.
 *
 * Whitespace is not trimmed here: callers that read rule lists trim them.
 */
import { GuardAgentValidationError } from '../errors.js';

export type IpFamily = 4 | 6;

/** A parsed address: `words[0]` for IPv4, `words[0..3]` for IPv6. */
export interface IpAddress {
  family: IpFamily;
  words: Uint32Array;
}

/** A parsed network. `first`/`last` are the inclusive bounds as BigInt. */
export interface Cidr {
  family: IpFamily;
  /** Prefix length within the family (0-32 for IPv4, 0-128 for IPv6). */
  prefix: number;
  first: bigint;
  last: bigint;
  /** Canonical `network/prefix` text (host bits cleared). */
  network: string;
}

/** Failure codes of the allocation-free parser, each with a readable reason. */
const REASONS = [
  'empty string',
  'not a valid IPv4 address (expected four decimal octets 0-255)',
  'IPv4 octet out of range (0-255)',
  'IPv4 octet with a leading zero (ambiguous: octal to some parsers)',
  'not a valid IPv6 address',
  'IPv6 group longer than 4 hex digits',
  'IPv6 address has more than one "::"',
  'IPv6 address has the wrong number of groups',
  'empty or malformed zone id after "%"',
  'zone id on an IPv4 address',
] as const;
const E_EMPTY = -1;
const E_V4 = -2;
const E_V4_RANGE = -3;
const E_V4_ZERO = -4;
const E_V6 = -5;
const E_V6_GROUP = -6;
const E_V6_DOUBLE = -7;
const E_V6_COUNT = -8;
const E_ZONE = -9;
const E_V4_ZONE = -10;

/** Longest address text (before any zone id): `0000:0000:0000:0000:0000:ffff:255.255.255.255`. */
const MAX_ADDRESS = 45;

const groups = new Uint16Array(8);

/** Parses `s[start, end)` as dotted IPv4; returns the uint32 value or a negative code. */
function parseV4(s: string, start: number, end: number): number {
  let value = 0;
  let octets = 0;
  let i = start;
  while (true) {
    const begin = i;
    let octet = 0;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      octet = octet * 10 + (c - 48);
      i++;
      if (i - begin > 3) return E_V4;
    }
    if (i === begin) return E_V4;
    if (octet > 255) return E_V4_RANGE;
    if (i - begin > 1 && s.charCodeAt(begin) === 48) return E_V4_ZERO;
    value = value * 256 + octet;
    octets++;
    if (i === end) break;
    if (s.charCodeAt(i) !== 46 || octets === 4) return E_V4;
    i++;
  }
  return octets === 4 ? value : E_V4;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

/** Parses `s[start, end)` as IPv6 into `groups`; returns 6 or a negative code. */
function parseV6(s: string, start: number, end: number): number {
  let n = 0;
  let gap = -1;
  let i = start;
  if (s.charCodeAt(i) === 58) {
    if (s.charCodeAt(i + 1) !== 58 || i + 1 >= end) return E_V6;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    if (n === 8) return E_V6_COUNT;
    let j = i;
    let v = 0;
    while (j < end) {
      const h = hexValue(s.charCodeAt(j));
      if (h < 0) break;
      v = v * 16 + h;
      j++;
    }
    if (j === i) return E_V6;
    if (j < end && s.charCodeAt(j) === 46) {
      if (n > 6) return E_V6_COUNT;
      const v4 = parseV4(s, i, end);
      if (v4 < 0) return v4;
      groups[n++] = Math.floor(v4 / 65536);
      groups[n++] = v4 & 0xffff;
      break;
    }
    if (j - i > 4) return E_V6_GROUP;
    groups[n++] = v;
    if (j === end) break;
    if (s.charCodeAt(j) !== 58) return E_V6;
    j++;
    if (j < end && s.charCodeAt(j) === 58) {
      if (gap !== -1) return E_V6_DOUBLE;
      gap = n;
      j++;
    } else if (j === end) {
      return E_V6;
    }
    i = j;
  }
  if (gap === -1) {
    if (n !== 8) return E_V6_COUNT;
  } else {
    if (n > 7) return E_V6_COUNT;
    const tail = n - gap;
    for (let k = 0; k < tail; k++) groups[7 - k] = groups[n - 1 - k];
    for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  }
  return 6;
}

/**
 * Core parser shared by every entry point. Writes the address into `out` and
 * returns its family (4 or 6) or a negative failure code. With `unmap`, an
 * IPv4-mapped IPv6 address comes back as family 4.
 */
function parseRaw(s: string, out: Uint32Array, unmap: boolean): number {
  const len = s.length;
  if (len === 0) return E_EMPTY;
  let end = s.indexOf('%');
  const colon = s.indexOf(':');
  if (end >= 0) {
    if (colon < 0 || colon > end) return E_V4_ZONE;
    if (end === len - 1) return E_ZONE;
    // Zone ids are interface names or numbers: printable ASCII, no space, no second '%'.
    for (let k = end + 1; k < len; k++) {
      const c = s.charCodeAt(k);
      if (c <= 0x20 || c >= 0x7f || c === 37) return E_ZONE;
    }
  } else {
    end = len;
  }
  if (end > MAX_ADDRESS) return colon >= 0 ? E_V6 : E_V4;
  if (colon < 0) {
    const v = parseV4(s, 0, end);
    if (v < 0) return v;
    out[0] = v;
    return 4;
  }
  const r = parseV6(s, 0, end);
  if (r < 0) return r;
  if (unmap && groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    out[0] = groups[6] * 65536 + groups[7];
    return 4;
  }
  out[0] = groups[0] * 65536 + groups[1];
  out[1] = groups[2] * 65536 + groups[3];
  out[2] = groups[4] * 65536 + groups[5];
  out[3] = groups[6] * 65536 + groups[7];
  return 6;
}

/**
 * Allocation-free parse for the request path: writes into `out` (length >= 4)
 * and returns 4, 6, or 0 when `ip` is not an address. IPv4-mapped IPv6 comes
 * back as 4.
 */
export function parseIpInto(ip: string, out: Uint32Array): 0 | IpFamily {
  const r = parseRaw(ip, out, true);
  return r < 0 ? 0 : (r as IpFamily);
}

/** Why `ip` is not a valid address, or null when it is. */
export function ipProblem(ip: string): string | null {
  if (typeof ip !== 'string') return 'not a string';
  const r = parseRaw(ip, new Uint32Array(4), true);
  return r < 0 ? REASONS[-r - 1] : null;
}

export function isValidIp(ip: string): boolean {
  return typeof ip === 'string' && parseRaw(ip, new Uint32Array(4), true) > 0;
}

/** Parses an address; throws `GuardAgentValidationError` (field `ip`) with the reason. */
export function parseIp(ip: string): IpAddress {
  const words = new Uint32Array(4);
  const r = typeof ip === 'string' ? parseRaw(ip, words, true) : E_EMPTY;
  if (r < 0) throw invalid('ip', ip, REASONS[-r - 1]);
  return { family: r as IpFamily, words: r === 4 ? words.subarray(0, 1) : words };
}

/** The address as a BigInt within its family (IPv4: 32 bits, IPv6: 128 bits). */
export function ipToBigInt(ip: IpAddress): bigint {
  if (ip.family === 4) return BigInt(ip.words[0]);
  let v = 0n;
  for (let k = 0; k < 4; k++) v = (v << 32n) | BigInt(ip.words[k]);
  return v;
}

/** Canonical text of a BigInt address (IPv6 per RFC 5952: lower case, longest zero run as `::`). */
export function formatIp(value: bigint, family: IpFamily): string {
  if (family === 4) {
    const n = Number(value);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const parts: number[] = [];
  for (let k = 7; k >= 0; k--) parts.push(Number((value >> BigInt(k * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (parts[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && parts[e] === 0) e++;
    if (e - k > bestLen) {
      bestStart = k;
      bestLen = e - k;
    }
    k = e;
  }
  const hex = parts.map((p) => p.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/**
 * Parses `address/prefix` or a bare address (a host route: /32 or /128).
 * Host bits below the prefix are cleared (`10.0.0.1/8` is `10.0.0.0/8`), as
 * the backend's rule lists are written by people. An IPv4-mapped network with
 * prefix >= 96 becomes the IPv4 network it maps (`::ffff:10.0.0.0/104` is
 * `10.0.0.0/8`). Throws `GuardAgentValidationError` (field `cidr`).
 */
export function parseCidr(text: string): Cidr {
  const r = tryParseCidr(text);
  if (typeof r === 'string') throw invalid('cidr', text, r);
  return r;
}

/** Why `text` is not an IP or CIDR, or null when it is. Validates only: no BigInt, no canonical text built. */
export function cidrProblem(text: string): string | null {
  const r = parseCidrInto(text, new Uint32Array(4));
  return typeof r === 'string' ? r : null;
}

/** A network parsed by `parseCidrInto`: the family and prefix; the address is in the caller's words. */
export interface RawCidr {
  family: IpFamily;
  prefix: number;
}

/**
 * The cheap core of `tryParseCidr`: parses `address/prefix` or a bare
 * address, writing the address (host bits not cleared) into `words` as
 * `parseIpInto` does, and returns its family and prefix, or the reason it is
 * invalid. An IPv4-mapped network with prefix >= 96 comes back as the IPv4
 * network it maps. Building matchers and validating rule lists parse every
 * entry: a 300,000-entry ruleset spent over a second of the host's event
 * loop in BigInt arithmetic and canonical text that neither needs.
 */
export function parseCidrInto(text: string, words: Uint32Array): RawCidr | string {
  if (typeof text !== 'string') return 'not a string';
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const r = parseRaw(addr, words, false);
  if (r < 0) return REASONS[-r - 1];
  const bits = r === 4 ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    if (addr.includes('%')) return 'zone id in a network';
    prefix = decimalPrefix(text, slash + 1);
    if (prefix < 0) return `prefix length must be a decimal number 0-${bits}`;
    if (prefix > bits) return `prefix length ${prefix} out of range for IPv${r} (0-${bits})`;
  }
  if (r === 6 && prefix >= 96 && words[0] === 0 && words[1] === 0 && words[2] === 0xffff) {
    words[0] = words[3];
    return { family: 4, prefix: prefix - 96 };
  }
  return { family: r as IpFamily, prefix };
}

/** `text[from..]` as one to three decimal digits, or -1. */
function decimalPrefix(text: string, from: number): number {
  const len = text.length - from;
  if (len < 1 || len > 3) return -1;
  let v = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

/** `parseCidr` without the throw: the Cidr, or the reason it is invalid. */
export function tryParseCidr(text: string): Cidr | string {
  const words = new Uint32Array(4);
  const r = parseCidrInto(text, words);
  if (typeof r === 'string') return r;
  return cidrFromValue(ipToBigInt({ family: r.family, words }), r.family, r.prefix);
}

/** Builds a Cidr from an address value and prefix, clearing host bits. */
export function cidrFromValue(value: bigint, family: IpFamily, prefix: number): Cidr {
  const bits = family === 4 ? 32 : 128;
  const hostBits = BigInt(bits - prefix);
  const hostMask = (1n << hostBits) - 1n;
  const first = value & ~hostMask & ((1n << BigInt(bits)) - 1n);
  const last = first | hostMask;
  return { family, prefix, first, last, network: `${formatIp(first, family)}/${prefix}` };
}

function invalid(field: string, value: unknown, reason: string): GuardAgentValidationError {
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 64 ? value.slice(0, 64) + '…' : value) : typeof value;
  return new GuardAgentValidationError({ field, message: `${shown}: ${reason}` }, field === 'ip' ? 'IP address' : 'IP or CIDR');
}
