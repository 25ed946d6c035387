/**
 * A FallbackQueue whose backing queue can be replaced while the agent runs:
 * the handler starts on a memory queue and moves to Redis when the app calls
 * `initializeRedis()` (after `start()`, the order `@guardcore/core` uses).
 * On a switch, everything the old queue holds moves to the new one, oldest
 * first, and only then is the old one closed: nothing is lost in between.
 * Batches taken from it and still in flight (a drainer replay) settle in it
 * first: it closes once the last of them is acked, or moved over if released.
 *
 * A switch onto the store the queue already uses (`initializeRedis()` with a
 * client to the Redis that `redisUrl` already names, or called twice) moves
 * nothing: the new queue takes over (`FallbackQueue.takeOver`). When that
 * cannot be established, the move is still bounded: it never moves a batch
 * twice, so moving a store onto itself ends after one pass.
 */
import type { WireBatch } from '../transport/types.js';
import { mergeDrops, type FallbackQueue, type QueuedBatch, type QueueStats } from './fallback-queue.js';

/** Batches taken from the old queue per step of a move. */
const MOVE_CHUNK = 100;

export class SwitchableQueue implements FallbackQueue {
  private target: FallbackQueue;
  /** Queues that have been replaced and closed. */
  private readonly retired = new WeakSet<FallbackQueue>();
  /**
   * Replaced queues kept open while batches taken from them are still in flight (a drainer replay): those
   * settle there, and each such queue closes once none is left. Closed at the switch instead, a queue on
   * Redis would put them back into its store, where a later queue on it delivers them again.
   */
  private readonly draining = new Set<FallbackQueue>();
  /** In-flight entries: which queue handed each out, and the batch (needed if it comes back after a switch). */
  private readonly owners = new Map<string, { queue: FallbackQueue; batch: WireBatch }>();
  /** Calls into a backing queue that have not returned: a switch waits for them, so none lands in a queue already emptied. */
  private readonly calls = new Set<Promise<unknown>>();
  private switching: Promise<void> | null = null;
  /** close() was called: a move in progress stops at its next step, a later switch does not happen. */
  private closing = false;
  private carried: Partial<QueueStats['dropped']> = {};
  private carriedEnqueued = 0;
  private carriedAcked = 0;

  constructor(initial: FallbackQueue) {
    this.target = initial;
  }

  get current(): FallbackQueue {
    return this.target;
  }

  // Each call waits out a running switch, then calls the backing queue in the same synchronous step as the
  // check (a switch starting in between would not see the call).

  async enqueue(batch: WireBatch): Promise<void> {
    while (this.switching) await this.switching.catch(() => undefined);
    await this.track(this.target.enqueue(batch));
  }

  async take(max: number): Promise<QueuedBatch[]> {
    while (this.switching) await this.switching.catch(() => undefined);
    const q = this.target;
    const got = await this.track(q.take(max));
    for (const g of got) this.owners.set(g.id, { queue: q, batch: g.batch });
    return got;
  }

  async ack(ids: string[]): Promise<void> {
    await this.settle(ids, (q, own) => q.ack(own), async () => undefined);
  }

  async release(ids: string[]): Promise<void> {
    // A batch released after its queue was replaced goes to the current queue.
    await this.settle(ids, (q, own) => q.release(own), (batch) => this.enqueue(batch), true);
  }

  /** Moves every batch of the current queue into `next` (oldest first), or lets `next` take over the same store, and makes `next` current. */
  switchTo(next: FallbackQueue): Promise<void> {
    const previous = this.switching;
    const run = (async () => {
      if (previous) await previous.catch(() => undefined);
      if (this.closing) {
        await next.close();
        return;
      }
      const old = this.target;
      await Promise.allSettled([...this.calls]);
      const adopted = (await next.takeOver?.(old)) ?? null;
      if (adopted) {
        for (const id of adopted) {
          const owner = this.owners.get(id);
          if (owner?.queue === old) owner.queue = next;
        }
      } else {
        try {
          await this.moveAll(old, next);
        } catch (err) {
          await next.close().catch(() => undefined);
          throw err;
        }
      }
      this.target = next;
      if (this.holdsFrom(old)) this.draining.add(old);
      else await this.retire(old);
    })();
    const guarded: Promise<void> = run.finally(() => {
      if (this.switching === guarded) this.switching = null;
    });
    guarded.catch(() => undefined);
    this.switching = guarded;
    return run;
  }

  stats(): QueueStats {
    const s = this.target.stats();
    let dropped = mergeDrops(this.carried, s.dropped);
    let enqueued = s.enqueued + this.carriedEnqueued;
    let acked = s.acked + this.carriedAcked;
    // A replaced queue not closed yet is carried when it closes.
    for (const q of this.draining) {
      const d = q.stats();
      dropped = mergeDrops(dropped, d.dropped);
      enqueued += d.enqueued;
      acked += d.acked;
    }
    return { ...s, dropped, enqueued, acked };
  }

  /** Bounded: a move in progress stops at its next step (what it has not moved stays in the old queue, which closes). */
  async close(): Promise<void> {
    this.closing = true;
    while (this.switching) await this.switching.catch(() => undefined);
    for (const q of [...this.draining]) await this.retire(q);
    await this.target.close();
  }

  /** True while a batch taken from `q` is in flight. */
  private holdsFrom(q: FallbackQueue): boolean {
    for (const owner of this.owners.values()) if (owner.queue === q) return true;
    return false;
  }

  /** Closes a replaced queue, carrying its counts. */
  private async retire(q: FallbackQueue): Promise<void> {
    this.draining.delete(q);
    const s = q.stats();
    this.carried = mergeDrops(this.carried, s.dropped);
    this.carriedEnqueued += s.enqueued;
    this.carriedAcked += s.acked;
    this.retired.add(q);
    await q.close();
  }

  /**
   * Takes from `old` and enqueues into `next` until `old` has nothing left.
   * A batch whose batchId was already moved is the copy just written (the
   * two queues reach the same store) or a duplicate: it is not moved again
   * but held aside and released back to `old` at the end, so the loop ends
   * after at most one pass over what `old` held, and nothing is dropped.
   */
  private async moveAll(old: FallbackQueue, next: FallbackQueue): Promise<void> {
    const moved = new Set<string>();
    const aside: string[] = [];
    // Everything moved so far stays taken in `old` until the whole move has succeeded: if a step fails,
    // it all goes back to `old`, which stays current (the switch fails and `next` is closed), so no
    // batch lives only in a queue about to be dropped.
    const taken: string[] = [];
    let done = false;
    try {
      while (!this.closing) {
        const batches = await old.take(MOVE_CHUNK);
        if (batches.length === 0) break;
        const fresh: QueuedBatch[] = [];
        for (const b of batches) {
          if (moved.has(b.batch.batchId)) aside.push(b.id);
          else fresh.push(b);
        }
        // Counted as taken before any is written: if a write fails, the whole chunk goes back too.
        for (const b of fresh) taken.push(b.id);
        for (const b of fresh) {
          await next.enqueue(b.batch);
          moved.add(b.batch.batchId);
        }
      }
      done = true;
    } finally {
      if (done && taken.length > 0) await old.ack(taken);
      const back = done ? aside : [...aside, ...taken];
      if (back.length > 0) await old.release(back);
    }
  }


  private track<T>(call: Promise<T>): Promise<T> {
    this.calls.add(call);
    const forget = (): void => {
      this.calls.delete(call);
    };
    call.then(forget, forget);
    return call;
  }

  private async settle(
    ids: string[],
    op: (q: FallbackQueue, ids: string[]) => Promise<void>,
    orphan: (batch: WireBatch) => Promise<void>,
    released = false,
  ): Promise<void> {
    // After a take-over the owner of an entry may have changed: look it up once the switch is over.
    while (this.switching) await this.switching.catch(() => undefined);
    const byQueue = new Map<FallbackQueue, string[]>();
    /** Released from a replaced queue still open: acked there once written to the current one. */
    const leaving = new Map<FallbackQueue, string[]>();
    const orphans: WireBatch[] = [];
    for (const id of ids) {
      const owner = this.owners.get(id);
      this.owners.delete(id);
      const q = owner?.queue ?? this.target;
      if (owner && this.retired.has(q)) {
        orphans.push(owner.batch);
        continue;
      }
      const leaves = owner !== undefined && released && this.draining.has(q);
      if (leaves) orphans.push(owner.batch);
      const into = leaves ? leaving : byQueue;
      const list = into.get(q) ?? [];
      list.push(id);
      into.set(q, list);
    }
    // Started before any await, so a switch that begins meanwhile waits for them.
    const calls = [...byQueue].map(([q, list]) => this.track(op(q, list)));
    await Promise.all(calls);
    for (const batch of orphans) await orphan(batch);
    await Promise.all([...leaving].map(([q, list]) => this.track(q.ack(list))));
    for (const q of new Set([...byQueue.keys(), ...leaving.keys()])) if (this.draining.has(q) && !this.holdsFrom(q)) await this.retire(q);
  }
}
