/**
 * "Send or queue": the delivery logic both guard exporters share.
 *
 * Each export hands its WireBatches to `deliver()`, which sends them
 * through the transport (up to `sendConcurrency()` at once, in order of
 * start) and puts whatever comes back pending into the
 * fallback queue (which is bounded and counts its own drops). Once one batch
 * comes back undelivered the backend is struggling, so the rest of that
 * export goes straight to the queue instead of waiting through the same
 * retries again. The SDK processors never retry a failed export, so queueing
 * is the success path: an export fails only when a batch could be neither
 * delivered nor queued.
 *
 * Re-entrant: every call keeps its state in its own `Run`; the only shared
 * state is counters and the set of runs in flight, which `flush()` awaits
 * and `shutdown()` bounds with a deadline (then aborts the sends and queues
 * what they had not delivered).
 */
import { diag } from '@opentelemetry/api';
import { countDrop } from '../queue/fallback-queue.js';
import type { FallbackQueue } from '../queue/fallback-queue.js';
import { buildBatches, DEFAULT_MAX_BODY_BYTES } from '../transport/batch-builder.js';
import type { BatchKind, DropReason, SendOptions, SendReport, WireBatch } from '../transport/types.js';

/** What delivery needs from the transport (HTTPTransport implements it). */
export interface BatchSender {
  sendBatch(batch: WireBatch, opts?: SendOptions): Promise<SendReport>;
  /**
   * Optional: the byte budget for `buildBatches` (the transport knows its
   * envelope, and the encrypted path's smaller plaintext budget). Without it,
   * batches are sized by `maxBodyBytes` and the transport halves any that do
   * not fit.
   */
  batchBudget?(kind: BatchKind): { limit: number; envelopeBytes: number };
  /**
   * Optional: how many of one export's batches may be in flight at once
   * (HTTPTransport: `exportConcurrency`). Read per export, so it follows
   * updateConfig. Without it, one at a time.
   */
  sendConcurrency?(): number;
}

export interface DeliveryOptions {
  transport: BatchSender;
  /** Where pending batches go; null: pending items are dropped and counted (`queue_unavailable`). */
  queue: FallbackQueue | null;
  /** Body cap the batches are sized to when the transport gives no budget. Default 262144. */
  maxBodyBytes?: number;
  /**
   * Deadline of one export's sends, ms. Default 25000: under the SDK batch
   * processor's 30 s export timeout, so the result reaches it before it
   * gives up; what is not delivered by then is queued.
   */
  exportTimeoutMs?: number;
}

export interface DeliveryStats {
  delivered: number;
  queued: number;
  dropped: Partial<Record<DropReason, number>>;
  /** Exports (runs) not finished yet. */
  inFlight: number;
  batchesSent: number;
  batchesQueued: number;
  /** When the exporter last handed items over (epoch ms): the agent's last flush, as the heartbeat's last_flush reports it. */
  lastExportAt: number | null;
}

export const DEFAULT_EXPORT_TIMEOUT_MS = 25_000;
/** Time left to aborted sends to hand their pending items back, before shutdown queues the batches itself. */
const MAX_ABORT_GRACE_MS = 250;

/** One export's state: owned by its own call, never shared. */
interface Run {
  /** Batches not started yet. */
  remaining: WireBatch[];
  /** The batches being sent right now (one per lane). */
  sending: Set<WireBatch>;
  /** Set once a batch came back undelivered: the backend is struggling, the rest goes to the queue. */
  backendDown: boolean;
  /** Set when shutdown queued this run's batches itself: its late send report is ignored. */
  handedOver: boolean;
  done: boolean;
  ok: boolean;
  finish: (ok: boolean) => void;
}

export class Delivery {
  private readonly transport: BatchSender;
  private readonly queue: FallbackQueue | null;
  private readonly exportTimeoutMs: number;
  private readonly maxBodyBytes: number;
  private readonly runs = new Map<Run, Promise<boolean>>();
  private readonly abort = new AbortController();
  private closed = false;
  private shutdownPromise: Promise<void> | null = null;
  private delivered = 0;
  private queued = 0;
  private batchesSent = 0;
  private batchesQueued = 0;
  private lastExportAt: number | null = null;
  private readonly dropped: Partial<Record<DropReason, number>> = {};

  constructor(options: DeliveryOptions) {
    this.transport = options.transport;
    this.queue = options.queue;
    this.exportTimeoutMs = options.exportTimeoutMs ?? DEFAULT_EXPORT_TIMEOUT_MS;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Counts items dropped before delivery (encoding, too large, ...). */
  drop(reason: DropReason, count: number): void {
    countDrop(this.dropped, reason, count);
  }

  /** Sizes encoded items into batches by bytes (dropping, counted, any item too large alone) and delivers them. */
  deliverItems(kind: BatchKind, items: string[], idempotencyKeys: string[]): Promise<boolean> {
    this.lastExportAt = Date.now();
    return this.deliver(this.batchesOf(kind, items, idempotencyKeys));
  }

  /**
   * Puts encoded items straight into the queue, skipping the network: what
   * an exporter is handed after its shutdown (a reader's last collection at
   * stop) is kept for the drainer, or the next start on Redis, instead of
   * being refused. True when every item was queued; what was not is counted.
   */
  async queueItems(kind: BatchKind, items: string[], idempotencyKeys: string[]): Promise<boolean> {
    let ok = true;
    for (const batch of this.batchesOf(kind, items, idempotencyKeys)) ok = (await this.enqueue(batch)) && ok;
    return ok;
  }

  private batchesOf(kind: BatchKind, items: string[], idempotencyKeys: string[]): WireBatch[] {
    const budget = this.transport.batchBudget?.(kind);
    return buildBatches(kind, items, idempotencyKeys, budget?.limit ?? this.maxBodyBytes, Date.now(), {
      ...(budget ? { envelopeBytes: budget.envelopeBytes } : {}),
      onTooLarge: (n) => this.drop('too_large', n),
    });
  }

  /**
   * Sends the batches, queueing what is not delivered. Resolves true when
   * every item was delivered, dropped for a counted permanent reason, or
   * queued; false when some could be neither. Never rejects.
   */
  deliver(batches: WireBatch[]): Promise<boolean> {
    if (this.closed) {
      for (const b of batches) this.drop('agent_stopped', b.items.length);
      return Promise.resolve(false);
    }
    let finish!: (ok: boolean) => void;
    const result = new Promise<boolean>((resolve) => (finish = resolve));
    const run: Run = { remaining: batches.slice(), sending: new Set(), backendDown: false, handedOver: false, done: false, ok: true, finish: () => {} };
    run.finish = (ok) => {
      if (run.done) return;
      run.done = true;
      this.runs.delete(run);
      finish(ok);
    };
    this.runs.set(run, result);
    void this.execute(run);
    return result;
  }

  /**
   * Sends the run's batches through up to `sendConcurrency()` lanes, each
   * taking the next batch not started: an export of several batches is not
   * paced by one round trip per batch (the SDK hands one export at a time).
   */
  private async execute(run: Run): Promise<void> {
    const deadline = Date.now() + this.exportTimeoutMs;
    try {
      const lanes = Math.max(1, Math.min(Math.floor(this.transport.sendConcurrency?.() ?? 1), run.remaining.length));
      await Promise.all(Array.from({ length: lanes }, () => this.lane(run, deadline)));
      if (!run.handedOver) run.finish(run.ok);
    } catch (err) {
      // Only reachable through a bug in a dependency; the export must still report.
      diag.error('guard-agent: delivery failed unexpectedly', err);
      run.finish(false);
    }
  }

  private async lane(run: Run, deadline: number): Promise<void> {
    for (let batch = run.remaining.shift(); batch !== undefined && !run.handedOver; batch = run.remaining.shift()) {
      if (run.backendDown || this.abort.signal.aborted) {
        run.ok = (await this.enqueue(batch)) && run.ok;
        continue;
      }
      run.sending.add(batch);
      const report = await this.send(batch, deadline);
      run.sending.delete(batch);
      if (run.handedOver) return;
      if (report === null) {
        run.backendDown = true;
        run.ok = (await this.enqueue(batch)) && run.ok;
        continue;
      }
      this.batchesSent++;
      this.delivered += report.delivered;
      for (const d of report.dropped) countDrop(this.dropped, d.reason, d.count);
      // Before queueing: the other lanes must not start another batch meanwhile.
      if (report.outcome !== 'delivered') run.backendDown = true;
      for (const pending of report.pending) run.ok = (await this.enqueue(pending)) && run.ok;
    }
  }

  /** One send; a transport that throws (it should not) is treated like a backend that did not answer. */
  private async send(batch: WireBatch, deadline: number): Promise<SendReport | null> {
    try {
      return await this.transport.sendBatch(batch, { deadline, signal: this.abort.signal });
    } catch (err) {
      diag.warn(`guard-agent: sendBatch threw for batch ${batch.batchId}; queueing it`, err);
      return null;
    }
  }

  private async enqueue(batch: WireBatch): Promise<boolean> {
    if (batch.items.length === 0) return true;
    if (this.queue === null) {
      this.drop('queue_unavailable', batch.items.length);
      return false;
    }
    try {
      await this.queue.enqueue(batch);
      this.queued += batch.items.length;
      this.batchesQueued++;
      return true;
    } catch (err) {
      diag.error(`guard-agent: could not queue batch ${batch.batchId} (${batch.items.length} items)`, err);
      this.drop('queue_unavailable', batch.items.length);
      return false;
    }
  }

  /** Waits for every export in flight now (and any started while waiting). */
  async flush(): Promise<void> {
    while (this.runs.size > 0) await Promise.all(this.runs.values());
  }

  /**
   * Refuses new exports, waits for the ones in flight until `timeoutMs`,
   * then aborts their sends (the transport hands pending items back, which
   * get queued) and, for sends that still have not returned, queues their
   * batches directly. Resolves within `timeoutMs` (plus the queue's own time).
   */
  shutdown(timeoutMs: number): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(Math.max(0, timeoutMs));
    return this.shutdownPromise;
  }

  private async doShutdown(timeoutMs: number): Promise<void> {
    this.closed = true;
    const deadline = Date.now() + timeoutMs;
    const grace = Math.min(MAX_ABORT_GRACE_MS, Math.floor(timeoutMs / 4));
    await this.waitRuns(deadline - grace);
    if (this.runs.size === 0) return;
    this.abort.abort();
    await this.waitRuns(deadline);
    const stuck = [...this.runs.keys()];
    if (stuck.length === 0) return;
    diag.warn(`guard-agent: ${stuck.length} export(s) still sending at the shutdown deadline; queueing their batches`);
    await Promise.all(stuck.map((run) => this.handOver(run)));
  }

  private async handOver(run: Run): Promise<void> {
    run.handedOver = true;
    const batches = [...run.sending, ...run.remaining];
    run.sending.clear();
    run.remaining = [];
    let ok = run.ok;
    for (const b of batches) ok = (await this.enqueue(b)) && ok;
    run.finish(ok);
  }

  private async waitRuns(until: number): Promise<void> {
    while (this.runs.size > 0) {
      const left = until - Date.now();
      if (left <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        // Not unref'd on purpose: a caller awaiting shutdown must not see the process exit before its deadline.
        timer = setTimeout(resolve, left);
      });
      await Promise.race([Promise.all(this.runs.values()), timeout]);
      clearTimeout(timer);
    }
  }

  stats(): DeliveryStats {
    return {
      delivered: this.delivered,
      queued: this.queued,
      dropped: { ...this.dropped },
      inFlight: this.runs.size,
      batchesSent: this.batchesSent,
      batchesQueued: this.batchesQueued,
      lastExportAt: this.lastExportAt,
    };
  }
}
