import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GuardAgentValidationError } from '../../src/errors.js';
import { defaultDynamicRules, parseDynamicRules, type DynamicRules } from '../../src/models/dynamic-rules.js';
import { RuleEngine } from '../../src/rules/rule-engine.js';
import { patternProblem, sanitizeRules } from '../../src/rules/rules-sanitizer.js';

const rules = (over: Partial<DynamicRules>): DynamicRules => ({ ...defaultDynamicRules(), ...over });
const fields = (problems: Array<{ field: string }>): string[] => problems.map((p) => p.field);

describe('rules/rules-sanitizer', () => {
  it('keeps a clean ruleset unchanged and reports nothing', () => {
    const input = rules({
      ipBlacklist: ['1.2.3.4', '10.0.0.0/8', '2001:db8::/32'],
      blockedCountries: ['RU', 'CN'],
      blockedUserAgents: ['curl', 'python-requests/\\d+'],
      globalRateLimit: 100,
      globalRateWindow: 60,
      endpointRateLimits: { '/login': [5, 60] },
    });
    const { rules: out, problems } = sanitizeRules(input);
    assert.deepEqual(problems, []);
    assert.deepEqual(out, input);
  });

  it('drops invalid IPs and CIDRs from the three IP lists and keeps the rest', () => {
    const { rules: out, problems } = sanitizeRules(
      rules({
        ipBlacklist: ['1.2.3.4', '999.1.1.1', '10.0.0.0/33', ' 5.6.7.8 ', '1.2.3.4'],
        ipWhitelist: ['::1', 'localhost'],
        emergencyWhitelist: ['2001:db8::/129', '192.168.0.0/16', 7 as unknown as string],
      }),
    );
    assert.deepEqual(out.ipBlacklist, ['1.2.3.4', '5.6.7.8']);
    assert.deepEqual(out.ipWhitelist, ['::1']);
    assert.deepEqual(out.emergencyWhitelist, ['192.168.0.0/16']);
    assert.deepEqual(fields(problems), ['ipBlacklist', 'ipBlacklist', 'ipWhitelist', 'emergencyWhitelist', 'emergencyWhitelist']);
    assert.match(problems[0].reason, /out of range/);
    assert.equal(problems[0].value, '999.1.1.1');
  });

  it('keeps two-letter country codes upper-cased and drops the rest', () => {
    const { rules: out, problems } = sanitizeRules(rules({ blockedCountries: ['ru', 'USA', 'C', 'Cn', 'ÄÖ', '12', 'RU'], whitelistCountries: ['us', ''] }));
    assert.deepEqual(out.blockedCountries, ['RU', 'CN']);
    assert.deepEqual(out.whitelistCountries, ['US']);
    assert.deepEqual(problems.map((p) => p.value), ['USA', 'C', 'ÄÖ', '12', '']);
  });

  it('drops patterns that RE2 refuses, are too long or empty, naming each by its index', () => {
    const long = 'a'.repeat(513);
    const { rules: out, problems } = sanitizeRules(
      rules({
        blockedUserAgents: ['curl', 'bad(', long, '(?=a)b', 'sqlmap', '', 'curl'],
        suspiciousPatterns: ['union\\s+select', '(x)\\1', '[unclosed', '<script', 7 as unknown as string],
      }),
    );
    assert.deepEqual(out.blockedUserAgents, ['curl', 'sqlmap']);
    assert.deepEqual(out.suspiciousPatterns, ['union\\s+select', '<script']);
    assert.deepEqual(fields(problems), ['blockedUserAgents[1]', 'blockedUserAgents[2]', 'blockedUserAgents[3]', 'blockedUserAgents[5]', 'suspiciousPatterns[1]', 'suspiciousPatterns[2]', 'suspiciousPatterns[4]']);
    const reasons = problems.map((p) => p.reason);
    assert.match(reasons[0], /does not compile as an RE2 regular expression/);
    assert.match(reasons[1], /longer than 512/);
    assert.match(reasons[2], /lookahead and lookbehind are not supported/);
    assert.match(reasons[3], /empty pattern/);
    assert.match(reasons[4], /backreferences are not supported/);
    assert.match(reasons[6], /not a string/);
    assert.equal(problems[1].value, 'a'.repeat(80) + '…', 'huge values are previewed, not copied');
  });

  it('accepts the shapes that backtrack catastrophically in V8 (RE2 runs them in linear time) and ordinary patterns', () => {
    for (const shape of ['(a+)+', '(a*)*', '(.*)*', '(?:\\d+){2,}', '(a|a)*', '(a|aa)+', '^(\\w+\\s?)*$', '((ab)*)+', '([a-z]+)*', '(?<n>x+)+', '(\\w|\\d)+$', '.*.*.*.*.*=']) {
      assert.equal(patternProblem(shape), null, shape);
    }
    for (const ok of ['curl', 'Mozilla/5\\.0 \\(compatible; bot\\)', '(a|b)+', '\\d+\\.\\d+', '[(+*]+', 'a{2,3}', '(?:GET|POST) /x', 'caf\\u00e9']) {
      assert.equal(patternProblem(ok), null, ok);
    }
    assert.equal(patternProblem('x'.repeat(20), 10), 'pattern longer than 10 characters');
  });

  it('keeps the patterns of a list within its RE2 program-size budget and reports the rest by index', () => {
    // `.{400}` compiles to about 400 instructions: a search may step through all of them per character.
    const wide = Array.from({ length: 30 }, (_, i) => `.{400}x${i}`);
    const { rules: out, problems } = sanitizeRules(rules({ blockedUserAgents: [...wide, 'curl'] }));
    assert.ok(out.blockedUserAgents.length > 5 && out.blockedUserAgents.length < 30, `kept ${out.blockedUserAgents.length}`);
    assert.equal(out.blockedUserAgents.at(-1), 'curl', 'a small pattern after the budget ran short still fits');
    assert.equal(problems.length, 31 - out.blockedUserAgents.length);
    assert.equal(problems[0].field, `blockedUserAgents[${out.blockedUserAgents.length - 1}]`);
    assert.match(problems[0].reason, /RE2 program of \d+ instructions does not fit in what is left \(\d+\) of the list's budget of 4000/);
    const small = sanitizeRules(rules({ blockedUserAgents: ['curl', 'wget', '.{50}'] }), { maxProgramSize: 20 });
    assert.deepEqual(small.rules.blockedUserAgents, ['curl', 'wget']);
    assert.equal(small.problems[0].field, 'blockedUserAgents[2]');
  });

  it('drops non-positive rate limits', () => {
    const { rules: out, problems } = sanitizeRules(
      rules({
        globalRateLimit: 0,
        globalRateWindow: 60,
        endpointRateLimits: { '/ok': [10, 60], '/zero': [0, 60], '/neg': [5, -1], '/nan': [Number.NaN, 1], '/bad': 'x' as unknown as [number, number], '': [1, 1] },
      }),
    );
    assert.equal(out.globalRateLimit, null);
    assert.equal(out.globalRateWindow, null);
    assert.deepEqual(out.endpointRateLimits, { '/ok': [10, 60] });
    assert.deepEqual(fields(problems), ['globalRateLimit', 'endpointRateLimits./zero', 'endpointRateLimits./neg', 'endpointRateLimits./nan', 'endpointRateLimits./bad', 'endpointRateLimits.']);
    const half = sanitizeRules(rules({ globalRateLimit: 10, globalRateWindow: null }));
    assert.equal(half.rules.globalRateLimit, null);
    assert.match(half.problems[0].reason, /needs both/);
  });

  it('clamps rate-limit windows over a day and request counts over the maximum, naming the field; refuses windows under 1 ms and limits under 1', () => {
    const { rules: out, problems } = sanitizeRules(
      rules({
        globalRateLimit: 3,
        globalRateWindow: 1e306,
        endpointRateLimits: { '/long': [3, 1e306], '/day': [3, 86_400], '/many': [1e300, 60], '/tiny': [3, 0.0005], '/half': [0.5, 60], '/ok': [2.5, 2.5] },
      }),
    );
    assert.equal(out.globalRateLimit, 3);
    assert.equal(out.globalRateWindow, 86_400);
    assert.deepEqual(out.endpointRateLimits, { '/long': [3, 86_400], '/day': [3, 86_400], '/many': [1_000_000_000, 60], '/ok': [2.5, 2.5] });
    assert.deepEqual(fields(problems), ['globalRateWindow', 'endpointRateLimits./long', 'endpointRateLimits./many', 'endpointRateLimits./tiny', 'endpointRateLimits./half']);
    assert.match(problems[0].reason, /window over the maximum of 86400 s \(one day\); clamped/);
    assert.match(problems[3].reason, /window shorter than 0\.001 s/);
    assert.match(problems[4].reason, /requests must be at least 1/);
    const tooMany = sanitizeRules(rules({ globalRateLimit: 1e20, globalRateWindow: 60 }));
    assert.equal(tooMany.rules.globalRateLimit, 1_000_000_000);
    assert.deepEqual(fields(tooMany.problems), ['globalRateLimit']);
    // What the clamp is for: the limit applies (it allowed all 8 of 8 before, windowMs being Infinity).
    for (const wire of [{ global_rate_limit: 3, global_rate_window: 1e306 }, { endpoint_rate_limits: { '/x': [3, 1e306] } }]) {
      const engine = new RuleEngine(parseDynamicRules({ rule_id: 'a', version: 1, ...wire }));
      const answers = Array.from({ length: 8 }, () => engine.evaluate({ ip: '192.0.2.1', path: '/x', now: 1_000 }));
      assert.deepEqual(answers.map((d) => (d as { action: string }).action), ['allow', 'allow', 'allow', 'block', 'block', 'block', 'block', 'block'], JSON.stringify(wire));
    }
  });

  it('caps huge lists and reports the excess once', () => {
    const big = Array.from({ length: 150_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    const { rules: out, problems } = sanitizeRules(rules({ ipBlacklist: big }));
    assert.equal(out.ipBlacklist.length, 100_000);
    assert.equal(problems.length, 1);
    assert.match(problems[0].reason, /50000 entries over the limit of 100000/);
    const small = sanitizeRules(rules({ blockedCountries: ['AA', 'BB', 'CC'] }), { maxListLength: 2 });
    assert.deepEqual(small.rules.blockedCountries, ['AA', 'BB']);
    const patterns = sanitizeRules(rules({ blockedUserAgents: Array.from({ length: 1005 }, (_, i) => `bot${i}`) }), { maxProgramSize: 100_000 });
    assert.equal(patterns.rules.blockedUserAgents.length, 1000, 'pattern lists have a lower cap: each request runs them');
    assert.match(patterns.problems[0].reason, /5 entries over the limit of 1000/);
  });

  it('repairs wrong types instead of throwing', () => {
    const garbage = { ...defaultDynamicRules(), ipBlacklist: 'x', emergencyMode: 'yes', version: Infinity, blockedCloudProviders: ['AWS', 'DO'], endpointRateLimits: [] } as unknown as DynamicRules;
    const { rules: out, problems } = sanitizeRules(garbage);
    assert.deepEqual(out.ipBlacklist, []);
    assert.equal(out.emergencyMode, false);
    assert.equal(out.version, 1);
    assert.deepEqual(out.blockedCloudProviders, ['AWS']);
    assert.deepEqual(out.endpointRateLimits, {});
    assert.deepEqual(fields(problems).sort(), ['blockedCloudProviders', 'emergencyMode', 'endpointRateLimits', 'ipBlacklist', 'version']);
    for (const weird of [null, undefined, 42, 'rules', [], new Proxy({}, { get: () => { throw new Error('boom'); }, ownKeys: () => { throw new Error('boom'); } })]) {
      const r = sanitizeRules(weird as unknown as DynamicRules);
      assert.equal(r.rules.ruleId, 'default-rule');
      assert.ok(r.problems.length > 0);
    }
  });

  describe('fuzzed payloads never throw out of sanitize or RuleEngine construction', () => {
    const check = (payload: unknown): void => {
      let parsed: DynamicRules;
      try {
        parsed = parseDynamicRules(payload);
      } catch (err) {
        assert.ok(err instanceof GuardAgentValidationError, `parse throws only validation errors, got ${String(err)}`);
        parsed = payload as DynamicRules; // what a careless caller would pass on: sanitize must cope
      }
      const { rules: out } = sanitizeRules(parsed);
      const engine = new RuleEngine(out, { sanitized: true });
      const d = engine.evaluate({ ip: '1.2.3.4', userAgent: 'curl/8', country: 'US', path: '/login', now: 1 });
      assert.ok(d instanceof Promise || d.action === 'allow' || d.action === 'block');
      new RuleEngine(parsed);
    };

    it('fc.anything()', () => {
      fc.assert(fc.property(fc.anything({ withNullPrototype: true, withBigInt: true, withDate: true, withMap: true }), check), { numRuns: 1500 });
    });

    it('rule-shaped objects with wrong types in every field', () => {
      const anyValue = fc.oneof(fc.anything(), fc.array(fc.oneof(fc.string(), fc.ipV4(), fc.ipV6(), fc.integer(), fc.constant(null))), fc.string(), fc.integer(), fc.double());
      const keys = ['ip_blacklist', 'ipWhitelist', 'emergency_whitelist', 'blocked_countries', 'whitelistCountries', 'blocked_user_agents', 'suspicious_patterns', 'global_rate_limit', 'globalRateWindow', 'endpoint_rate_limits', 'emergency_mode', 'blocked_cloud_providers', 'version', 'timestamp', 'enable_rate_limiting'];
      fc.assert(fc.property(fc.dictionary(fc.constantFrom(...keys), anyValue), check), { numRuns: 1500 });
    });

    it('huge arrays', () => {
      fc.assert(
        fc.property(fc.constantFrom('ip_blacklist', 'blocked_user_agents', 'blocked_countries', 'emergency_whitelist'), fc.integer({ min: 100_001, max: 120_000 }), (key, n) => {
          const payload = { [key]: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 'x(' : `1.1.${(i >> 8) & 255}.${i & 255}`)) };
          const out = sanitizeRules(parseDynamicRules(payload));
          const camel = key.replace(/_(\w)/g, (_, c: string) => c.toUpperCase()) as keyof DynamicRules;
          assert.ok((out.rules[camel] as string[]).length <= (key === 'blocked_user_agents' ? 1_000 : 100_000));
          check(payload);
        }),
        { numRuns: 4 },
      );
    });
  });
});
