/**
 * Deterministic, realistic security events for the benches: camelCase as
 * `@guardcore/core` sends them, mixed event types, varied IPs, paths and
 * user agents, and a small metadata object (so keys and values compress
 * like real traffic, not like one repeated template).
 */
const TYPES = ['rate_limited', 'ip_banned', 'suspicious_request', 'user_agent_blocked', 'country_blocked', 'dynamic_rule_applied'] as const;
const ACTIONS = ['request_blocked', 'ip_banned', 'logged', 'request_blocked', 'request_blocked', 'rules_updated'] as const;
const PATHS = ['/api/login', '/api/items', '/wp-login.php', '/admin', '/api/search', '/.env'];
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36', 'curl/8.5.0', 'python-requests/2.32', 'sqlmap/1.8#stable', 'Go-http-client/1.1'];

/** Deterministic PRNG (mulberry32) so benchmark runs are comparable. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` event inputs (plain objects, camelCase, `timestamp` a Date). */
export function makeEventInputs(n: number, seed = 42): Record<string, unknown>[] {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const hex = (len: number): string => {
    let out = '';
    while (out.length < len) out += Math.floor(rand() * 0x100000000).toString(16).padStart(8, '0');
    return out.slice(0, len);
  };
  const base = Date.UTC(2026, 10, 20, 12, 0, 0);
  return Array.from({ length: n }, (_, i) => {
    const k = Math.floor(rand() * TYPES.length);
    const ip = `${1 + Math.floor(rand() * 222)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}`;
    const path = pick(PATHS);
    return {
      timestamp: new Date(base + i * 7),
      eventType: TYPES[k],
      ipAddress: ip,
      country: rand() < 0.3 ? null : pick(['US', 'DE', 'CN', 'BR', 'RU', 'IN']),
      userAgent: pick(AGENTS),
      actionTaken: ACTIONS[k],
      reason: TYPES[k] === 'rate_limited' ? `Rate limit exceeded: ${10 + Math.floor(rand() * 90)} requests in 60s` : `Blocked by ${TYPES[k]} on ${path}`,
      endpoint: path,
      method: rand() < 0.7 ? 'GET' : 'POST',
      statusCode: k === 5 ? null : rand() < 0.5 ? 403 : 429,
      responseTime: Math.round(rand() * 50_000) / 1e6,
      ruleType: k === 5 ? 'dynamic' : null,
      metadata: { request_id: hex(16), attempts: 1 + Math.floor(rand() * 20), window: 60, route: path, trusted_proxy: rand() < 0.2 },
    };
  });
}
