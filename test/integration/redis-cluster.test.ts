/**
 * Every Redis-using part of the agent against a real 3-master Redis Cluster
 * (spawned for this suite, torn down after), through an ioredis `Cluster`
 * client as an app would pass one: the fallback queue (all its Lua scripts),
 * rules sharing (lock, cached entry, pub/sub), the shared sliding window, and
 * the handler's `initializeRedis(cluster)` with the durability journal.
 *
 * The point is the cluster rules: a multi-key script or pipeline whose keys
 * are not in one slot fails with CROSSSLOT, and a key served by another node
 * needs routing. Two projects whose hash tags land on different masters are
 * used throughout, and the tests check which node holds which key.
 *
 * A cluster reaches the agent either as a client the app passes
 * (`initializeRedis(new Cluster(...))`) or by configuration alone
 * (`redisClusterNodes` / `GUARD_AGENT_REDIS_CLUSTER_NODES`), from which the
 * agent builds its own fail-fast `Cluster` clients: both ways are tested here.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { Cluster, type Redis } from 'ioredis';
import { resolveConfig } from '../../src/config.js';
import type { AgentConfigInput } from '../../src/config-types.js';
import { DevBackend, DEFAULT_DEV_API_KEY } from '../../src/dev-backend/index.js';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { RedisFallbackQueue, type RedisFallbackQueueOptions } from '../../src/queue/redis-fallback-queue.js';
import { queueKeys } from '../../src/queue/redis-keys.js';
import { SwitchableQueue } from '../../src/queue/switchable-queue.js';
import { RedisSlidingWindow } from '../../src/rules/redis-sliding-window.js';
import { RulePoller } from '../../src/rules/rule-poller.js';
import { HTTPTransport } from '../../src/transport/http-transport.js';
import { startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster.js';
import { freePort } from '../helpers/redis-server.js';
import { assertEnqueuesFast, makeBatch } from '../helpers/wire-batch.js';
import { until } from '../helpers/until.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Collects diag warnings and errors: a CROSSSLOT or MOVED failure inside the agent surfaces here, never as a throw. */
function captureDiag(): { messages: string[]; restore(): void } {
  const messages: string[] = [];
  const logger: DiagLogger = {
    error: (m) => messages.push(`error: ${m}`),
    warn: (m) => messages.push(`warn: ${m}`),
    info: () => undefined,
    debug: () => undefined,
    verbose: () => undefined,
  };
  diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  return { messages, restore: () => diag.disable() };
}

function assertNoClusterErrors(messages: string[]): void {
  // Logged by a handler in 'emit' mode when it is built, before the app calls initializeRedis().
  messages = messages.filter((m) => !m.includes("durability 'emit' needs Redis ("));
  // Every diag line of the queue, journal, rules sharing and rate limiter about Redis names it.
  const bad = messages.filter((m) => /CROSSSLOT|MOVED|\bASK\b|CLUSTERDOWN|TRYAGAIN|Redis/i.test(m));
  assert.deepEqual(bad, [], 'no Redis error reached the agent');
}

/** A handler's config for the cluster tests: no timed flush, no retries, a short lease and quick replays. */
function clusterHandlerConfig(endpoint: string, projectId: string, instanceId: string, prefix: string, durability: 'batch' | 'emit'): AgentConfigInput {
  return {
    apiKey: DEFAULT_DEV_API_KEY,
    endpoint,
    projectId,
    flushInterval: 60,
    retryAttempts: 0,
    durability,
    instanceId,
    queue: { prefix, leaseMs: 600, drainIntervalMs: 50 },
    // Outages fail a replay every 50 ms: a breaker open for the default 60 s would outlast a test.
    breaker: { failureThreshold: 5, recoveryTimeoutMs: 100 },
  };
}

describe('Redis Cluster (real 3-master cluster)', function () {
  this.timeout(30_000);
  let cluster: RedisClusterHandle;
  let client: Cluster;
  /** Two project ids whose `{projectId}` hash tags are served by different masters. */
  let projectA: string;
  let projectB: string;
  let log: ReturnType<typeof captureDiag>;
  const clients: Cluster[] = [];
  const queues: RedisFallbackQueue[] = [];

  function newClient(): Cluster {
    const c = new Cluster(cluster.startupNodes);
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  }

  async function ready(c: Cluster): Promise<Cluster> {
    if (c.status !== 'ready') await new Promise((resolve) => c.once('ready', resolve));
    return c;
  }

  function queue(projectId: string, options: Partial<RedisFallbackQueueOptions> = {}): RedisFallbackQueue {
    const q = new RedisFallbackQueue({ client, projectId, instanceId: 'a', ...options });
    queues.push(q);
    return q;
  }

  /** Port of the master serving a key (by the cluster's own CLUSTER KEYSLOT and CLUSTER NODES). */
  async function portOf(key: string): Promise<number> {
    return cluster.portOfSlot(await cluster.keyslot(key));
  }

  /** Every key matching `pattern`, with the port of the master that holds it (SCAN of each master). */
  async function keysByNode(pattern: string): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    for (const node of client.nodes('master') as Redis[]) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        for (const k of keys) found.set(k, node.options.port as number);
      } while (cursor !== '0');
    }
    return found;
  }

  /** Every key of the pattern lives on `expectedPort` and hashes to one slot, that of `{projectId}`. */
  async function assertOneSlot(pattern: string, projectId: string, expectedPort: number, minKeys: number): Promise<void> {
    const keys = await keysByNode(pattern);
    assert.ok(keys.size >= minKeys, `expected at least ${minKeys} keys for ${pattern}, got ${[...keys.keys()].join(', ')}`);
    const slot = await cluster.keyslot(`{${projectId}}`);
    for (const [key, port] of keys) {
      assert.equal(port, expectedPort, `${key} is on the master serving {${projectId}}`);
      assert.equal(await cluster.keyslot(key), slot, `${key} hashes to the slot of {${projectId}}`);
    }
  }

  before(async () => {
    cluster = await startRedisCluster();
    client = await ready(newClient());
    // Pick two project ids served by different masters (slot ranges are fixed by --cluster create, so this is deterministic).
    projectA = 'tenant-0';
    const portA = await portOf(`{${projectA}}`);
    for (let i = 1; !projectB; i++) {
      if ((await portOf(`{tenant-${i}}`)) !== portA) projectB = `tenant-${i}`;
    }
  });
  beforeEach(() => {
    log = captureDiag();
  });
  afterEach(async () => {
    log.restore();
    for (const q of queues.splice(0)) q.detach();
  });
  after(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await cluster?.stop();
  });

  describe('fallback queue', () => {
    it('enqueue / take / release / ack for two projects on different masters, each in its own slot', async () => {
      const prefix = 'gq1';
      const [portA, portB] = [await portOf(`{${projectA}}`), await portOf(`{${projectB}}`)];
      assert.notEqual(portA, portB, 'the two projects are served by different masters');
      const a = queue(projectA, { prefix });
      const b = queue(projectB, { prefix });
      assert.equal(await a.ready(), true);
      assert.equal(await b.ready(), true);

      const batchesA = [makeBatch(1), makeBatch(2), makeBatch(3)];
      const batchesB = [makeBatch(4), makeBatch(5)];
      for (const batch of batchesA) await a.enqueue(batch);
      for (const batch of batchesB) await b.enqueue(batch);
      assert.deepEqual([a.stats().depthBatches, a.stats().depthItems], [3, 6]);
      assert.deepEqual([b.stats().depthBatches, b.stats().depthItems], [2, 9]);

      const takenA = await a.take(2);
      assert.deepEqual(takenA.map((t) => t.batch), batchesA.slice(0, 2), 'whole batches come back intact, oldest first');
      assert.equal((await a.take(1))[0].batch.batchId, batchesA[2].batchId);
      assert.equal((await a.take(5)).length, 0, 'in-flight batches are not handed out twice');
      await a.release([takenA[1].id]);
      assert.deepEqual((await a.take(5)).map((t) => t.id), [takenA[1].id], 'a released batch is taken again');
      await a.ack([takenA[0].id, takenA[1].id]);

      const takenB = await b.take(10);
      assert.deepEqual(takenB.map((t) => t.batch), batchesB);
      await b.ack([takenB[0].id]);

      assert.deepEqual([a.stats().depthBatches, a.stats().acked], [1, 2]);
      assert.deepEqual([b.stats().depthBatches, b.stats().acked], [1, 1]);
      for (const q of [a, b]) assert.equal(q.stats().redisAvailable, true);
      assert.equal(await client.hlen(queueKeys(prefix, projectA).data), 1);
      assert.equal(await client.hlen(queueKeys(prefix, projectB).data), 1);
      // epoch, data, instances, heartbeat, inflight, meta (pending is empty, so Redis has deleted it)
      await assertOneSlot(`${prefix}:{${projectA}}:*`, projectA, portA, 6);
      await assertOneSlot(`${prefix}:{${projectB}}:*`, projectB, portB, 6);
      assertNoClusterErrors(log.messages);
    });

    it('bounds by entries and by bytes, dropping the oldest (queue_full)', async () => {
      const byCount = queue(projectA, { prefix: 'gq2', maxEntries: 3 });
      await byCount.ready();
      const batches = Array.from({ length: 5 }, () => makeBatch(2));
      for (const batch of batches) await byCount.enqueue(batch);
      assert.equal(byCount.stats().depthBatches, 3);
      assert.equal(byCount.stats().dropped.queue_full, 4);
      assert.deepEqual((await byCount.take(10)).map((t) => t.batch.batchId), batches.slice(2).map((b) => b.batchId));

      const byBytes = queue(projectB, { prefix: 'gq2', maxBytes: 5000 });
      await byBytes.ready();
      for (let i = 0; i < 6; i++) await byBytes.enqueue(makeBatch(1, 2000));
      const s = byBytes.stats();
      assert.ok(s.depthBytes <= 5000, `depthBytes ${s.depthBytes}`);
      assert.ok((s.dropped.queue_full ?? 0) > 0);
      assert.equal(s.depthBatches + (s.dropped.queue_full ?? 0), 6);
      assertNoClusterErrors(log.messages);
    });

    it('a restarted instance replays its in-flight batches; a sibling takes over a dead one only after its lease', async () => {
      const prefix = 'gq3';
      const first = queue(projectB, { prefix, instanceId: 'worker-1' });
      await first.ready();
      await first.enqueue(makeBatch());
      await first.enqueue(makeBatch());
      const inFlight = await first.take(1);
      first.detach(); // crash: nothing written back
      const second = queue(projectB, { prefix, instanceId: 'worker-1' });
      await second.ready();
      const replayed = await second.take(10);
      assert.equal(replayed.length, 2);
      assert.equal(replayed[0].batch.batchId, inFlight[0].batch.batchId, 'the in-flight batch comes back first');
      await second.ack(replayed.map((t) => t.id));

      const leaseMs = 800;
      const dead = queue(projectB, { prefix, instanceId: 'dead', leaseMs, heartbeatIntervalMs: 100 });
      const heir = queue(projectB, { prefix, instanceId: 'heir', leaseMs, heartbeatIntervalMs: 100 });
      await Promise.all([dead.ready(), heir.ready()]);
      for (let i = 0; i < 3; i++) await dead.enqueue(makeBatch());
      const deadInFlight = await dead.take(1);
      assert.equal(await heir.claimExpiredSiblings(), 0, 'a live sibling is never claimed');
      assert.equal((await heir.take(10)).length, 0);
      const diedAt = Date.now();
      dead.detach();
      const got: string[] = [];
      while (got.length < 3 && Date.now() - diedAt < leaseMs + 3000) {
        got.push(...(await heir.take(10)).map((t) => t.batch.batchId));
        await sleep(20);
      }
      assert.equal(got.length, 3, "the heir takes all of the dead instance's batches");
      assert.equal(got[0], deadInFlight[0].batch.batchId, 'its in-flight batch first');
      assert.ok(Date.now() - diedAt >= leaseMs - 150, 'not before the lease expired');
      const members = await client.smembers(queueKeys(prefix, projectB).instances);
      assert.ok(!members.includes('dead'), `the dead instance is unregistered, members ${members.join(', ')}`);
      await assertOneSlot(`${prefix}:{${projectB}}:*`, projectB, await portOf(`{${projectB}}`), 5);
      assertNoClusterErrors(log.messages);
    });

    it("detects the loss when the project's master loses its data, keeps what was in flight, and carries on", async () => {
      const prefix = 'gq4';
      const q = queue(projectA, { prefix });
      await q.ready();
      await q.enqueue(makeBatch(2));
      await q.enqueue(makeBatch(3));
      const held = await q.take(1);
      // Wipe only the master that serves projectA's slot (what a restart without persistence leaves).
      const port = await portOf(`{${projectA}}`);
      const master = cluster.nodes.find((n) => n.port === port)!;
      assert.match(await master.command('FLUSHALL'), /^\+OK/);
      assert.equal(await client.exists(queueKeys(prefix, projectA).epoch), 0);

      assert.equal((await q.take(10)).length, 0, 'the waiting batch went with the data');
      const s = q.stats();
      assert.equal(s.dataLossDetected, 1);
      assert.equal(s.dropped.redis_data_loss, 3, 'only the waiting batch is lost; the in-flight one is still held');
      assert.ok(log.messages.some((m) => m.includes('Redis lost the fallback queue')), log.messages.join('\n'));
      await q.release([held[0].id]); // written back under the new epoch
      const back = await q.take(10);
      assert.deepEqual(back.map((t) => t.batch), [held[0].batch]);
      await q.ack([back[0].id]);
      await q.enqueue(makeBatch());
      assert.equal((await q.take(10)).length, 1, 'the queue keeps working under the new epoch');
      assert.equal(q.stats().dataLossDetected, 1, 'reported once');
    });

    it("a project's master restarted without persistence: memory meanwhile, the loss reported, the other project untouched", async () => {
      const prefix = 'gq6';
      const own = await ready(newClient());
      const commandTimeoutMs = 300;
      const a = queue(projectA, { prefix, client: own, commandTimeoutMs, reconnectProbeMs: 100 });
      const b = queue(projectB, { prefix, client: own, commandTimeoutMs, reconnectProbeMs: 100 });
      await Promise.all([a.ready(), b.ready()]);
      await a.enqueue(makeBatch(1));
      const port = await portOf(`{${projectA}}`);
      const node = cluster.nodes.find((n) => n.port === port)!;
      await node.kill9();

      const whileDown = await assertEnqueuesFast(a, 3, commandTimeoutMs + 150);
      assert.equal(a.stats().redisAvailable, false);
      const other = makeBatch(4);
      await b.enqueue(other);
      assert.equal(b.stats().redisAvailable, true, "the other master's project keeps using Redis");
      assert.equal(b.stats().depthBatches, 1);

      await node.restart(); // same port and nodes.conf: the same master, with its slots, empty
      await until('project A back on Redis', () => a.stats().redisAvailable && a.stats().depthBatches === 3, 10_000);
      const s = a.stats();
      assert.equal(s.dataLossDetected, 1);
      assert.equal(s.dropped.redis_data_loss, 1, 'the one batch that was only in Redis');
      const taken = await a.take(10);
      assert.deepEqual(taken.map((t) => t.batch), whileDown, 'memory moved back, oldest first');
      assert.ok(taken.every((t) => !t.id.startsWith('m')), 'they are Redis entries now');
      assert.equal(await client.llen(queueKeys(prefix, projectA).instance('a').inflight), 3);
      assert.deepEqual((await b.take(10)).map((t) => t.batch), [other]);
    });

    it("follows its project's slot when it moves to another master (resharding)", async () => {
      const prefix = 'gq7';
      const q = queue(projectB, { prefix });
      await q.ready();
      const batches = [makeBatch(1), makeBatch(2), makeBatch(3)];
      for (const batch of batches) await q.enqueue(batch);
      const held = await q.take(1);

      const slot = await cluster.keyslot(`{${projectB}}`);
      const from = await portOf(`{${projectB}}`);
      const to = cluster.nodes.find((n) => n.port !== from)!.port;
      await cluster.moveSlot(slot, to);
      try {
        assert.equal(await portOf(`{${projectB}}`), to);
        await q.ack([held[0].id]);
        const newer = makeBatch(4);
        await q.enqueue(newer);
        const rest = await q.take(10);
        assert.deepEqual(rest.map((t) => t.batch), [...batches.slice(1), newer], 'the batches come back intact from the new master');
        await q.ack(rest.map((t) => t.id));
        assert.equal(q.stats().depthBatches, 0);
        assert.equal(q.stats().dataLossDetected, 0, 'a moved slot is not a data loss');
        await assertOneSlot(`${prefix}:{${projectB}}:*`, projectB, to, 4);
        assertNoClusterErrors(log.messages);
      } finally {
        await cluster.moveSlot(slot, from); // the other tests expect projectA and projectB on different masters
      }
    });

    it('close() puts in-flight batches back for the next run of the instance', async () => {
      const q = queue(projectB, { prefix: 'gq5', instanceId: 'closer' });
      await q.ready();
      const batch = makeBatch();
      await q.enqueue(batch);
      await q.take(1);
      await q.close();
      const next = queue(projectB, { prefix: 'gq5', instanceId: 'closer' });
      await next.ready();
      assert.deepEqual((await next.take(10)).map((t) => t.batch), [batch]);
      assertNoClusterErrors(log.messages);
    });

    it('a switch onto the same cluster through a second client takes over: nothing moves, the entry in flight is not replayed', async () => {
      const old = queue(projectB, { prefix: 'gq8', instanceId: 'sw' });
      await old.ready();
      const q = new SwitchableQueue(old);
      const batches = [makeBatch(), makeBatch()];
      for (const b of batches) await q.enqueue(b);
      const [inFlight] = await q.take(1);
      const t0 = Date.now();
      await q.switchTo(queue(projectB, { client: await ready(newClient()), prefix: 'gq8', instanceId: 'sw' }));
      assert.ok(Date.now() - t0 < 2000, `the switch took ${Date.now() - t0} ms`);
      const rest = await q.take(10);
      assert.deepEqual(rest.map((t) => t.batch.batchId), [batches[1].batchId], 'the batch in flight was not put back');
      await q.ack([inFlight.id, ...rest.map((t) => t.id)]);
      assert.equal(await client.hlen(queueKeys('gq8', projectB).data), 0, 'both acks removed their entries');
      await q.close();
      assertNoClusterErrors(log.messages);
    });
  });

  describe('rules sharing (RulePoller over the cluster, pub/sub included)', () => {
    const KEY = 'rules_cluster_key_0123456789';
    const GOOD = { rule_id: 'rs_cluster', version: 7, ip_blacklist: ['203.0.113.0/24'], ttl: 300 };
    let backend: DevBackend;
    let home: string;
    let ruleGets = 0;
    const cleanups: Array<() => Promise<unknown> | unknown> = [];

    function poller(projectId: string, intervalMs: number, redisPrefix = 'gr'): RulePoller {
      const config = resolveConfig({ apiKey: KEY, endpoint: backend.url, projectId, retryAttempts: 1, backoffFactor: 0.01 }, { env: {} });
      const transport = new HTTPTransport(config, { installIdHomeDir: home });
      const p = new RulePoller({ source: transport, projectId, intervalSeconds: 300, intervalMs, redisPrefix, apiKey: KEY });
      cleanups.push(() => transport.close(), () => p.stop());
      return p;
    }

    /** Two pollers of one project sharing rules through `client()`, both subscribed to rule changes. */
    async function siblings(projectId: string, redisPrefix: string, client: () => Cluster = newClient): Promise<[RulePoller, RulePoller]> {
      const a = poller(projectId, 60_000, redisPrefix);
      const b = poller(projectId, 60_000, redisPrefix);
      await a.setRedis(client());
      await b.setRedis(client());
      await within(Promise.all([a.whenShared(), b.whenShared()]), 3000, 'both subscribed to rule changes');
      return [a, b];
    }

    beforeEach(async () => {
      home = mkdtempSync(join(tmpdir(), 'rules-cluster-home-'));
      backend = new DevBackend({ apiKeys: [KEY], rules: GOOD });
      ruleGets = 0;
      backend.on('request', (r: { method: string; path: string }) => {
        if (r.method === 'GET' && r.path === '/api/v1/rules') ruleGets++;
      });
      await backend.start();
    });
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
      await backend.stop();
      rmSync(home, { recursive: true, force: true });
    });

    it('one instance fetches, the sibling reads the shared entry, and a change reaches it by pub/sub', async () => {
      for (const projectId of [projectA, projectB]) {
        const a = poller(projectId, 60_000);
        const b = poller(projectId, 60_000);
        // Each instance with its own Cluster client, as two processes would have.
        await a.setRedis(newClient());
        await b.setRedis(newClient());
        await Promise.all([a.whenShared(), b.whenShared()]);

        const before = ruleGets;
        assert.equal((await a.pollNow())?.version, 7);
        await until('a\'s fetch reaches b by pub/sub', () => b.current()?.version === 7, 5000);
        // An instance that joins later answers from the entry a left in Redis.
        const late = poller(projectId, 60_000);
        await late.setRedis(newClient());
        assert.equal((await late.get())?.version, 7);
        assert.equal(ruleGets - before, 1, 'one fetch for all three instances');
        assert.deepEqual([b.stats.fetches, late.stats.fetches, late.stats.sharedHits], [0, 0, 1]);

        backend.setRules({ ...GOOD, version: 8, ip_blacklist: ['198.51.100.1'] });
        assert.equal((await a.pollNow())?.version, 8);
        await until('the change reaches b by pub/sub', () => b.current()?.version === 8, 5000);
        assert.deepEqual(b.current()?.ipBlacklist, ['198.51.100.1']);
        assert.equal(b.stats.fetches, 0, 'b never fetched');

        // The cached entry is in the project's slot; the fetch lock was released (its Lua script ran on that node).
        const keys = queueKeys('gr', projectId);
        const stored = JSON.parse((await client.get(`${keys.base}:rules`)) ?? 'null') as { body: { version: number } } | null;
        assert.equal(stored?.body.version, 8);
        assert.equal(await client.exists(`${keys.base}:rules:lock`), 0, 'lock released');
        await assertOneSlot(`gr:{${projectId}}:*`, projectId, await portOf(`{${projectId}}`), 1);
        backend.setRules(GOOD);
      }
      assertNoClusterErrors(log.messages);
    });

    it('hears siblings through lazyConnect Cluster clients too (the pub/sub duplicate is connected by itself)', async () => {
      const lazy = (): Cluster => {
        const c = new Cluster(cluster.startupNodes, { lazyConnect: true });
        c.on('error', () => undefined);
        clients.push(c);
        return c;
      };
      const [a, b] = await siblings(projectA, 'gr-lazy', lazy);
      assert.equal((await a.pollNow())?.version, 7);
      await until('the fetch reaches b by pub/sub', () => b.current()?.version === 7, 5000);
      assert.equal(b.stats.fetches, 0);
      assertNoClusterErrors(log.messages);
    });

    // Pub/sub is at most once: a message that crosses a cluster-bus link the restart broke (and the sender has not
    // noticed yet) is lost, and then the sibling gets the change with its next poll (the shared entry). What must hold
    // is that the subscription itself survives: ioredis moves it off a dead node and changes flow by pub/sub again.
    it('changes still reach a sibling by pub/sub after each master restarted (wherever its subscription was)', async () => {
      const [a, b] = await siblings(projectB, 'gr-restart');
      let version = 7;
      for (const node of cluster.nodes) {
        await node.kill9();
        await node.restart(); // empty, same slots
        await cluster.waitHealthy();
        let heard = false;
        for (let attempt = 0; attempt < 10 && !heard; attempt++) {
          backend.setRules({ ...GOOD, version: ++version });
          await until(`a fetches v${version} after ${node.port} restarted`, async () => (await a.pollNow())?.version === version, 5000);
          heard = await until(`v${version} reaches b`, () => b.current()?.version === version, 500).then(() => true, () => false);
        }
        assert.ok(heard, `b hears changes by pub/sub again after ${node.port} restarted`);
      }
      assert.equal(b.stats.fetches, 0, 'b never fetched (and never polled): every change came by pub/sub');
    });

    it('a forged PUBLISH on the project\'s channel (no valid MAC) is ignored and counted by every sibling', async () => {
      const [a, b] = await siblings(projectA, 'gr-forged');
      assert.equal((await a.pollNow())?.version, 7);
      await until('a\'s fetch reaches b by pub/sub', () => b.current()?.version === 7, 5000);
      const channel = `${queueKeys('gr-forged', projectA).base}:rules:changed`;
      const forged = { fetchedAt: Date.now(), body: { rule_id: 'rs_cluster', version: 2 ** 53 - 1, emergency_mode: true }, mac: 'x'.repeat(43) };
      await client.publish(channel, JSON.stringify({ from: 'someone', entry: forged }));
      await until('both counted it', () => a.stats.unauthenticated === 1 && b.stats.unauthenticated === 1, 2000);
      assert.deepEqual([a.current()?.version, b.current()?.version], [7, 7]);
      backend.setRules({ ...GOOD, version: 8 });
      assert.equal((await a.pollNow())?.version, 8);
      await until('v8 reaches b by pub/sub', () => b.current()?.version === 8, 5000);
      backend.setRules(GOOD);
      assertNoClusterErrors(log.messages);
    });

    it('a sibling holding the fetch lock keeps the other from fetching', async () => {
      const a = poller(projectB, 60_000, 'gr-lock');
      await a.setRedis(newClient());
      await a.whenShared();
      const lockKey = `${queueKeys('gr-lock', projectB).base}:rules:lock`;
      // A sibling's lock, written the way RulesShare writes it.
      assert.equal(await client.set(lockKey, 'sibling-token', 'PX', 5000, 'NX'), 'OK');
      assert.equal(await a.pollNow(), null, 'no rules yet, and no fetch while the sibling holds the lock');
      assert.deepEqual([a.stats.fetches, a.stats.lockedOut], [0, 1]);
      await client.del(lockKey);
      assert.equal((await a.pollNow())?.version, 7);
      assert.equal(a.stats.fetches, 1);
      assertNoClusterErrors(log.messages);
    });
  });

  describe('shared sliding window', () => {
    it('two limiters on two Cluster clients share one window per project, counted on the project’s master', async () => {
      const prefix = `rl-${randomUUID().slice(0, 8)}`;
      const W = 60_000;
      for (const projectId of [projectA, projectB]) {
        const one = new RedisSlidingWindow({ client: await ready(newClient()), projectId, prefix });
        const two = new RedisSlidingWindow({ client: await ready(newClient()), projectId, prefix });
        const results = [];
        // `now` undefined: the bucket clock is Redis TIME, read inside the script.
        for (let i = 0; i < 6; i++) results.push(await (i % 2 ? two : one).hit('g:192.0.2.1', 4, W));
        assert.deepEqual(results.map((r) => r.allowed), [true, true, true, true, false, false], 'four hits in all, whichever instance');
        assert.deepEqual(results.slice(0, 4).map((r) => r.count), [1, 2, 3, 4]);
        assert.ok(results[4].retryAfterMs > 0);
        assert.equal(one.stats.fallbacks + two.stats.fallbacks, 0, 'never fell back to memory');
        assert.equal(one.stats.redisHits + two.stats.redisHits, 6);
        const key = one.redisKey('g:192.0.2.1');
        assert.equal(await client.hget(key, 'c'), '4');
        assert.ok((await client.pttl(key)) > 0, 'the window expires');
        await assertOneSlot(`${prefix}:{${projectId}}:*`, projectId, await portOf(`{${projectId}}`), 1);
      }
      assertNoClusterErrors(log.messages);
    });
  });

  describe("handler initializeRedis(cluster) with durability: 'emit'", () => {
    let backend: DevBackend;
    const handlers: GuardAgentHandler[] = [];

    function handler(projectId: string, instanceId: string): GuardAgentHandler {
      const h = new GuardAgentHandler(clusterHandlerConfig(backend.url, projectId, instanceId, 'gh', 'emit'), { env: {} });
      handlers.push(h);
      return h;
    }

    function event(key: string, reason: string) {
      return { idempotencyKey: key, eventType: 'ip_banned', ipAddress: '203.0.113.9', actionTaken: 'block', reason };
    }

    beforeEach(async () => {
      backend = new DevBackend();
      await backend.start();
    });
    afterEach(async () => {
      await Promise.all(handlers.splice(0).map((h) => h.stop(2000)));
      await backend.stop();
    });

    it('moves the queue onto the cluster, journals events, holds them through an outage and delivers them after', async () => {
      const h = handler(projectA, 'solo');
      await h.start();
      await h.initializeRedis(newClient());
      await until('queue on the cluster', () => h.getStats().queue.backend === 'redis' && h.getStats().queue.redisAvailable === true);

      // Journaled when emitted: one pipeline of HSET + SADD, both keys in the project's slot.
      const key = randomUUID();
      await h.sendEvent(event(key, 'journaled'));
      const journalKey = h.pipeline.journal!.key;
      assert.equal(await client.hexists(journalKey, key), 1);
      assert.equal(h.pipeline.journal!.stats().writeFailures, 0);

      // Backend down: the batch waits in the Redis queue on the cluster.
      backend.faults.push({ kind: 'status', status: 503, times: Infinity });
      await h.sendEvent(event(randomUUID(), 'during the outage'));
      await h.flushBuffer(3000);
      assert.equal(backend.events.length, 0);
      assert.ok(h.getStats().queue.depthItems >= 2, `held in the Redis queue, stats ${JSON.stringify(h.getStats().queue)}`);
      assert.ok((await client.hlen(queueKeys('gh', projectA).data)) >= 1, 'the batches are in Redis');
      await assertOneSlot(`gh:{${projectA}}:*`, projectA, await portOf(`{${projectA}}`), 6);

      backend.faults.clear();
      await h.flushBuffer(5000);
      await until('delivered', () => backend.events.length === 2);
      assert.deepEqual(new Set(backend.events.map((e) => e.reason)), new Set(['journaled', 'during the outage']));
      await until('queue emptied', async () => (await client.hlen(queueKeys('gh', projectA).data)) === 0);
      await until('journal emptied', async () => (await client.hlen(journalKey)) === 0);
      assert.equal(await h.healthCheck(), true);
      assertNoClusterErrors(log.messages);
    });

    it('a restart of the same instance replays what a crash left in the journal on the cluster', async () => {
      const first = handler(projectB, 'worker-1');
      await first.start();
      await first.initializeRedis(newClient());
      await until('queue on the cluster', () => first.getStats().queue.redisAvailable === true);
      const keys = Array.from({ length: 10 }, () => randomUUID());
      await Promise.all(keys.map((k) => first.sendEvent(event(k, 'before the crash'))));
      assert.equal(await client.hlen(first.pipeline.journal!.key), 10);
      // A SIGKILL: timers stop, nothing is flushed (the SDK batch processor still held all 10).
      first.pipeline.journal!.detach();
      (first.pipeline.queue.current as RedisFallbackQueue).detach();
      await first.pipeline.drainer.stop().catch(() => undefined);
      assert.equal(backend.events.length, 0);

      const second = handler(projectB, 'worker-1');
      await second.start();
      await second.initializeRedis(newClient());
      await until('replayed and delivered', () => backend.events.length === 10, 8000);
      assert.deepEqual(new Set(backend.events.map((e) => e.idempotency_key)), new Set(keys));
      assert.equal(second.pipeline.journal!.stats().replayed, 10);
      assertNoClusterErrors(log.messages);
    });
  });

  describe('configured by redisClusterNodes alone (the agent builds its own Cluster clients)', () => {
    // An ACL user with a mixed-case password: lowercased seed URLs, or credentials not handed to the node connections, fail AUTH.
    const USER = 'guard-agent-cfg';
    const PASSWORD = 'Cfg-Cluster-PassWord-7';
    const GOOD = { rule_id: 'rs_cfg', version: 7, ip_blacklist: ['203.0.113.0/24'], ttl: 300 };
    let backend: DevBackend;
    let ruleGets = 0;
    const handlers: GuardAgentHandler[] = [];

    /** What an operator would export: every master as a seed node, comma-separated. */
    function nodesEnv(): Record<string, string> {
      return { GUARD_AGENT_REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `redis://${USER}:${PASSWORD}@127.0.0.1:${n.port}`).join(',') };
    }

    function handler(projectId: string, instanceId: string, env: Record<string, string>, prefix: string, durability: 'batch' | 'emit' = 'batch'): GuardAgentHandler {
      const h = new GuardAgentHandler(clusterHandlerConfig(backend.url, projectId, instanceId, prefix, durability), { env, rulesIntervalMs: 60_000 });
      handlers.push(h);
      return h;
    }

    function event(reason: string) {
      return { idempotencyKey: randomUUID(), eventType: 'ip_banned', ipAddress: '203.0.113.9', actionTaken: 'block', reason };
    }

    /** Users of the connections to the masters, from CLIENT LIST (the test's own client is the default user). */
    async function connectedUsers(): Promise<Set<string>> {
      const users = new Set<string>();
      for (const node of client.nodes('master') as Redis[]) {
        const list = (await node.client('LIST')) as string;
        for (const m of list.matchAll(/\buser=(\S+)/g)) users.add(m[1]);
      }
      return users;
    }

    before(async () => {
      // ACLs are per node in a cluster: create the user on each master.
      for (const node of cluster.nodes) assert.match(await node.command('ACL', 'SETUSER', USER, 'on', `>${PASSWORD}`, '~*', '&*', '+@all'), /^\+OK/);
    });
    beforeEach(async () => {
      backend = new DevBackend();
      ruleGets = 0;
      backend.on('request', (r: { method: string; path: string }) => {
        if (r.method === 'GET' && r.path === '/api/v1/rules') ruleGets++;
      });
      await backend.start();
    });
    afterEach(async () => {
      await Promise.all(handlers.splice(0).map((h) => h.stop(2000)));
      await backend.stop();
    });

    it("queues batches in the cluster while the backend answers 503 and delivers them once it is back (durability: 'emit' journals there too)", async () => {
      const h = handler(projectA, 'cfg-queue', nodesEnv(), 'gcfg', 'emit');
      assert.equal(h.getConfig().redisClusterNodes.length, 3);
      assert.ok(h.getConfig().redisClusterNodes.every((u) => u.includes(PASSWORD)), 'the env list kept the password as written');
      await h.start();
      const queue = h.pipeline.queue.current as RedisFallbackQueue;
      assert.ok(queue instanceof RedisFallbackQueue);
      assert.ok(queue.redisClient instanceof Cluster, 'the agent built a Cluster client from the seed nodes');
      await until('queue on the cluster', () => h.getStats().queue.backend === 'redis' && h.getStats().queue.redisAvailable === true, 5000);
      assert.ok((await connectedUsers()).has(USER), 'the agent authenticated with the user and password of the URLs');

      backend.faults.push({ kind: 'status', status: 503, times: Infinity });
      const first = event('first, during the outage');
      await h.sendEvent(first);
      const journalKey = h.pipeline.journal!.key;
      assert.equal(await client.hexists(journalKey, first.idempotencyKey), 1, 'journaled on the cluster when emitted');
      await h.sendEvent(event('second, during the outage'));
      assert.equal(h.pipeline.journal!.stats().writeFailures, 0);
      await h.flushBuffer(3000);
      assert.equal(backend.events.length, 0);
      assert.equal(h.getStats().queue.depthItems, 2, `held in the queue, stats ${JSON.stringify(h.getStats().queue)}`);
      assert.equal(h.getStats().queue.redisAvailable, true);
      const keys = queueKeys('gcfg', projectA);
      assert.equal(await client.hlen(keys.data), 1, 'the batch is in Redis on the cluster, not in memory');
      await assertOneSlot(`gcfg:{${projectA}}:*`, projectA, await portOf(`{${projectA}}`), 4);

      backend.faults.clear();
      await h.flushBuffer(5000);
      await until('delivered', () => backend.events.length === 2);
      assert.deepEqual(new Set(backend.events.map((e) => e.reason)), new Set(['first, during the outage', 'second, during the outage']));
      await until('queue emptied on the cluster', async () => (await client.hlen(keys.data)) === 0);
      await until('journal emptied', async () => (await client.hlen(journalKey)) === 0);
      assert.equal(h.getStats().queue.depthItems, 0);
      assertNoClusterErrors(log.messages);
    });

    it('shares rules through the cluster: one fetch, the sibling hears it by pub/sub', async () => {
      backend.setRules(GOOD);
      const a = handler(projectB, 'cfg-rules-a', nodesEnv(), 'gcfg-rules');
      const b = handler(projectB, 'cfg-rules-b', nodesEnv(), 'gcfg-rules');
      await Promise.all([a.start(), b.start()]);
      await within(Promise.all([a.rulePoller.whenShared(), b.rulePoller.whenShared()]), 5000, 'both subscribed to rule changes');

      const before = ruleGets;
      assert.equal((await a.rulePoller.pollNow())?.version, 7);
      await until("a's fetch reaches b by pub/sub", () => b.rulePoller.current()?.version === 7, 5000);
      assert.equal((await b.getDynamicRules())?.version, 7);
      assert.equal(ruleGets - before, 1, 'one fetch for both instances');
      assert.equal(b.rulePoller.stats.fetches, 0, 'b never fetched');

      backend.setRules({ ...GOOD, version: 8, ip_blacklist: ['198.51.100.1'] });
      assert.equal((await a.rulePoller.pollNow())?.version, 8);
      await until('the change reaches b by pub/sub', () => b.rulePoller.current()?.version === 8, 5000);
      assert.deepEqual(b.rulePoller.current()?.ipBlacklist, ['198.51.100.1']);
      assert.equal(b.rulePoller.stats.fetches, 0);

      const base = queueKeys('gcfg-rules', projectB).base;
      const stored = JSON.parse((await client.get(`${base}:rules`)) ?? 'null') as { body: { version: number } } | null;
      assert.equal(stored?.body.version, 8, 'the shared entry is on the cluster');
      assert.equal(await client.exists(`${base}:rules:lock`), 0, 'lock released');
      await assertOneSlot(`gcfg-rules:{${projectB}}:*`, projectB, await portOf(`{${projectB}}`), 1);
      assertNoClusterErrors(log.messages);
    });

    it('starts, and sendEvent resolves at once, when no seed node answers: events wait in memory, no password in any log', async () => {
      log.restore();
      const lines: string[] = [];
      const all = (m: string): void => void lines.push(m);
      diag.setLogger({ error: all, warn: all, info: all, debug: all, verbose: all }, { logLevel: DiagLogLevel.ALL, suppressOverrideMessage: true });
      const closed = [await freePort(), await freePort()];
      const env = { GUARD_AGENT_REDIS_CLUSTER_NODES: closed.map((port) => `redis://${USER}:${PASSWORD}@127.0.0.1:${port}`).join(',') };

      const t0 = Date.now();
      const h = handler(projectA, 'cfg-down', env, 'gcfg-down');
      await h.start();
      assert.ok(Date.now() - t0 < 500, `constructed and started in ${Date.now() - t0} ms`);

      backend.faults.push({ kind: 'status', status: 503, times: Infinity });
      const durations: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = Date.now();
        await h.sendEvent(event(`kept ${i}`));
        durations.push(Date.now() - t);
      }
      assert.ok(Math.max(...durations) < 50, `sendEvent took ${durations.join(', ')} ms`);

      const flushStart = Date.now();
      await h.flushBuffer(3000);
      assert.ok(Date.now() - flushStart < 1500, `the failed export went to the queue in ${Date.now() - flushStart} ms`);
      const q = h.getStats().queue;
      assert.deepEqual([q.backend, q.redisAvailable, q.depthItems], ['redis', false, 5], `kept in the queue's memory, stats ${JSON.stringify(q)}`);

      // The backend is back while the cluster is still unreachable: delivered from memory.
      backend.faults.clear();
      await h.flushBuffer(3000);
      await until('delivered from memory', () => backend.events.length === 5, 5000);
      assert.equal(h.getStats().queue.depthItems, 0);

      const stopStart = Date.now();
      await h.stop(2000);
      assert.ok(Date.now() - stopStart < 3000, `stopped in ${Date.now() - stopStart} ms`);
      assert.ok(lines.some((l) => /Redis unreachable|not connected|ECONNREFUSED|refresh slots/i.test(l)), `the outage is reported:\n${lines.join('\n')}`);
      assert.deepEqual(lines.filter((l) => l.includes(PASSWORD)), [], 'no log line holds the password');
    });

    // Last in the file: every master goes down at once (and comes back empty).
    it('the whole cluster down: its own Cluster refuses commands at once, the queue keeps to memory, and moves back after', async () => {
      const urls = cluster.nodes.map((n) => `redis://${USER}:${PASSWORD}@127.0.0.1:${n.port}`);
      const commandTimeoutMs = 300;
      const q = new RedisFallbackQueue({ clusterNodes: urls, projectId: projectA, instanceId: 'owned', prefix: 'gq-owned', commandTimeoutMs, reconnectProbeMs: 100 });
      queues.push(q);
      assert.equal(await q.ready(), true);
      await q.enqueue(makeBatch(1));
      const own = q.redisClient as Cluster;

      await Promise.all(cluster.nodes.map((n) => n.kill9()));
      try {
        const whileDown = await assertEnqueuesFast(q, 3, commandTimeoutMs + 150);
        await until('the queue noticed', () => q.stats().redisAvailable === false, 3000);
        await until('the client lost the cluster', () => own.status !== 'ready', 3000);
        // No offline queue: a command is refused now, not parked to run whenever the cluster returns.
        const t0 = Date.now();
        await within(assert.rejects(own.get('gq-owned:probe'), /Cluster isn't ready|Connection is closed|None of startup nodes/), 1000, 'the command to be refused');
        assert.ok(Date.now() - t0 < 50, `refused in ${Date.now() - t0} ms`);

        await Promise.all(cluster.nodes.map((n) => n.restart())); // same ports and nodes.conf: same masters and slots, empty
        await cluster.waitHealthy(20_000);
        for (const node of cluster.nodes) await node.command('ACL', 'SETUSER', USER, 'on', `>${PASSWORD}`, '~*', '&*', '+@all');
        await until('the queue is back on the cluster', () => q.stats().redisAvailable && q.stats().depthBatches === 3, 15_000);
        assert.equal(q.stats().dataLossDetected, 1, 'the empty masters are reported as a loss');
        const taken = await q.take(10);
        assert.deepEqual(taken.map((t) => t.batch), whileDown, 'memory moved into the cluster, oldest first');
        assert.ok(taken.every((t) => !t.id.startsWith('m')), 'they are Redis entries now');
      } finally {
        for (const node of cluster.nodes) if (!node.running) await node.restart();
      }
    });
  });
});
