/**
 * A FallbackQueue whose backing queue can be replaced while the agent runs:
 * the handler starts on a memory queue and moves to Redis when the app calls
 * `initializeRedis()` (after `start()`, the order `@guardcore/core` uses).
 * On a switch, everything the old queue holds moves to the new one, oldest
 * first, and only then is the old one closed: nothing is lost in between.
 */
import type { WireBatch } from '../transport/types.js';
import { mergeDrops, type FallbackQueue, type QueuedBatch, type QueueStats } from './fallback-queue.js';

export class SwitchableQueue implements FallbackQueue {
  private target: FallbackQueue;
  /** Queues that have been replaced and closed. */
  private readonly retired = new WeakSet<FallbackQueue>();
  /** In-flight entries: which queue handed each out, and the batch (needed if it comes back after a switch). */
  private readonly owners = new Map<string, { queue: FallbackQueue; batch: WireBatch }>();
  private switching: Promise<void> | null = null;
  private carried: Partial<QueueStats['dropped']> = {};
  private carriedEnqueued = 0;
  private carriedAcked = 0;

  constructor(initial: FallbackQueue) {
    this.target = initial;
  }

  get current(): FallbackQueue {
    return this.target;
  }

  async enqueue(batch: WireBatch): Promise<void> {
    if (this.switching) await this.switching;
    await this.target.enqueue(batch);
  }

  async take(max: number): Promise<QueuedBatch[]> {
    if (this.switching) await this.switching;
    const q = this.target;
    const got = await q.take(max);
    for (const g of got) this.owners.set(g.id, { queue: q, batch: g.batch });
    return got;
  }

  async ack(ids: string[]): Promise<void> {
    await this.settle(ids, (q, own) => q.ack(own), async () => undefined);
  }

  async release(ids: string[]): Promise<void> {
    // A batch released after its queue was replaced goes to the current queue.
    await this.settle(ids, (q, own) => q.release(own), (batch) => this.enqueue(batch));
  }

  /** Moves every batch of the current queue into `next` (oldest first) and makes `next` current. */
  switchTo(next: FallbackQueue): Promise<void> {
    const run = (async () => {
      if (this.switching) await this.switching;
      const old = this.target;
      for (;;) {
        const batches = await old.take(100);
        if (batches.length === 0) break;
        for (const b of batches) await next.enqueue(b.batch);
        await old.ack(batches.map((b) => b.id));
      }
      const s = old.stats();
      this.carried = mergeDrops(this.carried, s.dropped);
      this.carriedEnqueued += s.enqueued;
      this.carriedAcked += s.acked;
      this.retired.add(old);
      this.target = next;
      await old.close();
    })();
    this.switching = run.finally(() => {
      if (this.switching === guarded) this.switching = null;
    });
    const guarded = this.switching;
    return run;
  }

  stats(): QueueStats {
    const s = this.target.stats();
    return { ...s, dropped: mergeDrops(this.carried, s.dropped), enqueued: s.enqueued + this.carriedEnqueued, acked: s.acked + this.carriedAcked };
  }

  async close(): Promise<void> {
    if (this.switching) await this.switching.catch(() => undefined);
    await this.target.close();
  }

  private async settle(
    ids: string[],
    op: (q: FallbackQueue, ids: string[]) => Promise<void>,
    orphan: (batch: WireBatch) => Promise<void>,
  ): Promise<void> {
    const byQueue = new Map<FallbackQueue, string[]>();
    for (const id of ids) {
      const owner = this.owners.get(id);
      this.owners.delete(id);
      const q = owner?.queue ?? this.target;
      if (owner && this.retired.has(q)) {
        await orphan(owner.batch);
        continue;
      }
      const list = byQueue.get(q) ?? [];
      list.push(id);
      byQueue.set(q, list);
    }
    for (const [q, list] of byQueue) await op(q, list);
  }
}
