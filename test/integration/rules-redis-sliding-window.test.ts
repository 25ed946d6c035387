import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import { RedisSlidingWindow } from '../../src/rules/redis-sliding-window.js';
import { MemorySlidingWindow } from '../../src/rules/sliding-window.js';
import { RuleEngine } from '../../src/rules/rule-engine.js';
import { defaultDynamicRules } from '../../src/models/dynamic-rules.js';

const W = 10_000;
const T = 2_000_000 * W; // a bucket boundary

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function ready(client: Redis): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('end', () => reject(new Error('redis connection ended')));
  });
}

describe('rules/RedisSlidingWindow (shared Redis at 127.0.0.1:6379)', () => {
  const prefix = `test-rl-${randomBytes(6).toString('hex')}`;
  let a: Redis;
  let b: Redis;

  before(async () => {
    a = new Redis({ host: '127.0.0.1', port: 6379, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    b = new Redis({ host: '127.0.0.1', port: 6379, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    await Promise.all([ready(a), ready(b)]);
  });

  after(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await a.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) await a.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    assert.deepEqual(await a.keys(`${prefix}:*`), []);
    a.disconnect();
    b.disconnect();
  });

  it('two limiter instances (two clients) share one window', async () => {
    const one = new RedisSlidingWindow({ client: a, projectId: 'p1', prefix });
    const two = new RedisSlidingWindow({ client: b, projectId: 'p1', prefix });
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await (i % 2 ? two : one).hit('g:1.2.3.4', 4, W, T + i));
    assert.deepEqual(results.map((r) => r.allowed), [true, true, true, true, false, false]);
    assert.deepEqual(results.slice(0, 4).map((r) => r.count), [1, 2, 3, 4]);
    assert.ok(results[4].retryAfterMs > W - 10);
    assert.equal(one.stats.fallbacks + two.stats.fallbacks, 0);
    assert.equal(one.stats.redisHits + two.stats.redisHits, 6);
    // The key is hash-tagged per project and expires.
    const key = one.redisKey('g:1.2.3.4');
    assert.equal(key, `${prefix}:{p1}:rl:g:1.2.3.4`);
    const ttl = await a.pttl(key);
    assert.ok(ttl > 0 && ttl <= 2 * W, `ttl ${ttl}`);
    // Another project does not share the window.
    const other = new RedisSlidingWindow({ client: a, projectId: 'p2', prefix });
    assert.equal((await other.hit('g:1.2.3.4', 4, W, T + 10)).allowed, true);
  });

  it('concurrent hits from both instances never overshoot the limit', async () => {
    const one = new RedisSlidingWindow({ client: a, projectId: 'p1', prefix });
    const two = new RedisSlidingWindow({ client: b, projectId: 'p1', prefix });
    const all = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? one : two).hit('burst', 20, W, T + 1)));
    assert.equal(all.filter((r) => r.allowed).length, 20);
  });

  it('slides like the memory limiter (same formula in Lua)', async () => {
    const redis = new RedisSlidingWindow({ client: a, projectId: 'p1', prefix });
    const memory = new MemorySlidingWindow();
    const times = [9_000, 9_001, 9_002, 9_003, W + 2_500, W + 2_600, W + 5_000, W + 5_001, 3 * W];
    for (const t of times) {
      const r = await redis.hit('slide', 4, W, T + t);
      const m = memory.hit('slide', 4, W, T + t);
      assert.deepEqual(r, m, `at +${t}`);
    }
  });

  it('drives RuleEngine.evaluate asynchronously', async () => {
    const limiter = new RedisSlidingWindow({ client: a, projectId: 'p1', prefix });
    const engine = new RuleEngine({ ...defaultDynamicRules(), endpointRateLimits: { '/login': [1, 60] } }, { limiter });
    const first = engine.evaluate({ ip: '192.0.2.1', path: '/login', now: T });
    assert.ok(first instanceof Promise);
    assert.equal((await first).action, 'allow');
    const second = await engine.evaluate({ ip: '192.0.2.1', path: '/login', now: T + 1 });
    assert.equal(second.action === 'block' && second.status, 429);
  });

  it('counts in Redis with a window that is not a whole number of milliseconds (2.00025 s)', async () => {
    const limiter = new RedisSlidingWindow({ client: a, projectId: 'p1', prefix });
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await limiter.hit('frac', 3, 2000.25, T + i));
    assert.deepEqual(results.map((r) => r.allowed), [true, true, true, false]);
    // Before, PEXPIRE refused 4000.5 ms: every hit errored and fell back to a per-instance memory count.
    assert.deepEqual(limiter.stats, { redisHits: 4, fallbacks: 0, errors: 0, timeouts: 0 });
    const ttl = await a.pttl(limiter.redisKey('frac'));
    assert.ok(ttl > 0 && ttl <= 4001, `expires after two windows, rounded up (${ttl} ms)`);
  });

  it('rejects a project id or prefix that would break the hash tag', () => {
    assert.throws(() => new RedisSlidingWindow({ client: a, projectId: 'a{b}' }), /projectId/);
    assert.throws(() => new RedisSlidingWindow({ client: a, projectId: 'p', prefix: '{x}' }), /prefix/);
    assert.throws(() => new RedisSlidingWindow({ client: a, projectId: 'p', commandTimeoutMs: 0 }), /commandTimeoutMs/);
  });
});

describe('rules/RedisSlidingWindow failing open', () => {
  it('falls back to memory at once when Redis is unreachable (closed port)', async () => {
    const port = await freePort();
    const client = new Redis({ host: '127.0.0.1', port, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50, lazyConnect: false });
    client.on('error', () => {});
    try {
      const limiter = new RedisSlidingWindow({ client, projectId: 'p', commandTimeoutMs: 100 });
      const started = performance.now();
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await limiter.hit('k', 3, W, T + i));
      const elapsed = performance.now() - started;
      assert.deepEqual(results.map((r) => r.allowed), [true, true, true, false], 'memory still limits');
      assert.equal(limiter.stats.fallbacks, 4);
      assert.ok(elapsed < 100, `fell back in ${elapsed.toFixed(1)} ms`);
    } finally {
      client.disconnect();
    }
  });

  describe('with its own Redis server (stopped with SIGSTOP)', () => {
    let server: ChildProcess;
    let port: number;
    before(async () => {
      port = await freePort();
      server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      const probe = new Redis({ host: '127.0.0.1', port, retryStrategy: () => 20 });
      probe.on('error', () => {});
      await ready(probe);
      probe.disconnect();
    });
    after(() => {
      server.kill('SIGCONT');
      server.kill('SIGKILL');
    });

    it('uses Redis TIME when no clock is passed, and reloads the script after SCRIPT FLUSH', async () => {
      // On this suite's own server: SCRIPT FLUSH on the shared one would disturb other suites.
      const client = new Redis({ host: '127.0.0.1', port, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
      client.on('error', () => {});
      await ready(client);
      try {
        const redis = new RedisSlidingWindow({ client, projectId: 'p', commandTimeoutMs: 500 });
        assert.equal((await redis.hit('time', 2, 60_000)).allowed, true);
        await client.script('FLUSH');
        assert.equal((await redis.hit('time', 2, 60_000)).allowed, true);
        assert.equal((await redis.hit('time', 2, 60_000)).allowed, false);
        assert.equal(redis.stats.fallbacks, 0);
      } finally {
        client.disconnect();
      }
    });

    it('falls back within commandTimeoutMs, then returns to Redis when it answers again', async () => {
      const client = new Redis({ host: '127.0.0.1', port, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
      client.on('error', () => {});
      await ready(client);
      const limiter = new RedisSlidingWindow({ client, projectId: 'p', commandTimeoutMs: 80, retryAfterTimeoutMs: 300 });
      try {
        assert.equal((await limiter.hit('k', 5, W, T)).allowed, true);
        assert.equal(limiter.stats.redisHits, 1);
        server.kill('SIGSTOP');
        const started = performance.now();
        const r = await limiter.hit('k', 5, W, T + 1);
        const elapsed = performance.now() - started;
        assert.equal(r.allowed, true);
        assert.equal(limiter.stats.timeouts, 1);
        assert.equal(limiter.stats.fallbacks, 1);
        assert.ok(elapsed >= 75 && elapsed < 500, `fell back after ${elapsed.toFixed(1)} ms`);
        // Still hanging: the next requests go to memory at once instead of each waiting out the timeout.
        for (let i = 0; i < 20; i++) await limiter.hit('k', 100, W, T + 2);
        assert.equal(limiter.stats.timeouts, 1, 'one request waited, not twenty-one');
        assert.equal(limiter.stats.fallbacks, 21);
        server.kill('SIGCONT');
        await new Promise((resolve) => setTimeout(resolve, 350));
        const back = await limiter.hit('k', 5, W, T + 3);
        assert.equal(back.allowed, true);
        assert.equal(limiter.stats.redisHits, 2, 'back on Redis once the retry delay has passed');
      } finally {
        client.disconnect();
      }
    });
  });
});
