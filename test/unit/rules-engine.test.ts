import assert from 'node:assert/strict';
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { defaultDynamicRules, type DynamicRules } from '../../src/models/dynamic-rules.js';
import { ALLOW, RuleEngine, type Decision, type RuleRequest } from '../../src/rules/rule-engine.js';
import { MemorySlidingWindow, type HitResult, type SlidingWindowLimiter } from '../../src/rules/sliding-window.js';

const rules = (over: Partial<DynamicRules>): DynamicRules => ({ ...defaultDynamicRules(), ...over });
const req = (over: Partial<RuleRequest> = {}): RuleRequest => ({ ip: '198.51.100.7', userAgent: 'Mozilla/5.0', country: 'US', path: '/', now: 1_000_000, ...over });
const sync = (d: Decision | Promise<Decision>): Decision => {
  assert.ok(!(d instanceof Promise), 'memory limiter: evaluate is synchronous');
  return d;
};
const kind = (d: Decision): string => (d.action === 'allow' ? 'allow' : `${d.status} ${d.eventType}`);

describe('rules/rule-engine', () => {
  it('allows everything with the default rules, returning the shared ALLOW object', () => {
    const engine = new RuleEngine(defaultDynamicRules());
    assert.equal(sync(engine.evaluate(req())), ALLOW);
    assert.equal(engine.checkAccess(req()), null);
  });

  it('blocks a blacklisted IP (CIDR, IPv6, mapped) with the matching rule', () => {
    const engine = new RuleEngine(rules({ ipBlacklist: ['198.51.100.0/24', '2001:db8::/32'] }));
    const d = sync(engine.evaluate(req()));
    assert.deepEqual(d, { action: 'block', status: 403, eventType: 'ip_blocked', reason: 'IP 198.51.100.7 is blacklisted', rule: '198.51.100.0/24' });
    assert.equal(kind(sync(engine.evaluate(req({ ip: '::ffff:198.51.100.9' })))), '403 ip_blocked');
    assert.equal(kind(sync(engine.evaluate(req({ ip: '2001:db8::5' })))), '403 ip_blocked');
    assert.equal(kind(sync(engine.evaluate(req({ ip: '198.51.101.7' })))), 'allow');
  });

  it('ipWhitelist passes every check except emergency mode', () => {
    const base = {
      ipWhitelist: ['198.51.100.7'],
      ipBlacklist: ['198.51.100.0/24'],
      blockedCountries: ['US'],
      blockedUserAgents: ['mozilla'],
      globalRateLimit: 1,
      globalRateWindow: 60,
    };
    const engine = new RuleEngine(rules(base));
    for (let i = 0; i < 3; i++) assert.equal(sync(engine.evaluate(req())), ALLOW);
    const emergency = new RuleEngine(rules({ ...base, emergencyMode: true }));
    assert.equal(kind(sync(emergency.evaluate(req()))), '403 emergency_mode_block');
  });

  it('emergency mode: only the emergency whitelist passes, and it still meets the other checks', () => {
    const engine = new RuleEngine(rules({ emergencyMode: true, emergencyWhitelist: ['10.0.0.0/8', '::1'], ipBlacklist: ['10.9.9.9'] }));
    const blocked = sync(engine.evaluate(req()));
    assert.equal(kind(blocked), '403 emergency_mode_block');
    assert.equal(sync(engine.evaluate(req({ ip: '10.1.2.3' }))), ALLOW);
    assert.equal(sync(engine.evaluate(req({ ip: '::1' }))), ALLOW);
    assert.equal(kind(sync(engine.evaluate(req({ ip: '10.9.9.9' })))), '403 ip_blocked');
    assert.equal(kind(sync(engine.evaluate(req({ ip: 'garbage' })))), '403 emergency_mode_block', 'an unparseable address is not whitelisted');
    const empty = new RuleEngine(rules({ emergencyMode: true }));
    assert.equal(kind(sync(empty.evaluate(req({ ip: '127.0.0.1' })))), '403 emergency_mode_block');
  });

  it('blocks countries by blacklist and by a non-empty whitelist; an unknown country is never blocked', () => {
    const black = new RuleEngine(rules({ blockedCountries: ['ru', 'CN'] }));
    assert.deepEqual(sync(black.evaluate(req({ country: 'ru' }))), { action: 'block', status: 403, eventType: 'country_blocked', reason: 'country RU is blocked', rule: 'RU' });
    assert.equal(sync(black.evaluate(req({ country: 'US' }))), ALLOW);
    const white = new RuleEngine(rules({ whitelistCountries: ['US', 'CA'] }));
    assert.equal(sync(white.evaluate(req({ country: 'us' }))), ALLOW);
    const de = sync(white.evaluate(req({ country: 'DE' })));
    assert.equal(kind(de), '403 country_blocked');
    assert.match(de.action === 'block' ? de.reason : '', /not in the country whitelist/);
    for (const country of [null, undefined, '', 'XXX', 'ZZ '.trim().slice(0, 1)]) {
      assert.equal(sync(white.evaluate(req({ country }))), ALLOW, `unknown country ${String(country)}`);
    }
  });

  it('blocks user agents case-insensitively, as substrings or regexes, naming the rule', () => {
    const engine = new RuleEngine(rules({ blockedUserAgents: ['curl', 'python-requests/\\d+', '^$nope', 'Go-http-client'] }));
    const d = sync(engine.evaluate(req({ userAgent: 'Python-Requests/2.31' })));
    assert.deepEqual(d, { action: 'block', status: 403, eventType: 'user_agent_blocked', reason: 'user agent is blocked', rule: 'python-requests/\\d+' });
    assert.equal(kind(sync(engine.evaluate(req({ userAgent: 'my CURL/8.1' })))), '403 user_agent_blocked');
    assert.equal(sync(engine.evaluate(req({ userAgent: 'Mozilla/5.0' }))), ALLOW);
    assert.equal(sync(engine.evaluate(req({ userAgent: undefined }))), ALLOW);
    // Only the first maxUserAgentLength characters are tested.
    const bounded = new RuleEngine(rules({ blockedUserAgents: ['evil'] }), { maxUserAgentLength: 16 });
    assert.equal(sync(bounded.evaluate(req({ userAgent: 'x'.repeat(20) + 'evil' }))), ALLOW);
    assert.equal(kind(sync(bounded.evaluate(req({ userAgent: 'xx evil' })))), '403 user_agent_blocked');
  });

  it('refuses patterns with backreferences (RE2 has none) and enforces the rest', () => {
    const engine = new RuleEngine(rules({ blockedUserAgents: ['(ab)\\1', 'zz'] }));
    assert.deepEqual(engine.rules.blockedUserAgents, ['zz']);
    assert.equal(engine.problems[0].field, 'blockedUserAgents[0]');
    assert.equal(sync(engine.evaluate(req({ userAgent: 'xABABx' }))), ALLOW);
    assert.equal(kind(sync(engine.evaluate(req({ userAgent: 'zz' })))), '403 user_agent_blocked');
  });

  it('checks in order: emergency, whitelist, blacklist, country, user agent, rate limit', () => {
    const all = {
      emergencyMode: true,
      emergencyWhitelist: ['198.51.100.7', '203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'],
      ipBlacklist: ['198.51.100.7'],
      blockedCountries: ['US'],
      blockedUserAgents: ['curl'],
      globalRateLimit: 1,
      globalRateWindow: 60,
    };
    const engine = new RuleEngine(rules(all));
    const r = { country: 'US', userAgent: 'curl' };
    assert.equal(kind(sync(engine.evaluate(req({ ...r, ip: '192.0.2.1' })))), '403 emergency_mode_block');
    assert.equal(kind(sync(engine.evaluate(req({ ...r, ip: '198.51.100.7' })))), '403 ip_blocked');
    assert.equal(kind(sync(engine.evaluate(req({ ...r, ip: '203.0.113.1' })))), '403 country_blocked');
    assert.equal(kind(sync(engine.evaluate(req({ ...r, country: 'FR', ip: '203.0.113.2' })))), '403 user_agent_blocked');
    const ok = { country: 'FR', userAgent: 'firefox', ip: '203.0.113.3' };
    assert.equal(kind(sync(engine.evaluate(req(ok)))), 'allow');
    assert.equal(kind(sync(engine.evaluate(req(ok)))), '429 rate_limited');
    assert.equal(engine.checkAccess(req(ok)), null, 'checkAccess leaves rate limits out');
  });

  it('applies global and per-endpoint sliding-window limits per client, with an injectable clock', () => {
    const engine = new RuleEngine(rules({ globalRateLimit: 5, globalRateWindow: 10, endpointRateLimits: { '/login': [2, 60] } }));
    const at = (now: number, over: Partial<RuleRequest> = {}): Decision => sync(engine.evaluate(req({ now, ...over })));
    const t0 = 1_700_000_000_000 - (1_700_000_000_000 % 60_000); // start of a 60 s bucket
    assert.equal(at(t0, { path: '/login?next=/' }), ALLOW);
    assert.equal(at(t0 + 1, { path: '/login' }), ALLOW);
    const limited = at(t0 + 2, { path: '/login' });
    assert.equal(kind(limited), '429 rate_limited');
    assert.equal(limited.action === 'block' && limited.rule, '/login');
    assert.ok(limited.action === 'block' && limited.retryAfterSeconds !== undefined && limited.retryAfterSeconds >= 1 && limited.retryAfterSeconds <= 120);
    assert.equal(at(t0 + 3, { path: '/login', ip: '192.0.2.99' }), ALLOW, 'limits are per client IP');
    // Global: 5 per 10 s; two /login hits counted already, one refused /login did count globally.
    assert.equal(at(t0 + 4), ALLOW);
    assert.equal(at(t0 + 5), ALLOW);
    const g = at(t0 + 6);
    assert.equal(kind(g), '429 rate_limited');
    assert.equal(g.action === 'block' && g.rule, 'global');
    // Twenty seconds later both global buckets have decayed.
    assert.equal(at(t0 + 20_006), ALLOW);
    // /login is still limited until its 60 s window slides on.
    assert.equal(kind(at(t0 + 20_007, { path: '/login' })), '429 rate_limited');
    assert.equal(at(t0 + 120_000, { path: '/login' }), ALLOW);
  });

  it('counts every spelling a router sends to one endpoint (trailing slash, case, //, unreserved escapes) against its one limit', () => {
    const limiter = new MemorySlidingWindow();
    const engine = new RuleEngine(rules({ endpointRateLimits: { '/Login/': [3, 60] } }), { limiter });
    const t0 = 1_700_000_000_000 - (1_700_000_000_000 % 60_000);
    const spellings = ['/login/', '/LOGIN', '/Login/', '//login', '/%6Cogin', '/login?x=1'];
    const answers = spellings.map((path, i) => sync(engine.evaluate(req({ path, now: t0 + i }))));
    assert.deepEqual(answers.map(kind), ['allow', 'allow', 'allow', '429 rate_limited', '429 rate_limited', '429 rate_limited']);
    const limited = answers[3];
    assert.equal(limited.action === 'block' && limited.rule, '/login', 'the normalised key names the rule');
    // The limiter (Redis too: it is the same key) counts under the normalised key only.
    assert.equal(limiter.hit('e:/login:198.51.100.7', 3, 60_000, t0 + 10).allowed, false);
    assert.equal(limiter.hit('e:/Login/:198.51.100.7', 3, 60_000, t0 + 10).allowed, true);
    // Other endpoints are not caught by it.
    for (const path of ['/login/x', '/login%2F', '/logins', '/']) assert.equal(sync(engine.evaluate(req({ path, now: t0 + 20 }))), ALLOW, path);
  });

  it('skips rate limits when the ruleset disables them', () => {
    const engine = new RuleEngine(rules({ globalRateLimit: 1, globalRateWindow: 60, enableRateLimiting: false }));
    for (let i = 0; i < 5; i++) assert.equal(sync(engine.evaluate(req())), ALLOW);
  });

  it('returns a Promise only when the limiter does, and awaits it', async () => {
    const calls: string[] = [];
    const asyncLimiter: SlidingWindowLimiter = {
      hit: async (key: string, limit: number): Promise<HitResult> => {
        calls.push(key);
        const count = calls.filter((c) => c === key).length;
        return count > limit ? { allowed: false, retryAfterMs: 1500, count } : { allowed: true, retryAfterMs: 0, count };
      },
    };
    const engine = new RuleEngine(rules({ globalRateLimit: 2, globalRateWindow: 1, endpointRateLimits: { '/a': [10, 1] } }), { limiter: asyncLimiter });
    const first = engine.evaluate(req({ path: '/a' }));
    assert.ok(first instanceof Promise);
    assert.equal(await first, ALLOW);
    assert.deepEqual(calls, ['g:198.51.100.7', 'e:/a:198.51.100.7']);
    assert.equal(await engine.evaluate(req()), ALLOW);
    const blocked = await engine.evaluate(req());
    assert.deepEqual(blocked, { action: 'block', status: 429, eventType: 'rate_limited', reason: 'global rate limit exceeded: 2 requests per 1 s', retryAfterSeconds: 2, rule: 'global' });
    // A check that blocks before rate limiting stays synchronous.
    const bl = new RuleEngine(rules({ ipBlacklist: ['198.51.100.7'], globalRateLimit: 1, globalRateWindow: 1 }), { limiter: asyncLimiter });
    assert.equal(kind(sync(bl.evaluate(req()))), '403 ip_blocked');
    assert.equal(await engine.evaluateAsync(req({ ip: '192.0.2.1', path: '/b' })), ALLOW);
  });

  it('reports sanitizer problems and enforces the valid rest', () => {
    const engine = new RuleEngine(rules({ ipBlacklist: ['bad', '198.51.100.7'], blockedUserAgents: ['(?!a)b'] }));
    assert.equal(engine.problems.length, 2);
    assert.equal(kind(sync(engine.evaluate(req()))), '403 ip_blocked');
    assert.deepEqual(engine.rules.blockedUserAgents, []);
  });

  it('logs what it dropped through diag, once per ruleset', () => {
    const warnings: string[] = [];
    const logger: DiagLogger = { error: () => {}, warn: (m: string) => warnings.push(m), info: () => {}, debug: () => {}, verbose: () => {} };
    diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
    try {
      new RuleEngine(rules({ ruleId: 'r-9', version: 3, ipBlacklist: ['1.2.3.999', '1.2.3.4'], blockedCountries: ['USA'] }));
      new RuleEngine(rules({ ipBlacklist: ['1.2.3.4'] }));
    } finally {
      diag.disable();
    }
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /guard rules r-9 v3: 2 invalid entries dropped, the rest applies: ipBlacklist "1\.2\.3\.999": IPv4 octet out of range/);
  });

  it('shares a limiter across engines built from successive rulesets', () => {
    const limiter = new MemorySlidingWindow();
    const r = rules({ globalRateLimit: 1, globalRateWindow: 60 });
    assert.equal(sync(new RuleEngine(r, { limiter }).evaluate(req())), ALLOW);
    assert.equal(kind(sync(new RuleEngine({ ...r, version: 2 }, { limiter }).evaluate(req()))), '429 rate_limited');
  });
});
