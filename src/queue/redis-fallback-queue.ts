/**
 * The Redis fallback queue: batches the backend has not acknowledged, kept in
 * Redis so they survive a restart of the process and are shared safely by the
 * instances of one project.
 *
 * Data model (chosen by measuring, see bench/queue.ts): per instance, a
 * "reliable list" pair `pending` / `inflight` of entry ids, plus one hash of
 * entry id -> WireBatch JSON for the project. Taking moves ids pending ->
 * inflight atomically; ack deletes; release moves them back to the head.
 * Each instance only ever takes from its own lists; it takes over a sibling's
 * lists (in flight included) only once the sibling's heartbeat key has
 * expired, so a live sibling's batches are never delivered twice.
 *
 * Redis must never stall or break the caller: every call is bounded by
 * `commandTimeoutMs`; while Redis is unreachable batches go to a bounded
 * in-memory queue and are moved into Redis, oldest first, when it answers
 * again. Lost data (Redis restarted without persistence, evicted keys) is
 * detected through an epoch key checked by every script, counted and
 * reported. Nothing here throws to the caller: failures become diag
 * messages and counters.
 *
 * A command that timed out may still run in Redis afterwards (a TAKE then
 * moves ids in flight that nobody holds). So after such a timeout, as on the
 * first contact and on close, the in-flight ids this process does not hold
 * go back to pending (the register script's replay). A late ENQUEUE adds a
 * batch the queue holds in memory meanwhile: see `unanswered`.
 */
import { keepOutOfPrint } from '../config-printing.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { diag } from '@opentelemetry/api';
import { GuardAgentValidationError } from '../errors.js';
import type { DropReason, WireBatch } from '../transport/types.js';
import { countDrop, mergeDrops, type FallbackQueue, type QueuedBatch, type QueueStats } from './fallback-queue.js';
import { MEMORY_ID_PREFIX, MemoryFallbackQueue } from './memory-fallback-queue.js';
import {
  clientFromHandler,
  createOwnedClient,
  errorMessage,
  isConnectionError,
  isOomError,
  isRedisHandler,
  luaScript,
  runScript,
  withTimeout,
  type LuaScript,
  type RedisClientLike,
  type RedisSource,
} from './redis-connection.js';
import { queueKeys, type InstanceKeys, type QueueKeys } from './redis-keys.js';
import { heldInProcess, joinLocalHolders, leaveLocalHolders, type LocalHolder } from './local-holders.js';
import * as scripts from './redis-scripts.js';

export interface RedisFallbackQueueOptions {
  /** An ioredis `Redis` / `Cluster`, or guard-core's `RedisManager` (anything with `getConnection()`). */
  client?: RedisSource;
  /** `redis://` or `rediss://`: the queue creates (and owns) a fail-fast client. */
  url?: string;
  /** Seed node URLs of a Redis Cluster (`redis://[user[:password]@]host:port`): the queue creates (and owns) a fail-fast `Cluster`. */
  clusterNodes?: readonly string[];
  projectId: string;
  /** Key prefix. Default `guard_agent`. */
  prefix?: string;
  /** Owner of the entries this process enqueues. Stable across restarts = this process replays its own leftovers. Default `{hostname}:{pid}`. */
  instanceId?: string;
  /** Most batches held in Redis by this instance (waiting + in flight). Default 10000. */
  maxEntries?: number;
  /** Most bytes (JSON length) held in Redis by this instance. Default 256 MiB. */
  maxBytes?: number;
  /** Batches older than this (by `createdAt`) are dropped (`queue_retention`). Default 7 days. */
  retentionMs?: number;
  /** Longest a caller waits for Redis on any call. Default 500. */
  commandTimeoutMs?: number;
  /** Connect timeout of a client created from `url` or `clusterNodes` (also the longest slots refresh per cluster node). Default 2000. */
  connectTimeoutMs?: number;
  /** An instance whose heartbeat is older than this is dead; a sibling takes its entries over. Default 30000. */
  leaseMs?: number;
  /** Heartbeat / sibling check / retention period. Default leaseMs / 3. */
  heartbeatIntervalMs?: number;
  /** How often to probe Redis while it is unreachable. Default 1000. */
  reconnectProbeMs?: number;
  /** Where batches go while Redis is unreachable. Default `new MemoryFallbackQueue()`. */
  memoryFallback?: MemoryFallbackQueue;
}

interface HeldBatch {
  batch: WireBatch;
  json: string;
  items: number;
  /** The epoch under which the entry was taken: if Redis has lost data since, a release writes it back. */
  epoch: string;
}

interface Encoded {
  id: string;
  json: string;
  bytes: number;
}

interface Depth {
  pending: number;
  inflight: number;
  items: number;
  bytes: number;
}

const SCRIPTS = {
  enqueue: luaScript(scripts.ENQUEUE),
  take: luaScript(scripts.TAKE),
  ack: luaScript(scripts.ACK),
  release: luaScript(scripts.RELEASE),
  register: luaScript(scripts.REGISTER),
  claim: luaScript(scripts.CLAIM),
};

/** Most batches moved from memory to Redis per script call. */
const MOVE_CHUNK = 64;
/** An OOM retry frees at least this much of our oldest data first. */
const OOM_MIN_FREE_BYTES = 64 * 1024;

class RedisUnavailableError extends Error {
  constructor() {
    super('Redis client not available');
    this.name = 'RedisUnavailableError';
  }
}

function isMemoryId(id: string): boolean {
  return id.startsWith(MEMORY_ID_PREFIX);
}

function itemsOfId(id: string): number {
  const match = /^\d+-(\d+)-/.exec(id);
  return match ? Number(match[1]) : 0;
}

function isWireBatch(value: unknown): value is WireBatch {
  const b = value as WireBatch | null;
  return (
    typeof b === 'object' &&
    b !== null &&
    (b.kind === 'events' || b.kind === 'metrics') &&
    typeof b.batchId === 'string' &&
    Array.isArray(b.items) &&
    b.items.every((item) => typeof item === 'string') &&
    Array.isArray(b.idempotencyKeys) &&
    typeof b.createdAt === 'number'
  );
}

export class RedisFallbackQueue implements FallbackQueue, LocalHolder {
  readonly instanceId: string;
  readonly keys: QueueKeys;
  private readonly own: InstanceKeys;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly retentionMs: number;
  readonly commandTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  readonly leaseMs: number;
  private readonly memory: MemoryFallbackQueue;
  private readonly source: RedisSource | undefined;
  private readonly ownsClient: boolean;
  private client: RedisClientLike | null = null;

  private epoch: string | null = null;
  private available = false;
  /** Our in-flight list may hold ids nobody holds: a previous run's (first contact), or a TAKE's that ran after we gave up on it. */
  private reconcileNeeded = true;
  private replayedOnce = false;
  private takesRunning = 0;
  private closed = false;
  /** A queue on the same Redis lists took over (`takeOver`): closing writes nothing, the successor holds it all. */
  private handedOver = false;
  private readonly idNonce = randomBytes(4).toString('hex');
  private idSeq = 0;

  private readonly held = new Map<string, HeldBatch>();
  /** Released while Redis was down: takeable again from here, written back to Redis on recovery. */
  private readonly deferredRelease = new Map<string, HeldBatch>();
  /** Acked while Redis was down: removed from Redis on recovery. */
  private readonly deferredAck = new Set<string>();
  /**
   * Batches held in memory whose write to Redis got no answer (a timeout): the script may still run there
   * once Redis answers. Written again under the same entry id, which the script adds only once; delivered
   * from memory meanwhile, that entry is removed from Redis too. Else Redis would hold a second copy.
   */
  private readonly unanswered = new WeakMap<WireBatch, Encoded>();
  /** Memory ids handed out by `take` whose batch is in `unanswered`: their Redis entry ids. */
  private readonly unansweredTaken = new Map<string, string>();

  private depth: Depth = { pending: 0, inflight: 0, items: 0, bytes: 0 };
  private enqueued = 0;
  private acked = 0;
  private dataLossDetected = 0;
  private readonly dropped: Partial<Record<DropReason, number>> = {};

  private readonly started: Promise<boolean>;
  private recovering: Promise<boolean> | null = null;
  private moving: Promise<void> | null = null;
  private lossHandling: Promise<void> | null = null;
  private ticking = false;
  private readonly heartbeatTimer: NodeJS.Timeout;
  private probeTimer: NodeJS.Timeout | null = null;
  private readonly reconnectProbeMs: number;
  private readonly onReady = (): void => {
    void this.recover();
  };
  private readonly onClose = (): void => {
    this.markUnavailable(new Error('connection closed'));
  };
  private readonly onClientError = (error: unknown): void => {
    diag.debug(`guard-agent fallback queue: Redis client error: ${errorMessage(error)}`);
  };

  constructor(options: RedisFallbackQueueOptions) {
    keepOutOfPrint(this, 'client');
    const hasNodes = (options.clusterNodes?.length ?? 0) > 0;
    if (!options.client && !options.url && !hasNodes) {
      throw new GuardAgentValidationError({ field: 'client', message: 'a Redis client, RedisManager, url or clusterNodes is required' }, 'fallback queue options');
    }
    if (!options.client && options.url && hasNodes) {
      throw new GuardAgentValidationError({ field: 'clusterNodes', message: 'give url (one server) or clusterNodes (a cluster), not both' }, 'fallback queue options');
    }
    const rawInstance = options.instanceId ?? `${hostname()}:${process.pid}`;
    this.keys = queueKeys(options.prefix ?? 'guard_agent', options.projectId);
    this.instanceId = rawInstance.replace(/[{}]/g, '_');
    this.own = this.keys.instance(this.instanceId);
    this.maxEntries = Math.max(1, Math.floor(options.maxEntries ?? 10_000));
    this.maxBytes = Math.max(1, Math.floor(options.maxBytes ?? 256 * 1024 * 1024));
    this.retentionMs = options.retentionMs ?? 7 * 24 * 3600 * 1000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 500;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.reconnectProbeMs = options.reconnectProbeMs ?? 1000;
    this.memory = options.memoryFallback ?? new MemoryFallbackQueue();

    if (options.client) {
      this.source = options.client;
      this.ownsClient = false;
    } else {
      this.source = undefined;
      this.ownsClient = true;
      // A Cluster refuses commands while it is not ready, like the single-node client without its offline queue: the queue never waits on it.
      this.client = createOwnedClient(
        { redisUrl: options.url, redisClusterNodes: options.clusterNodes },
        { commandTimeoutMs: this.commandTimeoutMs, connectTimeoutMs: this.connectTimeoutMs },
      ) as RedisClientLike;
      this.client.on('error', this.onClientError);
      this.attachListeners(this.client);
    }

    joinLocalHolders(this.own.inflight, this);
    const interval = options.heartbeatIntervalMs ?? Math.max(50, Math.floor(this.leaseMs / 3));
    this.heartbeatTimer = setInterval(() => void this.tick(), interval);
    this.heartbeatTimer.unref();
    this.started = this.recover();
  }

  /** The connection in use (null while a RedisManager has none yet): the durability journal shares it. */
  get redisClient(): RedisClientLike | null {
    return this.resolveClient();
  }

  /**
   * True while batches enqueued here are held only by this process (the
   * memory fallback, waiting or being replayed): a SIGKILL now loses them.
   * It holds some while Redis is unreachable, and for a moment after a
   * command timed out or Redis came back, until they are moved into Redis.
   */
  get holdsBatchesInMemory(): boolean {
    return this.memory.heldCount() > 0;
  }

  /** True while Redis answers (false while batches go to the memory fallback). */
  get isAvailable(): boolean {
    return this.available && !this.closed;
  }

  /** Resolves once the first connection attempt is over: true when Redis is in use, false when answering from memory. */
  ready(): Promise<boolean> {
    return this.started;
  }

  /** True while a TAKE is on its way (LocalHolder). */
  get taking(): boolean {
    return this.takesRunning > 0;
  }

  /** Ids of ours that Redis keeps in flight and this process still has in hand (LocalHolder). */
  *heldIds(): Iterable<string> {
    yield* this.held.keys();
    yield* this.deferredRelease.keys();
    yield* this.deferredAck;
  }

  async enqueue(batch: WireBatch): Promise<void> {
    if (this.closed) {
      countDrop(this.dropped, 'agent_stopped', batch.items.length);
      return;
    }
    this.enqueued++;
    // While memory still holds older batches, newer ones queue behind them so Redis receives them oldest first.
    if (!this.available || this.epoch === null || this.memory.waitingCount() > 0) {
      this.memory.push(batch);
      if (this.available) void this.moveMemoryToRedis();
      return;
    }
    let entry: Encoded;
    try {
      entry = this.encode(batch);
    } catch (error) {
      countDrop(this.dropped, 'encoding_error', batch.items.length);
      diag.warn(`guard-agent fallback queue: batch ${batch.batchId} could not be serialised: ${errorMessage(error)}`);
      return;
    }
    try {
      await this.addToRedis([entry]);
    } catch (error) {
      this.onRedisError(error, 'enqueue');
      this.unanswered.set(batch, entry);
      this.memory.push(batch);
    }
  }

  async take(max: number): Promise<QueuedBatch[]> {
    const out: QueuedBatch[] = [];
    if (this.closed || !(max > 0)) return out;
    for (const [id, held] of this.deferredRelease) {
      if (out.length >= max) break;
      this.deferredRelease.delete(id);
      this.held.set(id, held);
      out.push({ id, batch: held.batch });
    }
    if (out.length < max && this.available) {
      this.takesRunning++;
      try {
        out.push(...(await this.takeFromRedis(max - out.length)));
      } catch (error) {
        this.onRedisError(error, 'take');
      } finally {
        this.takesRunning--;
      }
    }
    if (out.length < max) {
      for (const taken of this.memory.takeNow(max - out.length)) {
        const entry = this.unanswered.get(taken.batch);
        if (entry) this.unansweredTaken.set(taken.id, entry.id);
        out.push(taken);
      }
    }
    return out;
  }

  async ack(ids: string[]): Promise<void> {
    const redisIds: string[] = [];
    const memoryIds: string[] = [];
    for (const id of ids) (isMemoryId(id) ? memoryIds : redisIds).push(id);
    if (memoryIds.length > 0) this.acked += this.memory.ackNow(memoryIds);
    // Delivered from memory: the copy an unanswered write may have left in Redis goes too.
    for (const id of memoryIds) {
      const copy = this.unansweredTaken.get(id);
      if (copy === undefined) continue;
      this.unansweredTaken.delete(id);
      redisIds.push(copy);
    }
    if (redisIds.length === 0) return;
    for (const id of redisIds) {
      const deferred = this.deferredRelease.get(id);
      if (!deferred) continue;
      this.deferredRelease.delete(id);
      this.held.set(id, deferred);
    }
    let removed = false;
    if (this.available && !this.closed) {
      try {
        // Still held during the call: if it finds a data loss, these are not counted as lost.
        await this.removeFromRedis(redisIds);
        removed = true;
      } catch (error) {
        this.onRedisError(error, 'ack');
      }
    }
    for (const id of redisIds) {
      if (this.held.delete(id)) this.acked++;
      if (!removed) this.deferredAck.add(id);
    }
  }

  async release(ids: string[]): Promise<void> {
    const memoryIds = ids.filter(isMemoryId);
    if (memoryIds.length > 0) {
      for (const id of memoryIds) this.unansweredTaken.delete(id);
      await this.memory.release(memoryIds);
      // Taken from memory before a move ran (enqueued before the first contact, or during an outage), it missed that
      // move: start another, or it waits where a crash loses it until the next heartbeat.
      if (this.available && !this.closed) void this.moveMemoryToRedis();
    }
    const released: [string, HeldBatch][] = [];
    for (const id of ids) {
      const held = this.held.get(id);
      if (held) released.push([id, held]);
    }
    if (released.length === 0) return;
    let done = false;
    if (this.available && !this.closed) {
      try {
        // Still held during the call: if it finds a data loss, these are not counted as lost.
        await this.releaseToRedis(released);
        done = true;
      } catch (error) {
        this.onRedisError(error, 'release');
      }
    }
    for (const [id, held] of released) {
      this.held.delete(id);
      if (!done) this.deferredRelease.set(id, held);
    }
  }

  stats(): QueueStats {
    const memory = this.memory.stats();
    return {
      depthBatches: this.depth.pending + this.depth.inflight + memory.depthBatches,
      depthItems: this.depth.items + memory.depthItems,
      depthBytes: this.depth.bytes + memory.depthBytes,
      enqueued: this.enqueued,
      acked: this.acked,
      dropped: mergeDrops(this.dropped, memory.dropped),
      redisAvailable: this.available,
      dataLossDetected: this.dataLossDetected,
      backend: 'redis',
    };
  }

  /**
   * Takes over the entries of every sibling instance whose heartbeat has
   * expired (the heartbeat tick calls this too). Returns how many batches moved.
   */
  async claimExpiredSiblings(): Promise<number> {
    if (!this.available || this.closed) return 0;
    const client = this.requireClient();
    const members = (await withTimeout(client.smembers(this.keys.instances), this.commandTimeoutMs, 'SMEMBERS')) as string[];
    let moved = 0;
    for (const member of members) {
      if (member === this.instanceId) continue;
      const dead = this.keys.instance(member);
      const reply = await this.runChecked('claim', (epoch) => ({
        script: SCRIPTS.claim,
        keys: [this.keys.epoch, this.keys.instances, dead.heartbeat, dead.pending, dead.inflight, dead.meta, this.own.pending, this.own.inflight, this.own.meta],
        args: [epoch, member],
      }));
      if (reply[0] !== 'OK') continue;
      this.updateDepth(reply);
      const batches = Number(reply[5]);
      if (batches > 0) {
        moved += batches;
        diag.info(`guard-agent fallback queue: took over ${batches} batches (${Number(reply[6])} items) of expired instance ${member}`);
      }
    }
    return moved;
  }

  /**
   * Graceful stop: writes deferred acks and releases, puts this instance's
   * in-flight batches back (those it holds and any a timed-out TAKE left
   * there), moves what memory holds into Redis (each step
   * bounded by the command timeout), then closes a client the queue created.
   * What memory still holds after that is lost and counted (`queue_unavailable`).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    // A first connection still being attempted (Redis down since the start) is waited for like any Redis call:
    // at most commandTimeoutMs, not the connect timeout, so a stop keeps its deadline.
    await withTimeout(this.started, this.commandTimeoutMs, 'connect').catch(() => false);
    // Marked unreachable after a timeout on a connection that is still up: one bounded try, so a stop right after a stall writes back.
    if (!this.available && !this.handedOver && this.client?.status === 'ready') await this.recover();
    if (this.available && !this.handedOver) {
      try {
        await this.flushDeferred();
        const inFlight = [...this.held.entries()];
        this.held.clear();
        if (inFlight.length > 0) await this.releaseToRedis(inFlight);
        await this.moveMemoryToRedis();
        // Ids a timed-out TAKE left in flight go back too, rather than waiting for the next start.
        this.reconcileNeeded = true;
        await this.register();
      } catch (error) {
        this.onRedisError(error, 'close');
      }
    }
    this.closed = true;
    leaveLocalHolders(this.own.inflight, this);
    const left = this.memory.stats();
    // Handed over: the memory in flight is the drainer's; settled through the switch, it is not lost.
    if (left.depthItems > 0 && !this.handedOver) {
      this.memory.countDropped('queue_unavailable', left.depthItems);
      diag.warn(`guard-agent fallback queue: closing with ${left.depthBatches} batches (${left.depthItems} items) that only memory held; they are lost`);
    }
    this.stopBackground();
    if (this.ownsClient && this.client) {
      const client = this.client;
      await withTimeout(client.quit(), this.commandTimeoutMs, 'QUIT').catch(() => client.disconnect());
    }
  }

  /**
   * Stops every timer and listener without writing anything to Redis: what a
   * crash leaves behind (the entries stay with this instance id, to be
   * replayed by its next run or taken over after the lease). For tests and
   * hard-exit paths; `close()` is the graceful way.
   */
  detach(): void {
    this.closed = true;
    leaveLocalHolders(this.own.inflight, this);
    this.stopBackground();
    if (this.ownsClient && this.client) this.client.disconnect();
  }

  // --- switch onto the same Redis ---------------------------------------

  /**
   * FallbackQueue.takeOver: `previous` uses the same lists as this queue
   * (same key base and instance id) through a connection that reaches the
   * same data. Then nothing moves: this queue adopts what `previous` holds in
   * memory (in flight, deferred, waiting for Redis) and `previous` closes
   * without writing. Null when that cannot be established (the caller moves
   * the batches instead).
   */
  async takeOver(previous: FallbackQueue): Promise<string[] | null> {
    if (!(previous instanceof RedisFallbackQueue) || previous === this || previous.closed || this.closed) return null;
    if (previous.own.inflight !== this.own.inflight) return null;
    await this.ready();
    if (!this.available || !previous.available || !(await this.reachesSameData(previous))) return null;
    const adopted = [...previous.held.keys()];
    for (const [id, held] of previous.held) this.held.set(id, held);
    for (const [id, held] of previous.deferredRelease) this.deferredRelease.set(id, held);
    for (const id of previous.deferredAck) this.deferredAck.add(id);
    previous.held.clear();
    previous.deferredRelease.clear();
    previous.deferredAck.clear();
    for (const waiting of previous.memory.takeNow(Number.MAX_SAFE_INTEGER)) {
      this.memory.push(waiting.batch);
      previous.memory.ackNow([waiting.id]);
    }
    previous.handedOver = true;
    if (this.deferredAck.size > 0 || this.deferredRelease.size > 0 || this.memory.waitingCount() > 0) void this.recover();
    return adopted;
  }

  /** True when a key written through `other`'s connection is read back through ours (same server, or same cluster). */
  private async reachesSameData(other: RedisFallbackQueue): Promise<boolean> {
    const mine = this.resolveClient();
    const theirs = other.resolveClient();
    if (!mine || !theirs) return false;
    if (mine === theirs) return true;
    const token = randomBytes(12).toString('hex');
    const key = this.keys.probe(token);
    try {
      await withTimeout(theirs.set(key, token, 'PX', 60_000), this.commandTimeoutMs, 'SET probe');
      const seen = await withTimeout(mine.get(key), this.commandTimeoutMs, 'GET probe');
      void withTimeout(theirs.del(key), this.commandTimeoutMs, 'DEL probe').catch(() => undefined);
      return seen === token;
    } catch (error) {
      diag.debug(`guard-agent fallback queue: could not tell whether the new Redis connection reaches the same data: ${errorMessage(error)}`);
      return false;
    }
  }

  // --- Redis operations -------------------------------------------------

  private encode(batch: WireBatch): Encoded {
    const json = JSON.stringify(batch);
    const created = Number.isFinite(batch.createdAt) && batch.createdAt > 0 ? Math.floor(batch.createdAt) : Date.now();
    const id = `${created}-${batch.items.length}-${json.length}-${this.idNonce}${(++this.idSeq).toString(36)}`;
    return { id, json, bytes: json.length };
  }

  /** Appends entries (in order) to our pending list; on OOM frees our oldest entries once and retries. */
  private async addToRedis(entries: Encoded[]): Promise<void> {
    const run = (freeFirst: number): Promise<unknown[]> =>
      this.runChecked('enqueue', (epoch) => ({
        script: SCRIPTS.enqueue,
        keys: [this.keys.epoch, this.keys.data, this.own.pending, this.own.inflight, this.own.meta],
        args: [epoch, this.maxEntries, this.maxBytes, freeFirst, ...entries.flatMap((e) => [e.id, e.json])],
      }));
    let reply: unknown[];
    try {
      reply = await run(0);
    } catch (error) {
      if (!isOomError(error)) throw error;
      const bytes = entries.reduce((sum, e) => sum + e.bytes, 0);
      const freeFirst = Math.max(4 * bytes, OOM_MIN_FREE_BYTES, Math.floor(this.depth.bytes / 10));
      diag.warn(`guard-agent fallback queue: Redis is at maxmemory (OOM); dropping our oldest ~${freeFirst} bytes to make room`);
      reply = await run(freeFirst);
    }
    this.updateDepth(reply);
    countDrop(this.dropped, 'queue_full', Number(reply[5]));
  }

  private async takeFromRedis(max: number): Promise<QueuedBatch[]> {
    let usedEpoch = '';
    const reply = await this.runChecked('take', (epoch) => {
      usedEpoch = epoch;
      return {
        script: SCRIPTS.take,
        keys: [this.keys.epoch, this.keys.data, this.own.pending, this.own.inflight, this.own.meta],
        args: [epoch, max, Date.now() - this.retentionMs],
      };
    });
    this.updateDepth(reply);
    countDrop(this.dropped, 'queue_retention', Number(reply[5]));
    const missing = Number(reply[7]);
    if (missing > 0) diag.debug(`guard-agent fallback queue: skipped ${missing} entries whose data was already gone (acked by a former owner or evicted)`);
    const pairs = reply[8] as string[];
    const out: QueuedBatch[] = [];
    const corrupted: string[] = [];
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const id = pairs[i];
      const json = pairs[i + 1];
      let batch: unknown;
      try {
        batch = JSON.parse(json);
      } catch {
        batch = undefined;
      }
      if (!isWireBatch(batch)) {
        corrupted.push(id);
        continue;
      }
      this.held.set(id, { batch, json, items: batch.items.length, epoch: usedEpoch });
      out.push({ id, batch });
    }
    if (corrupted.length > 0) {
      const items = corrupted.reduce((sum, id) => sum + Math.max(1, itemsOfId(id)), 0);
      countDrop(this.dropped, 'encoding_error', items);
      diag.warn(`guard-agent fallback queue: removed ${corrupted.length} corrupted queue entries (not a batch in JSON)`);
      await this.removeFromRedis(corrupted);
    }
    return out;
  }

  private async removeFromRedis(ids: string[]): Promise<void> {
    const reply = await this.runChecked('ack', (epoch) => ({
      script: SCRIPTS.ack,
      keys: [this.keys.epoch, this.keys.data, this.own.pending, this.own.inflight, this.own.meta],
      args: [epoch, ...ids],
    }));
    this.updateDepth(reply);
  }

  private async releaseToRedis(released: [string, HeldBatch][]): Promise<void> {
    const reply = await this.runChecked('release', (epoch) => ({
      script: SCRIPTS.release,
      keys: [this.keys.epoch, this.keys.data, this.own.pending, this.own.inflight, this.own.meta],
      // Taken before a data loss: Redis no longer has it, so send the JSON to write it back.
      args: [epoch, ...released.flatMap(([id, held]) => [id, held.epoch === epoch ? '' : held.json])],
    }));
    this.updateDepth(reply);
  }

  /**
   * Heartbeat + epoch check + retention at the head; on first contact also
   * adopts/creates the epoch. When needed (first contact, after a timed-out
   * command, on close) it also puts back the in-flight ids nobody in this
   * process holds; not while a TAKE of ours is on its way (its ids are not
   * held yet): then the next heartbeat or recovery does it.
   */
  private async register(): Promise<void> {
    const client = this.requireClient();
    const firstContact = this.epoch === null;
    const spare = this.reconcileNeeded ? heldInProcess(this.own.inflight) : null;
    const replay = spare !== null;
    if (replay) this.reconcileNeeded = false;
    let reply: unknown[];
    try {
      reply = (await withTimeout(
        runScript(
          client,
          SCRIPTS.register,
          [this.keys.epoch, this.keys.data, this.keys.instances, this.own.heartbeat, this.own.pending, this.own.inflight, this.own.meta],
          [this.epoch ?? '', randomBytes(8).toString('hex'), this.instanceId, this.leaseMs, replay ? '1' : '0', Date.now() - this.retentionMs, ...(spare ?? [])],
        ),
        this.commandTimeoutMs,
        'register',
      )) as unknown[];
    } catch (error) {
      if (replay) this.reconcileNeeded = true;
      throw error;
    }
    if (reply[0] === 'LOSS') {
      if (replay) this.reconcileNeeded = true;
      await this.onDataLoss(this.epoch);
      return;
    }
    if (firstContact) this.epoch = String(reply[5]);
    this.updateDepth(reply);
    if (replay) {
      const replayed = Number(reply[6]);
      if (replayed > 0) {
        diag.info(
          this.replayedOnce
            ? `guard-agent fallback queue: ${replayed} batches moved in flight by a Redis command that timed out are queued again`
            : `guard-agent fallback queue: ${replayed} batches left in flight by a previous run of instance ${this.instanceId} are queued again`,
        );
      }
      this.replayedOnce = true;
    }
    countDrop(this.dropped, 'queue_retention', Number(reply[7]));
  }

  /**
   * Runs an epoch-checked script. On `LOSS` (Redis lost our data since we
   * last looked) the loss is reported once and the script retried under the
   * new epoch.
   */
  private async runChecked(
    what: string,
    build: (epoch: string) => { script: LuaScript; keys: string[]; args: (string | number)[] },
  ): Promise<unknown[]> {
    for (let attempt = 0; ; attempt++) {
      if (this.epoch === null) await this.register();
      const epoch = this.epoch as string | null;
      if (epoch === null) throw new RedisUnavailableError();
      const { script, keys, args } = build(epoch);
      let reply: unknown[];
      try {
        reply = (await withTimeout(runScript(this.requireClient(), script, keys, args), this.commandTimeoutMs, what)) as unknown[];
      } catch (error) {
        // The script may still run after we gave up on it (a TAKE then moves ids in flight that nobody holds).
        if (isConnectionError(error)) this.reconcileNeeded = true;
        throw error;
      }
      if (reply[0] !== 'LOSS' || attempt >= 1) return reply;
      await this.onDataLoss(epoch);
    }
  }

  private async onDataLoss(lostEpoch: string | null): Promise<void> {
    if (this.lossHandling) return this.lossHandling;
    if (this.epoch !== lostEpoch) return; // another call already handled this loss
    this.lossHandling = (async () => {
      this.dataLossDetected++;
      let heldItems = 0;
      for (const held of [...this.held.values(), ...this.deferredRelease.values()]) if (held.epoch === lostEpoch) heldItems += held.items;
      const lostItems = Math.max(0, this.depth.items - heldItems);
      countDrop(this.dropped, 'redis_data_loss', lostItems);
      diag.error(
        `guard-agent fallback queue: Redis lost the fallback queue (restart without persistence? eviction?): the epoch key ${this.keys.epoch} is gone or changed. ` +
          `About ${lostItems} queued items are lost; batches in flight are kept and written back if they fail. Enable persistence (appendonly yes) and maxmemory-policy noeviction on this Redis.`,
      );
      this.depth = { pending: 0, inflight: 0, items: 0, bytes: 0 };
      this.epoch = null;
      await this.register();
    })().finally(() => {
      this.lossHandling = null;
    });
    return this.lossHandling;
  }

  private updateDepth(reply: unknown[]): void {
    this.depth = { pending: Number(reply[1]), inflight: Number(reply[2]), items: Number(reply[3]), bytes: Number(reply[4]) };
  }

  // --- availability -----------------------------------------------------

  private requireClient(): RedisClientLike {
    if (!this.client) throw new RedisUnavailableError();
    return this.client;
  }

  private resolveClient(): RedisClientLike | null {
    if (this.client || !this.source) return this.client;
    const client = isRedisHandler(this.source) ? clientFromHandler(this.source) : (this.source as RedisClientLike);
    if (client) {
      this.client = client;
      this.attachListeners(client);
    }
    return client;
  }

  private attachListeners(client: RedisClientLike): void {
    client.on('ready', this.onReady);
    client.on('close', this.onClose);
  }

  private async waitReady(client: RedisClientLike): Promise<boolean> {
    const status = client.status;
    if (status === 'ready' || status === 'wait') return true;
    if (status === 'end') return false;
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        client.off('ready', onReady);
        resolve(ok);
      };
      const onReady = (): void => done(true);
      const timer = setTimeout(() => done(false), this.connectTimeoutMs);
      timer.unref();
      client.on('ready', onReady);
    });
  }

  private recover(): Promise<boolean> {
    if (!this.recovering) {
      this.recovering = this.doRecover().finally(() => {
        this.recovering = null;
      });
    }
    return this.recovering;
  }

  private async doRecover(): Promise<boolean> {
    if (this.closed) return false;
    const client = this.resolveClient();
    if (!client || !(await this.waitReady(client)) || this.closed) {
      this.markUnavailable(new Error('not connected'));
      return false;
    }
    try {
      await this.register();
      if (this.epoch === null) throw new RedisUnavailableError();
      if (!this.available) {
        if (this.probeTimer) diag.info('guard-agent fallback queue: Redis answers again; moving queued batches back into it');
        this.available = true;
      }
      this.stopProbe();
      await this.flushDeferred();
      await this.moveMemoryToRedis();
      return true;
    } catch (error) {
      this.onRedisError(error, 'connect');
      if (!isConnectionError(error)) this.markUnavailable(error);
      return false;
    }
  }

  private async flushDeferred(): Promise<void> {
    if (this.deferredAck.size > 0) {
      const ids = [...this.deferredAck];
      await this.removeFromRedis(ids);
      for (const id of ids) this.deferredAck.delete(id);
    }
    if (this.deferredRelease.size > 0) {
      const released = [...this.deferredRelease.entries()];
      await this.releaseToRedis(released);
      for (const [id] of released) this.deferredRelease.delete(id);
    }
  }

  private moveMemoryToRedis(): Promise<void> {
    if (!this.moving) {
      this.moving = this.doMove().finally(() => {
        this.moving = null;
      });
    }
    return this.moving;
  }

  private async doMove(): Promise<void> {
    while (this.available && this.memory.waitingCount() > 0) {
      const chunk = this.memory.takeNow(MOVE_CHUNK);
      const ids = chunk.map((q) => q.id);
      let entries: Encoded[];
      try {
        entries = chunk.map((q) => this.unanswered.get(q.batch) ?? this.encode(q.batch));
      } catch (error) {
        await this.memory.release(ids);
        diag.warn(`guard-agent fallback queue: could not serialise a batch held in memory: ${errorMessage(error)}`);
        return;
      }
      try {
        await this.addToRedis(entries);
        this.memory.ackNow(ids);
      } catch (error) {
        chunk.forEach((q, i) => this.unanswered.set(q.batch, entries[i]));
        await this.memory.release(ids);
        this.onRedisError(error, 'move from memory');
        return;
      }
    }
  }

  private onRedisError(error: unknown, what: string): void {
    if (error instanceof RedisUnavailableError || isConnectionError(error)) {
      this.markUnavailable(error);
    } else {
      diag.warn(`guard-agent fallback queue: Redis ${what} failed: ${errorMessage(error)}`);
    }
  }

  private markUnavailable(error: unknown): void {
    if (this.closed) return;
    if (this.available) {
      this.available = false;
      diag.warn(`guard-agent fallback queue: Redis unreachable (${errorMessage(error)}); queueing in memory until it answers again`);
    }
    if (!this.probeTimer) {
      this.probeTimer = setInterval(() => {
        const status = this.client?.status;
        // A client that is still reconnecting will emit 'ready'; only probe one that claims to be up (or none yet, for a handler).
        if (status === undefined || status === 'ready' || status === 'wait') void this.recover();
      }, this.reconnectProbeMs);
      this.probeTimer.unref();
    }
  }

  private stopProbe(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
  }

  private async tick(): Promise<void> {
    if (this.closed || this.ticking || !this.available) return;
    this.ticking = true;
    try {
      await this.register();
      await this.claimExpiredSiblings();
      if (this.memory.waitingCount() > 0) await this.moveMemoryToRedis();
    } catch (error) {
      this.onRedisError(error, 'heartbeat');
    } finally {
      this.ticking = false;
    }
  }

  private stopBackground(): void {
    clearInterval(this.heartbeatTimer);
    this.stopProbe();
    if (this.client) {
      this.client.off('ready', this.onReady);
      this.client.off('close', this.onClose);
    }
  }
}
