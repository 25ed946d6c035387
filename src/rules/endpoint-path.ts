/**
 * endpointPathKey: the one form in which endpoint rate-limit paths are
 * compared, applied alike to the rule keys and to each request's path.
 *
 * Routers do not route on the raw path: Express (and most others) ignores a
 * trailing slash and letter case by default, so `/login/`, `/LOGIN` and
 * `/Login/` all reach the `/login` handler. A limit keyed by the raw path
 * let every such spelling through uncounted. The key is therefore:
 *
 *  - the path without its query string or fragment;
 *  - percent-escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`)
 *    decoded, as RFC 3986 section 6.2.2.2 allows (`/%6Cogin` is `/login`);
 *    any other escape (`%2F` is data, not a separator) and a malformed one
 *    (`%zz`) stay as they are;
 *  - repeated slashes collapsed to one;
 *  - a trailing slash removed, except for the root `/`;
 *  - lower-cased.
 *
 * Erring towards "same endpoint" is the safe side here: at worst a request
 * an app routes elsewhere counts against a limit, never the reverse.
 */

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const ESCAPE = /%([0-9A-Fa-f]{2})/g;
/** Anything `endpointPathKey` would change; most request paths have none of it and are returned as they are. */
const NEEDS_WORK = /[?#%A-Z]|\/\/|.\/$/;

export function endpointPathKey(path: string): string {
  if (!NEEDS_WORK.test(path)) return path;
  let p = path;
  const q = p.search(/[?#]/);
  if (q >= 0) p = p.slice(0, q);
  if (p.includes('%')) {
    p = p.replace(ESCAPE, (escape: string, hex: string) => {
      const c = String.fromCharCode(parseInt(hex, 16));
      return UNRESERVED.test(c) ? c : escape;
    });
  }
  p = p.toLowerCase().replace(/\/{2,}/g, '/');
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

/**
 * The endpoint limits keyed by `endpointPathKey`. Two rule keys that
 * normalise alike (`/login` and `/Login/`) would be one endpoint with two
 * limits: the stricter (fewer requests per second) applies, so a spelling
 * variant in the rules never loosens a limit.
 */
export function endpointLimitTable(limits: Readonly<Record<string, [number, number]>>): Map<string, [number, number]> {
  const table = new Map<string, [number, number]>();
  for (const [path, limit] of Object.entries(limits)) {
    // Only unsanitized input (RuleEngine's `sanitized: true` misused) has anything else here.
    if (!Array.isArray(limit)) continue;
    const key = endpointPathKey(path);
    const existing = table.get(key);
    if (existing === undefined || limit[0] / limit[1] < existing[0] / existing[1]) table.set(key, limit);
  }
  return table;
}
