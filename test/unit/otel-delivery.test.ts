import assert from 'node:assert/strict';
import { Delivery } from '../../src/otel/delivery.js';
import { QueueDrainer } from '../../src/queue/drainer.js';
import { MemoryFallbackQueue } from '../../src/queue/memory-fallback-queue.js';
import { generateBatchId } from '../../src/transport/batch-builder.js';
import type { SendOptions, SendReport, WireBatch } from '../../src/transport/types.js';

function batch(n: number): WireBatch {
  const items = Array.from({ length: n }, (_, i) => JSON.stringify({ metric_type: 'request_count', value: i }));
  return { kind: 'metrics', batchId: generateBatchId(), items, idempotencyKeys: [], createdAt: Date.now() };
}

const pending = (b: WireBatch): SendReport => ({ outcome: 'retry_later', delivered: 0, dropped: [], pending: [b] });
const delivered = (b: WireBatch): SendReport => ({ outcome: 'delivered', delivered: b.items.length, dropped: [], pending: [] });

/** A scripted transport: answers each call with the next function of `script` (the last one repeats). */
class ScriptedSender {
  calls: WireBatch[] = [];
  constructor(private readonly script: Array<(b: WireBatch, o?: SendOptions) => Promise<SendReport>>) {}
  sendBatch(b: WireBatch, o?: SendOptions): Promise<SendReport> {
    this.calls.push(b);
    return this.script[Math.min(this.calls.length - 1, this.script.length - 1)](b, o);
  }
}

describe('otel delivery (send or queue)', () => {
  it('after the first undelivered batch, queues the rest without sending them', async () => {
    const sender = new ScriptedSender([async (b) => pending(b)]);
    const queue = new MemoryFallbackQueue();
    const d = new Delivery({ transport: sender, queue });
    assert.equal(await d.deliver([batch(2), batch(3), batch(4)]), true);
    assert.equal(sender.calls.length, 1);
    assert.equal(queue.stats().depthItems, 9);
    assert.equal(d.stats().queued, 9);
  });

  it('reports failure, and counts the drop, when there is no queue', async () => {
    const d = new Delivery({ transport: new ScriptedSender([async (b) => pending(b)]), queue: null });
    assert.equal(await d.deliver([batch(5)]), false);
    assert.deepEqual(d.stats().dropped, { queue_unavailable: 5 });
  });

  it('queues the batch of a transport that throws', async () => {
    const queue = new MemoryFallbackQueue();
    const d = new Delivery({ transport: new ScriptedSender([() => Promise.reject(new Error('bug'))]), queue });
    assert.equal(await d.deliver([batch(2)]), true);
    assert.equal(queue.stats().depthItems, 2);
  });

  it('counts permanent drops reported by the transport as handled', async () => {
    const d = new Delivery({
      transport: new ScriptedSender([async (b) => ({ outcome: 'delivered', delivered: 0, dropped: [{ count: b.items.length, reason: 'permanent_rejection' }], pending: [] })]),
      queue: new MemoryFallbackQueue(),
    });
    assert.equal(await d.deliver([batch(3)]), true);
    assert.deepEqual(d.stats().dropped, { permanent_rejection: 3 });
  });

  it('shutdown queues the batches of a send that ignores the abort, within its deadline', async () => {
    const never = (): Promise<SendReport> => new Promise(() => {});
    const queue = new MemoryFallbackQueue();
    const d = new Delivery({ transport: new ScriptedSender([never]), queue });
    const result = d.deliver([batch(2), batch(3)]);
    const t0 = Date.now();
    await d.shutdown(200);
    assert.ok(Date.now() - t0 < 350);
    assert.equal(await result, true);
    assert.equal(queue.stats().depthItems, 5, 'the batch in flight and the one not yet started');
    assert.equal(await d.deliver([batch(1)]), false, 'closed');
    assert.deepEqual(d.stats().dropped, { agent_stopped: 1 });
  });

  /** A sender that holds every send until released, allowing `lanes` of them at once. */
  function heldSender(lanes: number) {
    const held: Array<() => void> = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const sender = new ScriptedSender([
      (b) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        return new Promise<SendReport>((resolve) =>
          held.push(() => {
            inFlight--;
            resolve(delivered(b));
          }),
        );
      },
    ]);
    return Object.assign(sender, { sendConcurrency: () => lanes, held, maxInFlight: () => maxInFlight });
  }

  it('sends up to sendConcurrency() batches of one export at once, each once', async () => {
    const sender = heldSender(3);
    const d = new Delivery({ transport: sender, queue: new MemoryFallbackQueue() });
    const batches = Array.from({ length: 7 }, () => batch(2));
    let settled = false;
    const result = d.deliver(batches).finally(() => (settled = true));
    while (!settled) {
      await new Promise((r) => setImmediate(r));
      sender.held.splice(0).forEach((release) => release());
    }
    assert.equal(await result, true);
    assert.equal(sender.maxInFlight(), 3);
    assert.deepEqual(new Set(sender.calls.map((b) => b.batchId)), new Set(batches.map((b) => b.batchId)));
    assert.equal(sender.calls.length, 7);
    assert.equal(d.stats().delivered, 14);
  });

  it('with several lanes, a batch that comes back undelivered sends the batches not started to the queue; shutdown queues every batch in flight', async () => {
    const queue = new MemoryFallbackQueue();
    const first = new ScriptedSender([async (b) => pending(b), async (b) => delivered(b)]);
    const d1 = new Delivery({ transport: Object.assign(first, { sendConcurrency: () => 2 }), queue });
    assert.equal(await d1.deliver([batch(1), batch(2), batch(3), batch(4)]), true);
    assert.equal(first.calls.length, 2, `the two lanes started one batch each, then no more (calls: ${first.calls.map((b) => b.items.length)})`);
    assert.equal(d1.stats().delivered, 2);
    assert.equal(queue.stats().depthItems, 1 + 3 + 4, 'the pending one and the two never started');

    const never = (): Promise<SendReport> => new Promise(() => {});
    const stuck = new MemoryFallbackQueue();
    const d2 = new Delivery({ transport: Object.assign(new ScriptedSender([never]), { sendConcurrency: () => 3 }), queue: stuck });
    const result = d2.deliver([batch(1), batch(2), batch(3), batch(4)]);
    await d2.shutdown(100);
    assert.equal(await result, true);
    assert.equal(stuck.stats().depthItems, 10, 'three in flight and one not started, none lost');
    assert.equal(stuck.stats().depthBatches, 4);
  });
});

describe('QueueDrainer', () => {
  it('acks delivered batches and stops the tick at the first failure, releasing the rest', async () => {
    const queue = new MemoryFallbackQueue();
    for (let i = 0; i < 4; i++) await queue.enqueue(batch(1));
    const sender = new ScriptedSender([async (b) => delivered(b), async (b) => pending(b)]);
    const drainer = new QueueDrainer({ transport: sender, queue, maxBatchesPerTick: 3 });
    await drainer.tick();
    assert.equal(sender.calls.length, 2);
    assert.deepEqual(
      { replayed: drainer.getStats().replayed, acked: drainer.getStats().acked, released: drainer.getStats().released },
      { replayed: 2, acked: 1, released: 2 },
    );
    assert.equal(queue.stats().depthBatches, 3);
  });

  it('keeps the batchId on replay and requeues only the undelivered half of a partial send', async () => {
    const queue = new MemoryFallbackQueue();
    const original = batch(4);
    await queue.enqueue(original);
    const half = { ...batch(2), batchId: 'half-2' };
    const sender = new ScriptedSender([
      async () => ({ outcome: 'partial', delivered: 2, dropped: [], pending: [half] }),
      async (b) => delivered(b),
    ]);
    const drainer = new QueueDrainer({ transport: sender, queue });
    await drainer.tick();
    assert.equal(sender.calls[0].batchId, original.batchId);
    const [left] = await queue.take(10);
    assert.equal(left.batch.batchId, 'half-2');
    await queue.release([left.id]);
    assert.equal(await drainer.drainNow(Date.now() + 1000), true);
    assert.equal(queue.stats().depthBatches, 0);
  });

  it('a kind refused with success:false holds back only that kind, up to maxHeldBackPerTick, without holding the next tick', async () => {
    const events = (): WireBatch => ({ ...batch(1), kind: 'events', idempotencyKeys: ['k'] });
    const refused = (b: WireBatch): SendReport => ({ ...pending(b), retryAfterMs: 60_000, kindBackoff: true });
    const run = async (maxHeldBackPerTick: number) => {
      const queue = new MemoryFallbackQueue();
      const queued = [events(), events(), events(), batch(1)];
      for (const b of queued) await queue.enqueue(b);
      const sender = new ScriptedSender([async (b) => (b.kind === 'events' ? refused(b) : delivered(b))]);
      const drainer = new QueueDrainer({ transport: sender, queue, maxBatchesPerTick: 2, maxHeldBackPerTick });
      await drainer.tick();
      const left = (await queue.take(10)).map((q) => q.batch.batchId);
      return { calls: sender.calls.map((b) => b.kind), drainer, left, queued: queued.map((b) => b.batchId) };
    };
    const bounded = await run(2);
    assert.deepEqual(bounded.calls, ['events'], 'the two events behind the refused one are held back unsent; the bound ends the tick');
    assert.deepEqual(bounded.left, bounded.queued, 'all released, oldest first');
    const reached = await run(3);
    assert.deepEqual(reached.calls, ['events', 'metrics']);
    assert.deepEqual(reached.left, reached.queued.slice(0, 3), 'the events stay, in order');
    await reached.drainer.tick();
    assert.equal(reached.drainer.getStats().skippedTicks, 0, "the events' gate does not hold the drainer's next tick");
  });

  it('skips ticks while the breaker is open or auth failed, and after a Retry-After', async () => {
    const queue = new MemoryFallbackQueue();
    await queue.enqueue(batch(1));
    let state: { breakerState: 'CLOSED' | 'OPEN' | 'HALF_OPEN'; authFailed: boolean } = { breakerState: 'OPEN', authFailed: false };
    const sender = Object.assign(new ScriptedSender([async (b) => ({ ...pending(b), retryAfterMs: 60_000 })]), { getStats: () => state });
    const drainer = new QueueDrainer({ transport: sender, queue });
    await drainer.tick();
    state = { breakerState: 'CLOSED', authFailed: true };
    await drainer.tick();
    assert.equal(sender.calls.length, 0);
    state = { breakerState: 'CLOSED', authFailed: false };
    await drainer.tick();
    await drainer.tick();
    assert.equal(sender.calls.length, 1, 'the Retry-After holds the next tick');
    assert.equal(drainer.getStats().skippedTicks, 3);
    assert.equal(queue.stats().depthItems, 1);
  });
});
