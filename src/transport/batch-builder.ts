import { randomBytes } from 'node:crypto';
import { diag } from '@opentelemetry/api';
import type { BatchKind, WireBatch } from './types.js';

/** Body cap before compression (the backend's reported INGEST_MAX_PAYLOAD_BYTES, 256 KiB). */
export const DEFAULT_MAX_BODY_BYTES = 262_144;

/**
 * Room reserved for the EventBatch envelope around the items when the caller
 * does not measure it: `{"project_id":…,"events":[],"metrics":[],"batch_id":…,
 * "created_at":…,"compressed":false,"agent_version":…,"guard_version":…,
 * "guard_core_version":…}` is ~250 bytes with long ids and versions.
 */
export const DEFAULT_ENVELOPE_BYTES = 1024;

/** `{epochMillis}-{8 hex}`, e.g. `1778580000123-1a2b3c4d` (reference 2.6). */
export function generateBatchId(now: number = Date.now()): string {
  return `${Math.floor(now)}-${randomBytes(4).toString('hex')}`;
}

export interface BuildBatchesOptions {
  /** Bytes of the body around the items (measured by the transport); default DEFAULT_ENVELOPE_BYTES. */
  envelopeBytes?: number;
  /** Told how many items were dropped because one alone exceeds the cap. */
  onTooLarge?: (count: number) => void;
  /** Most items per batch (default: no limit but the bytes). */
  maxItems?: number;
}

/**
 * Splits encoded items into WireBatches by BYTES, so that each body (envelope
 * plus items joined by commas, before compression) is <= maxBodyBytes: the
 * backend's cap is enforced here instead of by 413 cascades (reference 11.15).
 * Order is kept. An item that alone does not fit is dropped (reported through
 * `onTooLarge` and a diag warning): sending it could only ever earn a 413.
 */
export function buildBatches(
  kind: BatchKind,
  items: string[],
  idempotencyKeys: string[],
  maxBodyBytes: number = DEFAULT_MAX_BODY_BYTES,
  now: number = Date.now(),
  opts: BuildBatchesOptions = {},
): WireBatch[] {
  const budget = maxBodyBytes - (opts.envelopeBytes ?? DEFAULT_ENVELOPE_BYTES);
  const maxItems = opts.maxItems !== undefined && opts.maxItems >= 1 ? Math.floor(opts.maxItems) : Infinity;
  const withKeys = kind === 'events' && idempotencyKeys.length === items.length;
  const batches: WireBatch[] = [];
  let cur: string[] = [];
  let curKeys: string[] = [];
  let curBytes = 0;
  let tooLarge = 0;

  const flush = (): void => {
    if (cur.length === 0) return;
    batches.push({ kind, batchId: generateBatchId(now), items: cur, idempotencyKeys: withKeys ? curKeys : [], createdAt: now });
    cur = [];
    curKeys = [];
    curBytes = 0;
  };

  for (let i = 0; i < items.length; i++) {
    const size = Buffer.byteLength(items[i], 'utf8');
    if (size > budget) {
      tooLarge++;
      continue;
    }
    const added = cur.length === 0 ? size : size + 1; // the joining comma
    if (curBytes + added > budget || cur.length >= maxItems) {
      flush();
      curBytes = size;
    } else {
      curBytes += added;
    }
    cur.push(items[i]);
    if (withKeys) curKeys.push(idempotencyKeys[i]);
  }
  flush();

  if (tooLarge > 0) {
    diag.warn(`guard-agent: dropping ${tooLarge} ${kind} item(s) larger than the ${maxBodyBytes}-byte body cap on their own`);
    opts.onTooLarge?.(tooLarge);
  }
  return batches;
}

/** Splits one batch into two halves with fresh batch ids (413 handling). */
export function splitInHalves(batch: WireBatch, now: number = Date.now()): [WireBatch, WireBatch] {
  const mid = Math.floor(batch.items.length / 2);
  const keys = batch.idempotencyKeys.length === batch.items.length;
  const half = (from: number, to: number): WireBatch => ({
    kind: batch.kind,
    batchId: generateBatchId(now),
    items: batch.items.slice(from, to),
    idempotencyKeys: keys ? batch.idempotencyKeys.slice(from, to) : [],
    createdAt: batch.createdAt,
    ...(batch.attempts !== undefined ? { attempts: batch.attempts } : {}),
  });
  return [half(0, mid), half(mid, batch.items.length)];
}
