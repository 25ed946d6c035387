// RulePoller against the real dev backend (HTTPTransport) and the shared Redis on 6379.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { resolveConfig } from '../../src/config.js';
import { DevBackend } from '../../src/dev-backend/index.js';
import type { DynamicRules } from '../../src/models/dynamic-rules.js';
import { RuleEngine } from '../../src/rules/rule-engine.js';
import { RulePoller } from '../../src/rules/rule-poller.js';
import { entryMac, rulesShareKey } from '../../src/rules/shared-entry-mac.js';
import { HTTPTransport } from '../../src/transport/http-transport.js';
import { until } from '../helpers/until.js';

const KEY = 'rules_poller_key_0123456789';
const GOOD = { rule_id: 'rs_good', version: 7, ip_blacklist: ['203.0.113.0/24'], blocked_countries: ['XX'], ttl: 300 };


describe('RulePoller (real dev backend)', function () {
  this.timeout(20_000);
  let backend: DevBackend;
  let home: string;
  let ruleGets = 0;
  const cleanups: Array<() => Promise<unknown> | unknown> = [];

  function transport(projectId: string): HTTPTransport {
    const config = resolveConfig({ apiKey: KEY, endpoint: backend.url, projectId, retryAttempts: 1, backoffFactor: 0.01 }, { env: {} });
    const t = new HTTPTransport(config, { installIdHomeDir: home });
    cleanups.push(() => t.close());
    return t;
  }

  function poller(projectId: string, intervalMs = 200, extra = {}): RulePoller {
    const p = new RulePoller({ source: transport(projectId), projectId, intervalSeconds: 300, intervalMs, apiKey: KEY, ...extra });
    cleanups.push(() => p.stop());
    return p;
  }

  before(() => {
    home = mkdtempSync(join(tmpdir(), 'rules-poller-home-'));
  });
  beforeEach(async () => {
    backend = new DevBackend({ apiKeys: [KEY], rules: GOOD });
    backend.on('request', (r: { method: string; path: string }) => {
      if (r.method === 'GET' && r.path === '/api/v1/rules') ruleGets++;
    });
    ruleGets = 0;
    await backend.start();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await backend.stop();
  });

  it('applies a change within one interval, sends If-None-Match and treats 304 as unchanged', async () => {
    const p = poller('proj_poll_1', 200);
    const seen: Array<[string | null, string | null]> = [];
    const off = p.onRules((r, prev) => seen.push([r && `${r.ruleId}@${r.version}`, prev && `${prev.ruleId}@${prev.version}`]));
    p.start();
    await until(() => p.current() !== null);
    assert.equal(p.current()?.ruleId, 'rs_good');
    assert.deepEqual(p.current()?.blockedCountries, ['XX']);
    await until(() => p.stats.notModified >= 1, 2000);
    const changedAt = Date.now();
    backend.setRules({ ...GOOD, version: 8, ip_blacklist: ['198.51.100.1'] });
    await until(() => p.current()?.version === 8, 1000);
    assert.ok(Date.now() - changedAt <= 200 * 1.1 + 100, 'within one (jittered) interval');
    assert.deepEqual(p.current()?.ipBlacklist, ['198.51.100.1']);
    assert.deepEqual(seen, [['rs_good@7', null], ['rs_good@8', 'rs_good@7']]);
    off();
    backend.setRules({ ...GOOD, version: 9 });
    await until(() => p.current()?.version === 9, 1000);
    assert.equal(seen.length, 2, 'unsubscribed listener is not called');
  });

  it('keeps the last good rules when a fetch fails (5xx, garbage, reset)', async () => {
    const p = poller('proj_poll_2', 60_000);
    assert.equal((await p.pollNow())?.version, 7);
    backend.faults.push({ kind: 'status', status: 503, path: '/api/v1/rules', times: 5 });
    assert.equal((await p.pollNow())?.version, 7, '503: last good rules');
    backend.faults.push({ kind: 'garbage', path: '/api/v1/rules', times: 1 });
    assert.equal((await p.pollNow())?.version, 7, 'non-JSON: last good rules');
    backend.faults.push({ kind: 'reset', path: '/api/v1/rules', times: 5 });
    assert.equal((await p.pollNow())?.version, 7, 'connection reset: last good rules');
    assert.equal(p.stats.failures, 3);
  });

  it('refuses malformed payloads and expired rules without replacing the good ones', async () => {
    const p = poller('proj_poll_3');
    assert.equal((await p.pollNow())?.version, 7);
    for (const bad of [{ rule_id: 'rs_good', version: 'eight' }, { ip_blacklist: 'not-a-list' }, { endpoint_rate_limits: { '/a': [1] } }]) {
      backend.setRules(bad);
      assert.equal((await p.pollNow())?.version, 7, JSON.stringify(bad));
    }
    backend.setRules({ ...GOOD, version: 10, expires_at: '2000-01-01T00:00:00Z' });
    assert.equal((await p.pollNow())?.version, 7, 'already expired ruleset ignored');
    backend.setRules(null);
    assert.equal((await p.pollNow())?.version, 7, '404 keeps the rules');
    assert.equal(p.stats.rejected, 4);
    assert.equal(p.stats.stale, 0);
    // Partly bad: the bad entries go, the rest applies.
    backend.setRules({ ...GOOD, version: 11, ip_blacklist: ['10.0.0.0/8', '999.1.1.1', 'nope'], blocked_countries: ['FR', 'France'], blocked_user_agents: ['(?=a)b', 'curl'] });
    const r = await p.pollNow();
    assert.equal(r?.version, 11);
    assert.deepEqual(r?.ipBlacklist, ['10.0.0.0/8']);
    assert.deepEqual(r?.blockedCountries, ['FR']);
    assert.deepEqual(r?.blockedUserAgents, ['curl']);
    assert.equal(p.problems.length, 4);
    assert.equal(p.stats.droppedEntries, 4);
  });

  it('a cloud provider the agent does not know (the backend model takes any string) is dropped and reported; the rest of the rules applies', async () => {
    const p = poller('proj_poll_clouds');
    backend.setRules({ ...GOOD, version: 12, blocked_cloud_providers: ['AWS', 'DigitalOcean', 'aws'] });
    // Before, the whole payload was refused (rejected 1, no rules at all): the IP blacklist never applied.
    const r = await p.pollNow();
    assert.equal(r?.version, 12);
    assert.deepEqual(r?.ipBlacklist, ['203.0.113.0/24']);
    assert.deepEqual(r?.blockedCloudProviders, ['AWS'], 'only the names @guardcore/core accepts');
    assert.deepEqual(p.problems.map((x) => [x.field, x.value]), [['blockedCloudProviders', 'DigitalOcean'], ['blockedCloudProviders', 'aws']]);
    assert.equal(p.stats.rejected, 0);
  });

  it('the backend is the authority: a lower version it serves (a rollback) applies at the next poll', async () => {
    backend.setRules({ ...GOOD, version: 7, emergency_mode: true });
    const p = poller('proj_poll_rollback', 60_000);
    assert.equal((await p.pollNow())?.emergencyMode, true);
    backend.setRules({ ...GOOD, version: 1, ip_blacklist: [] });
    const r = await p.pollNow();
    // It kept v7 (emergency mode on) for good before: the stale check refused the backend's own answer.
    assert.equal(r?.version, 1);
    assert.equal(r?.emergencyMode, false);
    assert.deepEqual(r?.ipBlacklist, []);
    assert.equal(p.stats.stale, 0);
  });

  it('honours expiresAt (listeners hear null) and ttl (get() answers from memory within it)', async () => {
    const p = poller('proj_poll_4', 60_000);
    const expires = new Date(Date.now() + 400).toISOString();
    backend.setRules({ ...GOOD, ttl: 60, expires_at: expires });
    const events: Array<string | null> = [];
    p.onRules((r) => events.push(r && r.ruleId));
    assert.equal((await p.get())?.ruleId, 'rs_good');
    const before = ruleGets;
    await p.get();
    await p.get();
    assert.equal(ruleGets, before, 'within ttl: no fetch');
    await until(() => events.length === 2, 2000);
    assert.deepEqual(events, ['rs_good', null]);
    assert.equal(p.current(), null);
  });

  it('fuzzed payloads (random JSON, wrong types, huge arrays) never throw and never displace good rules', async () => {
    const p = poller('proj_poll_fuzz', 60_000);
    const good = await p.pollNow();
    assert.equal(good?.ruleId, 'rs_good');
    const field = fc.constantFrom('rule_id', 'version', 'ip_blacklist', 'ip_whitelist', 'blocked_countries', 'endpoint_rate_limits', 'blocked_user_agents', 'emergency_mode', 'global_rate_limit', 'expires_at', 'ttl', 'blocked_cloud_providers', 'emergency_whitelist');
    const wrongTyped = fc.dictionary(field, fc.jsonValue({ maxDepth: 3 }), { minKeys: 1 }).map((d) => ({ ...d, rule_id: 'rs_good', version: 'x' }));
    const huge = fc.integer({ min: 100_001, max: 150_000 }).map((n) => ({ rule_id: 'rs_good', version: 12, ip_blacklist: Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`) }));
    const payload = fc.oneof(fc.jsonValue({ maxDepth: 4 }), wrongTyped, fc.dictionary(field, fc.jsonValue({ maxDepth: 2 })), fc.constant(huge).chain((h) => h));
    let inForce: DynamicRules | null = good;
    await fc.assert(
      fc.asyncProperty(payload, async (body) => {
        const isObject = body !== null && typeof body === 'object' && !Array.isArray(body);
        backend.setRules(isObject ? (body as object) : { wrapped: body });
        const before = inForce;
        const after = await p.pollNow();
        assert.ok(after !== null, 'never left without rules');
        if (after !== before) {
          // Only a structurally valid, not expired ruleset may replace the rules in force (a lower version too: the backend is the authority).
          assert.ok(p.stats.updates > 0);
          assert.ok(after.expiresAt === null || Date.parse(after.expiresAt) > Date.now());
          assert.ok(after.ipBlacklist.length <= 100_000);
        }
        assert.doesNotThrow(() => new RuleEngine(after, { sanitized: true }).evaluate({ ip: '203.0.113.5', path: '/', userAgent: 'x' }));
        inForce = after;
      }),
      { numRuns: 60, seed: 4242 },
    );
    // An invalid payload after all that still leaves the last good rules.
    const last = p.current();
    backend.setRules({ rule_id: 'rs_good', version: [] });
    assert.equal(await p.pollNow(), last);
  });

  describe('two instances on one Redis', () => {
    const clients: Redis[] = [];
    const redis = (): Redis => {
      const c = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
      clients.push(c);
      return c;
    };
    afterEach(async () => {
      for (const c of clients.splice(0)) await c.quit().catch(() => c.disconnect());
    });

    it('fetch once per interval between them, and both apply a change at once (pub/sub)', async () => {
      const project = `proj_poll_shared_${process.pid}_${Date.now()}`;
      const a = poller(project, 400);
      const b = poller(project, 400);
      await a.setRedis(redis());
      await b.setRedis(redis());
      await Promise.all([a.whenShared(), b.whenShared()]);
      a.start();
      b.start();
      await until(() => a.current() !== null && b.current() !== null);
      const startGets = ruleGets;
      await new Promise((r) => setTimeout(r, 2000)); // five intervals
      const gets = ruleGets - startGets;
      assert.ok(gets >= 3 && gets <= 6, `about one fetch per interval for both instances, got ${gets}`);
      // A poll that did not fetch either read the sibling's fresh entry (sharedHits) or found the sibling
      // fetching at that moment and took its result by pub/sub (lockedOut): which one depends on how
      // close the two jittered schedules run, so the test counts both.
      const reused = a.stats.sharedHits + b.stats.sharedHits + a.stats.lockedOut + b.stats.lockedOut;
      assert.ok(reused >= 3, `the other instance used the shared entry or the sibling's fetch, got ${reused}`);
      // A change fetched by one instance reaches the other through pub/sub, before its own poll.
      await a.stop();
      await b.stop();
      const a2 = poller(project, 60_000);
      const b2 = poller(project, 60_000);
      await a2.setRedis(redis());
      await b2.setRedis(redis());
      await Promise.all([a2.whenShared(), b2.whenShared()]);
      b2.start(); // its first poll takes the entry a and b left in Redis
      await until(() => b2.current()?.version === 7);
      backend.setRules({ ...GOOD, version: 20 });
      const fetched = await a2.pollNow();
      assert.equal(fetched?.version, 20);
      await until(() => b2.current()?.version === 20, 1000);
      assert.equal(b2.stats.fetches, 0, 'b2 never fetched: Redis entry then pub/sub');
    });

    describe('shared entries are authenticated and ordered (unique prefix, cleaned up)', () => {
      const project = 'proj_poll_auth';
      let prefix = '';
      let base = '';
      let raw: Redis;
      const FORGED = { rule_id: 'rs_good', version: 2 ** 53 - 1, emergency_mode: true, emergency_whitelist: [] };
      const publish = (entry: object): Promise<number> => raw.publish(`${base}:rules:changed`, JSON.stringify({ from: 'someone', entry }));
      const sharing = async (n: number): Promise<RulePoller[]> => {
        const ps = Array.from({ length: n }, () => poller(project, 60_000, { redisPrefix: prefix }));
        for (const p of ps) await p.setRedis(redis());
        await Promise.all(ps.map((p) => p.whenShared()));
        return ps;
      };

      beforeEach(() => {
        prefix = `rp_auth_${process.pid}_${Date.now()}`;
        base = `${prefix}:{${project}}`;
        raw = redis();
      });
      afterEach(async () => {
        const keys = await raw.keys(`${prefix}:*`);
        if (keys.length) await raw.del(...keys);
      });

      it("a forged PUBLISH (no MAC, or a MAC under another key) is ignored and counted; the backend's next version still applies", async () => {
        const [a, b] = await sharing(2);
        assert.equal((await a.pollNow())?.version, 7);
        await until(() => b.current()?.version === 7);
        const warnings: string[] = [];
        diag.setLogger({ error: () => {}, warn: (m: string) => warnings.push(m), info: () => {}, debug: () => {}, verbose: () => {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
        try {
          await publish({ fetchedAt: Date.now(), body: FORGED });
          const other = { fetchedAt: Date.now(), body: FORGED };
          await publish({ ...other, mac: entryMac(rulesShareKey('someone_elses_key_0123456789'), project, other) });
          await until(() => a.stats.unauthenticated === 2 && b.stats.unauthenticated === 2, 2000);
        } finally {
          diag.disable();
        }
        for (const p of [a, b]) {
          assert.equal(p.current()?.version, 7, 'the forged ruleset never applied');
          assert.equal(p.current()?.emergencyMode, false);
        }
        assert.equal(warnings.filter((w) => /without a valid signature/.test(w)).length, 2, 'one warning per instance (at most one a minute)');
        assert.ok(warnings.every((w) => !w.includes(KEY)), 'the API key is never printed');
        backend.setRules({ ...GOOD, version: 8 });
        assert.equal((await a.pollNow())?.version, 8);
        // Before, the forged v2^53-1 was in force on both and v8 was ignored as older, until a restart.
        await until(() => b.current()?.version === 8, 2000);
        assert.equal(b.stats.fetches, 0, 'b got v8 from a, by pub/sub');
        assert.equal(a.stats.stale + b.stats.stale, 0);
      });

      it('a forged cached entry (far-future fetchedAt, no MAC) is ignored: a new instance fetches itself', async () => {
        await raw.set(`${base}:rules`, JSON.stringify({ fetchedAt: Date.now() + 10 * 365 * 86_400_000, body: FORGED }));
        const [c] = await sharing(1);
        const r = await c.get();
        assert.equal(r?.version, 7);
        assert.equal(r?.emergencyMode, false);
        assert.deepEqual([c.stats.fetches, c.stats.sharedHits, c.stats.unauthenticated], [1, 0, 1]);
        const stored = JSON.parse((await raw.get(`${base}:rules`)) ?? 'null') as { body: { version: number }; mac?: string; fetchedAt: number };
        assert.equal(stored.body.version, 7, 'its own signed entry replaced the forged one');
        assert.equal(typeof stored.mac, 'string');
        assert.ok(stored.fetchedAt <= Date.now());
      });

      it("a genuine entry whose fetchedAt is far ahead (a sibling's broken clock) neither suppresses polls nor outranks the backend", async () => {
        const key = rulesShareKey(KEY);
        const ahead = { fetchedAt: Date.now() + 365 * 86_400_000, body: { ...GOOD, version: 9, emergency_mode: true } };
        await raw.set(`${base}:rules`, JSON.stringify({ ...ahead, mac: entryMac(key, project, ahead) }));
        const [c] = await sharing(1);
        const r = await c.get();
        // Before, the entry looked fresh for a year: used without a fetch, and get() answered from memory all along.
        assert.equal(r?.version, 7);
        assert.equal(r?.emergencyMode, false);
        assert.deepEqual([c.stats.fetches, c.stats.sharedHits, c.stats.unauthenticated], [1, 0, 0]);
        // Within clock skew, a sibling's entry is used as usual (counted as of now).
        const skewed = { fetchedAt: Date.now() + 5_000, body: { ...GOOD, version: 10 } };
        await raw.set(`${base}:rules`, JSON.stringify({ ...skewed, mac: entryMac(key, project, skewed) }));
        const [d] = await sharing(1);
        assert.equal((await d.get())?.version, 10);
        assert.deepEqual([d.stats.fetches, d.stats.sharedHits], [0, 1]);
      });

      it('a backend rollback fetched by one instance reaches its siblings; a replayed genuine older entry does not take them back', async () => {
        const [a, b] = await sharing(2);
        assert.equal((await a.pollNow())?.version, 7);
        await until(() => b.current()?.version === 7);
        backend.setRules({ ...GOOD, version: 9, emergency_mode: true });
        assert.equal((await a.pollNow())?.version, 9);
        await until(() => b.current()?.version === 9);
        const genuineV9 = JSON.parse((await raw.get(`${base}:rules`))!) as object;
        backend.setRules({ ...GOOD, version: 1 });
        assert.equal((await a.pollNow())?.version, 1, 'the backend going back applies on the instance that fetched it');
        await until(() => b.current()?.version === 1, 2000);
        assert.equal(b.current()?.emergencyMode, false);
        // Someone with access to Redis replays the genuine (signed) v9 entry: older than the answer in force, ignored.
        await publish(genuineV9);
        await until(() => a.stats.stale === 1 && b.stats.stale === 1, 2000);
        assert.deepEqual([a.current()?.version, b.current()?.version], [1, 1]);
        await raw.set(`${base}:rules`, JSON.stringify(genuineV9));
        const [late] = await sharing(1);
        assert.equal((await late.pollNow())?.version, 1, 'the cached replay does not outrank the backend either');
        assert.equal(b.stats.fetches, 0);
      });

      it('setApiKey (the handler\'s updateConfig) signs and checks with the new key from then on', async () => {
        const [a, b] = await sharing(2);
        a.setApiKey('rotated_key_0123456789');
        assert.equal((await a.pollNow())?.version, 7);
        await until(() => b.stats.unauthenticated === 1, 2000);
        assert.equal(b.current(), null, 'an entry under another key is not used');
        b.setApiKey('rotated_key_0123456789');
        backend.setRules({ ...GOOD, version: 8 });
        assert.equal((await a.pollNow())?.version, 8);
        await until(() => b.current()?.version === 8, 2000);
        assert.equal(b.stats.unauthenticated, 1);
      });

      it('does not share through Redis without the apiKey (there is no key to sign with)', async () => {
        const warnings: string[] = [];
        diag.setLogger({ error: () => {}, warn: (m: string) => warnings.push(m), info: () => {}, debug: () => {}, verbose: () => {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
        try {
          const p = new RulePoller({ source: transport(project), projectId: project, intervalSeconds: 300, redisPrefix: prefix });
          cleanups.push(() => p.stop());
          await p.setRedis(redis());
          assert.equal((await p.pollNow())?.version, 7);
          assert.equal(p.stats.fetches, 1);
        } finally {
          diag.disable();
        }
        assert.deepEqual(await raw.keys(`${prefix}:*`), [], 'nothing written to Redis');
        assert.ok(warnings.some((w) => /not shared through Redis without the apiKey/.test(w)));
      });
    });

    it('a fetch lock held on purpose (or by a sibling that died mid-fetch) does not freeze the rules past two intervals', async () => {
      const project = `proj_poll_lock_${process.pid}_${Date.now()}`;
      const admin = redis();
      // Anyone who can write to Redis can take the lock for a day.
      await admin.set(`guard_agent:{${project}}:rules:lock`, 'squatter', 'PX', 86_400_000);
      const p = poller(project, 200);
      await p.setRedis(redis());
      await p.whenShared();
      backend.setRules({ ...GOOD, version: 31 });
      p.start();
      // Trusted for two intervals from the start (a sibling may be fetching), then fetched anyway.
      await until('the rules arrive despite the lock', () => p.current()?.version === 31, 3000);
      backend.setRules({ ...GOOD, version: 32 });
      await until('and keep following the backend', () => p.current()?.version === 32, 3000);
      assert.ok(p.stats.lockOverrides >= 1);
      assert.ok(p.stats.lockedOut >= 1, 'the lock was honoured at first');
      assert.equal(await admin.get(`guard_agent:{${project}}:rules:lock`), 'squatter', "someone else's lock is never released by us");
      await admin.del(`guard_agent:{${project}}:rules:lock`, `guard_agent:{${project}}:rules`);
    });

    it('works when Redis is unreachable (fetches on its own)', async () => {
      const dead = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
      dead.on('error', () => undefined);
      clients.push(dead);
      const p = poller('proj_poll_dead', 60_000, { redisTimeoutMs: 100 });
      await p.setRedis(dead);
      backend.setRules({ ...GOOD, version: 30 });
      assert.equal((await p.pollNow())?.version, 30);
      assert.equal(p.stats.fetches, 1);
    });
  });
});
