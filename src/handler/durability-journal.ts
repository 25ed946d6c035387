/**
 * The `durability: 'emit'` journal: every security event is written to Redis
 * when it is emitted, so a SIGKILL loses nothing Redis acknowledged, not even
 * what the SDK batch processor still held in memory.
 *
 *   {prefix}:{<project>}:journal:<instanceId>   hash: idempotency_key -> wire event JSON
 *   {prefix}:{<project>}:journals               set of instance ids that may have a journal
 *
 * Writes are coalesced: every record of one tick goes out in one pipeline
 * (HSET of all of them + SADD), so the cost per event is a map insert, not a
 * round trip. An entry is removed (HDEL, coalesced the same way) once the
 * exporter reports its batch delivered or safely in the fallback queue.
 *
 * On start the journal left by a previous run of this instance id (a crash)
 * and the journals of instances whose heartbeat has expired are replayed into
 * the fallback queue as ordinary event batches; the backend deduplicates on
 * idempotency_key, so a replay of something that was in fact delivered costs
 * a duplicate, never a loss. A live sibling's journal is never touched.
 *
 * Never throws and never waits on Redis longer than the queue's command
 * timeout: a failed write is counted and the event still flows through the
 * normal pipeline (it only loses its crash protection).
 *
 * "Safely queued" means in Redis: while the Redis queue holds batches in its
 * memory fallback (Redis stalled past the command timeout, or just came
 * back), an event the exporter reports queued may be among them, so its entry
 * stays until that memory is empty (moved into Redis, or delivered). The same
 * holds for replayed entries, which are deleted from a journal only once the
 * queue took them into Redis.
 */
import { diag } from '@opentelemetry/api';
import type { FallbackQueue } from '../queue/fallback-queue.js';
import { errorMessage, withTimeout, type RedisClientLike } from '../queue/redis-connection.js';
import type { RedisFallbackQueue } from '../queue/redis-fallback-queue.js';
import { buildBatches } from '../transport/batch-builder.js';
import type { WireBatch } from '../transport/types.js';

export interface DurabilityJournalOptions {
  /** The Redis queue whose connection, keys, instance id and lease the journal shares. */
  redisQueue: RedisFallbackQueue;
  /** Where replayed events go (the pipeline's queue). */
  target: FallbackQueue;
  /** Most items per replayed batch. Default 200. */
  maxBatchItems?: number;
  /** Body cap the replayed batches are sized to. Default 192 KiB (under the default 256 KiB cap). */
  maxBatchBytes?: number;
  /**
   * The sizes of replayed batches now, read at each replay (the pipeline
   * passes the transport's budget: with a body cap above the default, a
   * journaled event can be larger than 192 KiB). Overrides the two above.
   */
  batchSizing?: () => { maxBatchBytes: number; envelopeBytes?: number; maxBatchItems: number };
  /** Counts journaled events too large for a batch on their own (dropped); the pipeline counts them as the live path does. */
  onTooLarge?: (count: number) => void;
  /** How often dead siblings' journals are looked for. Default leaseMs / 3. */
  claimIntervalMs?: number;
}

export interface DurabilityJournalStats {
  /** Events whose journal write Redis acknowledged. */
  written: number;
  /** Events whose journal write failed (Redis down or slow): they had no crash protection. */
  writeFailures: number;
  /** Journal entries removed after delivery or queueing. */
  removed: number;
  /** Pipelined round trips (writes and removals together). */
  flushes: number;
  /** Entries currently journaled by this run. */
  live: number;
  /** Events replayed from journals left by a crash (own or dead siblings'), not counting those too large for any batch. */
  replayed: number;
}

/** The queue holds batches in memory: what a replay enqueues now may not reach Redis; the next replay tries again. */
class ReplayLater extends Error {
  constructor() {
    super('the fallback queue holds batches in memory (Redis stalled or just came back)');
    this.name = 'ReplayLater';
  }
}

interface Waiter {
  resolve: () => void;
}

const SCAN_COUNT = 500;
/** How often entries settled while the queue held batches in memory are looked at again. */
const UNSETTLED_CHECK_MS = 100;
/**
 * Most entries kept past their settlement while the queue holds batches in
 * memory (a Redis that answers the journal but not the queue's scripts never
 * empties it); beyond, the oldest are settled anyway (as before this wait).
 */
const MAX_UNSETTLED = 100_000;
/** Longest the first journal writes wait for the queue's first connection. */
const STARTUP_WAIT_MS = 2000;

export class DurabilityJournal {
  readonly key: string;
  private readonly setKey: string;
  private readonly queue: RedisFallbackQueue;
  private readonly target: FallbackQueue;
  private readonly maxBatchItems: number;
  private readonly maxBatchBytes: number;
  private readonly batchSizing: DurabilityJournalOptions['batchSizing'];
  private readonly onTooLarge: DurabilityJournalOptions['onTooLarge'];
  private readonly timeoutMs: number;
  /** Recorded, not yet sent to Redis. */
  private pendingWrites = new Map<string, string>();
  private waiters: Waiter[] = [];
  /** Settled before or while being written: to HDEL next flush. */
  private pendingRemoves: string[] = [];
  /** Settled while the queue held batches in memory: removed once it holds none (insertion order = oldest first). */
  private readonly unsettled = new Set<string>();
  private unsettledTimer: NodeJS.Timeout | null = null;
  /** Keys this run has journaled and not settled yet (a replay of our own journal skips them). */
  private readonly live = new Set<string>();
  private scheduled = false;
  private flushing: Promise<void> | null = null;
  private replaying: Promise<number> | null = null;
  /** Own journal asked for (start) and not replayed yet: Redis was down then, or a claim replay was running. */
  private ownDue = false;
  private failing = false;
  private closed = false;
  private readonly claimTimer: NodeJS.Timeout;
  private readonly s = { written: 0, writeFailures: 0, removed: 0, flushes: 0, replayed: 0 };

  constructor(options: DurabilityJournalOptions) {
    this.queue = options.redisQueue;
    this.target = options.target;
    this.key = `${this.queue.keys.base}:journal:${this.queue.instanceId}`;
    this.setKey = `${this.queue.keys.base}:journals`;
    this.maxBatchItems = options.maxBatchItems ?? 200;
    this.maxBatchBytes = options.maxBatchBytes ?? 192 * 1024;
    this.batchSizing = options.batchSizing;
    this.onTooLarge = options.onTooLarge;
    this.timeoutMs = this.queue.commandTimeoutMs;
    this.claimTimer = setInterval(() => void this.replay(false), options.claimIntervalMs ?? Math.max(100, Math.floor(this.queue.leaseMs / 3)));
    this.claimTimer.unref();
  }

  /**
   * Journals one event (its wire JSON under its idempotency key). Resolves
   * once Redis acknowledged the write, or once it failed (counted); never
   * rejects. The app need not wait for it.
   */
  record(idempotencyKey: string, json: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.pendingWrites.set(idempotencyKey, json);
    this.live.add(idempotencyKey);
    this.schedule();
    return new Promise<void>((resolve) => this.waiters.push({ resolve }));
  }

  /** The events are delivered or safely queued: their journal entries can go. */
  settle(keys: readonly string[]): void {
    // The events may be in the queue's memory fallback, not in Redis: keep their entries until it is empty.
    if (this.queue.holdsBatchesInMemory && !this.closed) return this.deferSettle(keys);
    this.settleNow(keys);
  }

  private settleNow(keys: readonly string[]): void {
    let any = false;
    for (const key of keys) {
      if (!this.live.delete(key)) continue;
      // Not written yet: simply never write it.
      if (this.pendingWrites.delete(key)) continue;
      this.pendingRemoves.push(key);
      any = true;
    }
    if (any) this.schedule();
  }

  /**
   * Replays journals left behind into the fallback queue: with `own` true,
   * this instance id's (a previous run crashed) and then dead siblings';
   * otherwise only dead siblings'. Returns how many events were replayed.
   * The own journal, once asked for, is part of every later replay (the
   * claim timer's too) until one has gone through it: without that, a start
   * while Redis was unreachable left a crash's journal unreplayed for the
   * life of the process, and a live instance's journal is no sibling's.
   */
  replay(own = true): Promise<number> {
    if (own) this.ownDue = true;
    if (this.replaying) return this.replaying;
    this.replaying = this.doReplay(this.ownDue)
      .catch((error: unknown) => {
        if (error instanceof ReplayLater) diag.debug(`guard-agent durability journal: replay postponed: ${error.message}`);
        else diag.warn(`guard-agent durability journal: replay failed (will retry): ${errorMessage(error)}`);
        return 0;
      })
      .finally(() => {
        this.replaying = null;
      });
    return this.replaying;
  }

  private deferSettle(keys: readonly string[]): void {
    for (const key of keys) if (this.live.has(key)) this.unsettled.add(key);
    if (this.unsettled.size > MAX_UNSETTLED) {
      const oldest: string[] = [];
      for (const key of this.unsettled) {
        if (this.unsettled.size - oldest.length <= MAX_UNSETTLED) break;
        oldest.push(key);
      }
      for (const key of oldest) this.unsettled.delete(key);
      this.settleNow(oldest);
    }
    if (this.unsettled.size === 0 || this.unsettledTimer) return;
    this.unsettledTimer = setInterval(() => {
      if (this.queue.holdsBatchesInMemory && !this.closed) return;
      this.stopUnsettledTimer();
      const keys = [...this.unsettled];
      this.unsettled.clear();
      this.settleNow(keys);
    }, UNSETTLED_CHECK_MS);
    this.unsettledTimer.unref();
  }

  private stopUnsettledTimer(): void {
    if (this.unsettledTimer) clearInterval(this.unsettledTimer);
    this.unsettledTimer = null;
  }

  stats(): DurabilityJournalStats {
    return { ...this.s, live: this.live.size };
  }

  /** Writes what is pending (removals included) within `deadline` (epoch ms), then stops. */
  async close(deadline = Date.now() + this.timeoutMs): Promise<void> {
    if (this.closed) return;
    clearInterval(this.claimTimer);
    this.stopUnsettledTimer();
    // Still in the queue's memory: the entries stay for the next start (a duplicate at worst); moved into Redis: they go.
    if (!this.queue.holdsBatchesInMemory && this.unsettled.size > 0) this.settleNow([...this.unsettled]);
    this.unsettled.clear();
    await this.replaying?.catch(() => undefined);
    const ms = Math.max(1, deadline - Date.now());
    while ((this.pendingWrites.size > 0 || this.pendingRemoves.length > 0 || this.flushing) && Date.now() < deadline) {
      await withTimeout(this.flushing ?? this.flush(), ms, 'journal close').catch(() => undefined);
    }
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** Stops without writing anything (a crash, for tests). */
  detach(): void {
    this.closed = true;
    clearInterval(this.claimTimer);
    this.stopUnsettledTimer();
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  // ---- writes --------------------------------------------------------------

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.doFlush().finally(() => {
      this.flushing = null;
      if (this.pendingWrites.size > 0 || this.pendingRemoves.length > 0) this.schedule();
    });
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    const writes = this.pendingWrites;
    const waiters = this.waiters;
    const removes = this.pendingRemoves;
    this.pendingWrites = new Map();
    this.waiters = [];
    this.pendingRemoves = [];
    if (writes.size === 0 && removes.length === 0) {
      for (const w of waiters) w.resolve();
      return;
    }
    // Not gated on the queue's availability flag: an owned client fails fast by itself, and the first writes may precede the queue's first heartbeat.
    try {
      // The first writes can come before the connection is up (an owned client has no offline queue): wait for it, bounded.
      if (this.queue.redisClient?.status !== 'ready') await withTimeout(this.queue.ready(), STARTUP_WAIT_MS, 'journal connect').catch(() => undefined);
      const client = this.queue.redisClient;
      if (!client) throw new Error('Redis unavailable');
      const pipe = client.pipeline();
      if (writes.size > 0) {
        const flat: string[] = [];
        for (const [k, v] of writes) flat.push(k, v);
        pipe.hset(this.key, ...flat);
        pipe.sadd(this.setKey, this.queue.instanceId);
      }
      if (removes.length > 0) pipe.hdel(this.key, ...removes);
      this.s.flushes++;
      const results = (await withTimeout(pipe.exec(), this.timeoutMs, 'journal write')) as [Error | null, unknown][] | null;
      const failed = results?.find(([err]) => err);
      if (!results || failed) throw failed?.[0] ?? new Error('pipeline aborted');
      this.s.written += writes.size;
      this.s.removed += removes.length;
      if (this.failing) {
        this.failing = false;
        diag.info('guard-agent durability journal: Redis accepts journal writes again');
      }
    } catch (error) {
      this.s.writeFailures += writes.size;
      // Not in Redis: nothing to remove later. Removals that failed stay in the journal and cost a duplicate on the next replay.
      for (const k of writes.keys()) this.live.delete(k);
      if (!this.failing) {
        this.failing = true;
        diag.warn(`guard-agent durability journal: write failed (${errorMessage(error)}); events are not crash-protected until Redis answers again`);
      }
    } finally {
      for (const w of waiters) w.resolve();
    }
  }

  // ---- replay --------------------------------------------------------------

  private async doReplay(own: boolean): Promise<number> {
    if (this.closed || !this.queue.isAvailable) return 0;
    const client = this.queue.redisClient;
    if (!client) return 0;
    let replayed = 0;
    if (own) {
      replayed += await this.replayKey(client, this.key, true);
      if (!this.closed) this.ownDue = false;
    }
    const members = (await withTimeout(client.smembers(this.setKey), this.timeoutMs, 'SMEMBERS')) as string[];
    for (const member of members) {
      if (member === this.queue.instanceId || this.closed) continue;
      const heartbeat = this.queue.keys.instance(member).heartbeat;
      if ((await withTimeout(client.exists(heartbeat), this.timeoutMs, 'EXISTS')) === 1) continue; // alive: never touch it
      const key = `${this.queue.keys.base}:journal:${member}`;
      const n = await this.replayKey(client, key, false);
      if (n > 0) diag.info(`guard-agent durability journal: replayed ${n} events journaled by expired instance ${member}`);
      replayed += n;
      if ((await withTimeout(client.exists(key), this.timeoutMs, 'EXISTS')) === 0) {
        await withTimeout(client.srem(this.setKey, member), this.timeoutMs, 'SREM');
      }
    }
    if (own && replayed > 0) diag.info(`guard-agent durability journal: ${replayed} events journaled before a crash are queued again`);
    return replayed;
  }

  /** HSCANs a journal, queues its entries as event batches, then deletes them (only after the queue took them). */
  private async replayKey(client: RedisClientLike, key: string, own: boolean): Promise<number> {
    let cursor = '0';
    let count = 0;
    do {
      const [next, flat] = (await withTimeout(client.hscan(key, cursor, 'COUNT', SCAN_COUNT), this.timeoutMs, 'HSCAN')) as [string, string[]];
      cursor = next;
      const keys: string[] = [];
      const items: string[] = [];
      const dead: string[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const k = flat[i];
        if (own && this.live.has(k)) continue; // written by this run: still on its way through the pipeline
        if (!flat[i + 1].startsWith('{')) {
          dead.push(k);
          continue;
        }
        keys.push(k);
        items.push(flat[i + 1]);
      }
      let tooLarge = 0;
      if (keys.length > 0) {
        // Deleted from the journal only once in Redis: what the queue put in memory dies with the process.
        if (this.queue.holdsBatchesInMemory) throw new ReplayLater();
        const built = this.toBatches(items, keys);
        tooLarge = built.tooLarge;
        for (const batch of built.batches) await this.target.enqueue(batch);
        if (this.queue.holdsBatchesInMemory) throw new ReplayLater();
      }
      const gone = [...keys, ...dead];
      if (gone.length > 0) await withTimeout(client.hdel(key, ...gone), this.timeoutMs, 'HDEL');
      // Counted as the entries leave the journal: a replay postponed above builds them again next time.
      if (tooLarge > 0) {
        this.onTooLarge?.(tooLarge);
        diag.error(`guard-agent durability journal: ${tooLarge} journaled event(s) larger than the body cap on their own were dropped`);
      }
      count += keys.length - tooLarge;
      this.s.replayed += keys.length - tooLarge;
    } while (cursor !== '0' && !this.closed);
    return count;
  }

  /** Replayed entries as event batches, sized like live ones (bytes, then items), with protocol batch ids, and how many fit no batch. */
  private toBatches(items: string[], keys: string[]): { batches: WireBatch[]; tooLarge: number } {
    const sizing = this.batchSizing?.() ?? { maxBatchBytes: this.maxBatchBytes, maxBatchItems: this.maxBatchItems };
    let tooLarge = 0;
    const batches = buildBatches('events', items, keys, sizing.maxBatchBytes, Date.now(), {
      maxItems: sizing.maxBatchItems,
      ...(sizing.envelopeBytes !== undefined ? { envelopeBytes: sizing.envelopeBytes } : {}),
      onTooLarge: (n) => {
        tooLarge = n;
      },
    });
    return { batches, tooLarge };
  }
}
