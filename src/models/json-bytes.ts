/**
 * Sizes and cuts strings by what they cost on the wire: the UTF-8 bytes of
 * their JSON form. A UTF-16 length understates that up to six times (a
 * control character escapes to `\u00XX`, 6 bytes; a lone surrogate to
 * `\udXXX`, 6 bytes; most CJK is 3 bytes), so a cap in characters does not
 * bound an event in bytes.
 */

/** What a cut string ends with, so a reader sees it is not whole. */
export const CUT_SUFFIX = '...[TRUNCATED]';

/** UTF-8 bytes JSON.stringify writes for the code unit at `i` of `s` (a surrogate pair counts at its first unit, 0 at its second). */
function unitCost(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c < 0x20) return c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d ? 2 : 6;
  if (c === 0x22 || c === 0x5c) return 2;
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c >= 0xd800 && c <= 0xdbff) {
    const next = s.charCodeAt(i + 1);
    return next >= 0xdc00 && next <= 0xdfff ? 4 : 6;
  }
  if (c >= 0xdc00 && c <= 0xdfff) {
    const prev = s.charCodeAt(i - 1);
    return prev >= 0xd800 && prev <= 0xdbff ? 0 : 6;
  }
  return 3;
}

/** UTF-8 bytes of `JSON.stringify(s)` without its two quotes. */
export function jsonStringBytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) n += unitCost(s, i);
  return n;
}

/**
 * The longest prefix of `s` (a surrogate pair never split), followed by
 * CUT_SUFFIX when there is room for it, whose JSON form costs at most
 * `maxBytes` without its quotes. `s` itself when it already fits.
 */
export function cutToJsonBytes(s: string, maxBytes: number): string {
  if (jsonStringBytes(s) <= maxBytes) return s;
  const suffix = maxBytes >= CUT_SUFFIX.length ? CUT_SUFFIX : '';
  const room = maxBytes - suffix.length;
  let used = 0;
  let end = 0;
  while (end < s.length) {
    const c = s.charCodeAt(end);
    const pair = c >= 0xd800 && c <= 0xdbff && end + 1 < s.length && s.charCodeAt(end + 1) >= 0xdc00 && s.charCodeAt(end + 1) <= 0xdfff;
    const cost = unitCost(s, end);
    if (used + cost > room) break;
    used += cost;
    end += pair ? 2 : 1;
  }
  return s.slice(0, end) + suffix;
}

/**
 * Caps strings so their JSON forms (quotes excluded) cost at most `budget`
 * bytes together: strings under the fair share keep every byte, and what
 * they leave goes to the longer ones, which are cut to equal shares. Null
 * stays null. Returns a new array; the input is not changed.
 */
export function fitStrings(values: readonly (string | null)[], budget: number): (string | null)[] {
  const costs = values.map((v) => (v === null ? 0 : jsonStringBytes(v)));
  let total = 0;
  for (const c of costs) total += c;
  if (total <= budget) return values.slice();
  const order = values.map((_, i) => i).filter((i) => values[i] !== null).sort((a, b) => costs[a] - costs[b]);
  const out = values.slice();
  let remaining = Math.max(0, budget);
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    const share = Math.floor(remaining / (order.length - k));
    if (costs[i] <= share) {
      remaining -= costs[i];
      continue;
    }
    const cut = cutToJsonBytes(values[i]!, share);
    out[i] = cut;
    remaining -= jsonStringBytes(cut);
  }
  return out;
}
