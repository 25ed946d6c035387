/**
 * The POST routes: events, metrics, encrypted events/metrics and status.
 * Order of checks: injected faults, API key, body size and gzip, signature,
 * JSON, model validation, the maxItems limit, then storage and the answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BackendContext } from './context.js';
import { decryptPayload } from './decrypt.js';
import { receiveBody } from './decode.js';
import { answerDown, answerFault } from './fault-response.js';
import { redactHeaders } from './record-file.js';
import { sendDetail, sendJson } from './respond.js';
import type { BatchRecord, WireObject } from './types.js';
import { peekBatchId, peekItemCount, validateBatch, validateEnvelope, validatePlaintext, validateStatus, type Items } from './validate.js';
import { verifySignature } from './verify.js';

export const EVENTS_PATH = '/api/v1/events';
export const METRICS_PATH = '/api/v1/metrics';
export const ENCRYPTED_PATH = '/api/v1/events/encrypted';
export const STATUS_PATH = '/api/v1/status';

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function lowerCaseHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** Handles one POST to an ingest route; returns the status sent (0 for a reset socket). */
export async function handleIngest(ctx: BackendContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<number> {
  const body = await receiveBody(req, ctx.maxBodyBytes);
  const encrypted = path === ENCRYPTED_PATH;
  const record: BatchRecord = {
    path,
    batchId: peekBatchId(body.json),
    headers: lowerCaseHeaders(req),
    itemCount: path === STATUS_PATH || encrypted ? 0 : peekItemCount(body.json),
    rawBytes: body.rawBytes,
    decodedBytes: body.decoded.ok ? body.decoded.bytes.length : 0,
    gzip: body.gzip,
    encrypted,
    status: 0,
    at: 0,
  };
  const done = (status: number): number => {
    record.status = status;
    record.at = Date.now();
    ctx.store.addBatchRecord(record);
    return status;
  };

  const down = ctx.faults.down('POST', path);
  if (down) return done(answerDown(down, res));
  const fault = ctx.faults.take('POST', path);
  if (fault) {
    const outcome = await answerFault(fault, req, res);
    if (outcome !== 'continue') return done(outcome);
    // A delay outlived the server: a stopped backend records nothing. (A client that merely
    // timed out is different: like the real backend, we still store its batch — a lost ACK.)
    if (ctx.stopped()) return 0;
  }

  if (!ctx.auth.allows(header(req, 'x-api-key'), header(req, 'x-project-id'))) {
    sendDetail(res, 401, 'Invalid API key or project ID');
    return done(401);
  }
  if (!body.decoded.ok) {
    sendDetail(res, body.decoded.status, body.decoded.detail);
    return done(body.decoded.status);
  }
  if (ctx.signingSecret !== undefined) {
    const signed = ctx.signatureMode === 'wire' ? body.raw : body.decoded.bytes;
    if (!verifySignature(header(req, 'x-payload-signature'), ctx.signingSecret, signed)) {
      sendDetail(res, 401, 'Invalid payload signature');
      return done(401);
    }
  }
  if (body.jsonError) {
    sendDetail(res, 400, 'Invalid JSON in request body');
    return done(400);
  }

  if (path === STATUS_PATH) {
    const status = validateStatus(body.json);
    if (!status.ok) {
      sendDetail(res, 422, status.issues);
      return done(422);
    }
    ctx.store.addStatus(status.value);
    ctx.recordFile?.append({ type: 'status', at: Date.now(), path, headers: redactHeaders(record.headers), status: status.value });
    sendJson(res, 200, { success: true });
    done(200);
    ctx.emit('status', { record, status: status.value });
    return 200;
  }

  let items: Items;
  if (encrypted) {
    const opened = openEnvelope(ctx, body.json, record);
    if (!opened.ok) {
      sendDetail(res, opened.status, opened.detail);
      return done(opened.status);
    }
    items = opened.items;
  } else {
    const batch = validateBatch(body.json);
    if (!batch.ok) {
      sendDetail(res, 422, batch.issues);
      return done(422);
    }
    items = batch.value;
  }

  const count = items.events.length + items.metrics.length;
  record.itemCount = count;
  const limit = ctx.faults.overLimit('POST', path, count);
  if (limit) {
    sendDetail(res, 413, `Payload exceeds ${limit.max} items`);
    return done(413);
  }

  const duplicates = ctx.store.addItems(items.events, items.metrics);
  ctx.recordFile?.append({
    type: 'batch',
    at: Date.now(),
    path,
    batch_id: record.batchId,
    headers: redactHeaders(record.headers),
    events: items.events,
    metrics: items.metrics,
  });
  sendJson(res, 200, successBody(items.events.length, items.metrics.length));
  done(200);
  ctx.emit('batch', { record, events: items.events, metrics: items.metrics, duplicates });
  return 200;
}

/** Reference 3.8 F. */
export function successBody(events: number, metrics: number): WireObject {
  return {
    success: true,
    events_received: events,
    events_dropped_invalid_timestamp: 0,
    metrics_received: metrics,
    events_processed: events,
    metrics_processed: metrics,
    errors: null,
  };
}

type Opened = { ok: true; items: Items } | { ok: false; status: number; detail: unknown };

function openEnvelope(ctx: BackendContext, json: unknown, record: BatchRecord): Opened {
  if (ctx.encryptionKey === undefined) return { ok: false, status: 400, detail: 'Encryption is not configured for this project' };
  const envelope = validateEnvelope(json);
  if (!envelope.ok) return { ok: false, status: 422, detail: envelope.issues };
  record.batchId = envelope.value.batchId;
  const plaintext = decryptPayload(envelope.value.payload, ctx.encryptionKey);
  if (plaintext === undefined) return { ok: false, status: 400, detail: 'Failed to decrypt payload: Invalid or tampered payload' };
  let inner: unknown;
  try {
    inner = JSON.parse(plaintext.toString('utf8'));
  } catch {
    return { ok: false, status: 400, detail: 'Failed to decrypt payload: decrypted payload is not valid JSON' };
  }
  record.itemCount = peekItemCount(inner);
  const items = validatePlaintext(inner);
  return items.ok ? { ok: true, items: items.value } : { ok: false, status: 422, detail: items.issues };
}
