/**
 * The scripted traffic the demo sends to the example app (examples/express.ts),
 * one fixed cycle of 20 requests repeated: about half ordinary requests, and the rest
 * chosen so the app answers 401, 403 and 429 and rejects attack-looking input.
 * Each of those answers is a security event, so the demo knows how many
 * events to expect from the statuses it got back.
 */

export type TrafficKind = 'normal' | 'unauthorized' | 'forbidden' | 'rate_limited' | 'attack';

export const TRAFFIC_KINDS: readonly TrafficKind[] = ['normal', 'unauthorized', 'forbidden', 'rate_limited', 'attack'];

export interface ScriptedRequest {
  kind: TrafficKind;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

const UA = 'guard-demo/1.0';
const JSON_HEADERS = { 'content-type': 'application/json', 'user-agent': UA };

type Make = (i: number) => ScriptedRequest;

const get = (kind: TrafficKind, path: string, headers: Record<string, string> = {}): ScriptedRequest => ({
  kind,
  method: 'GET',
  path,
  headers: { 'user-agent': UA, ...headers },
});
const login = (kind: TrafficKind, password: string): ScriptedRequest => ({
  kind,
  method: 'POST',
  path: '/login',
  headers: JSON_HEADERS,
  body: JSON.stringify({ user: 'ada', password }),
});

const user: Make = (i) => get('normal', `/users/${(i * 7) % 101}`);
const team: Make = (i) => get('normal', `/teams/${['blue', 'red', 'green'][i % 3]}/members`);
const goodLogin: Make = () => login('normal', 'correct horse');
const admin: Make = () => get('normal', '/admin', { authorization: 'Bearer admin-token' });
const badLogin: Make = () => login('unauthorized', 'guess');
const forbidden: Make = () => get('forbidden', '/admin');
// The app allows 3 searches per client per 10 s: after the first few, these are 429s.
const search: Make = (i) => get('rate_limited', `/search?q=${['shoes', 'hats', 'socks'][i % 3]}`);
const attacks: Make[] = [
  () => get('attack', `/search?q=${encodeURIComponent("' OR 1=1--")}`),
  () => get('attack', `/users/${encodeURIComponent('../../etc/passwd')}`),
  () => get('attack', `/search?q=${encodeURIComponent('<script>alert(1)</script>')}`),
  (i) => get('attack', `/users/${i % 101}`, { 'user-agent': 'sqlmap/1.7.2#stable (https://sqlmap.org)' }),
];

/** One cycle: 9 normal, 2 bad logins, 2 forbidden, 3 searches, 4 attacks, interleaved. */
const CYCLE: Make[] = [
  user, badLogin, team, attacks[0], search, user, forbidden, goodLogin, attacks[1], user,
  search, team, badLogin, admin, attacks[2], user, forbidden, search, attacks[3], user,
];

/** The `i`-th request of the script (deterministic). */
export function scriptedRequest(i: number): ScriptedRequest {
  const make = CYCLE[i % CYCLE.length];
  return make(i);
}

/**
 * Whether the app's answer to `req` is one the guard reports: 401, 403 and
 * 429 through the instrumentation, a rejected attack (400) through the app's
 * own `sendEvent`.
 */
export function raisesSecurityEvent(req: ScriptedRequest, status: number): boolean {
  if (status === 401 || status === 403 || status === 429) return true;
  return req.kind === 'attack' && status === 400;
}
