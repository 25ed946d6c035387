/**
 * Turns the received bytes into the JSON the routes validate, without
 * answering yet: the routes decide in which order failures are reported
 * (auth first, then size and gzip, then signature, then JSON).
 */
import type { IncomingMessage } from 'node:http';
import { gunzipCapped, readRawBody, wireLimit } from './body.js';

export type Decoded =
  | { ok: true; bytes: Buffer }
  | { ok: false; status: number; detail: string };

export interface ReceivedBody {
  /** Bytes as received (empty when over the wire limit). */
  raw: Buffer;
  rawBytes: number;
  gzip: boolean;
  decoded: Decoded;
  /** The parsed JSON, or undefined when decoding or parsing failed. */
  json: unknown;
  jsonError: boolean;
}

function tooLarge(cap: number): Decoded {
  return { ok: false, status: 413, detail: `Payload exceeds ${cap} bytes` };
}

export async function receiveBody(req: IncomingMessage, cap: number): Promise<ReceivedBody> {
  const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const gzip = encoding === 'gzip' || encoding === 'x-gzip';
  const known = gzip || encoding === 'identity' || encoding === '';
  const body = await readRawBody(req, wireLimit(cap, gzip));
  let decoded: Decoded;
  if (!known) decoded = { ok: false, status: 415, detail: `Unsupported Content-Encoding: ${encoding}` };
  else if (body.overLimit) decoded = tooLarge(cap);
  else if (!gzip) decoded = { ok: true, bytes: body.bytes };
  else {
    const out = await gunzipCapped(body.bytes, cap);
    if (out.ok) decoded = out;
    else decoded = out.reason === 'too_large' ? tooLarge(cap) : { ok: false, status: 400, detail: 'Malformed gzip request body' };
  }
  let json: unknown;
  let jsonError = false;
  if (decoded.ok) {
    try {
      json = JSON.parse(decoded.bytes.toString('utf8'));
    } catch {
      jsonError = true;
    }
  }
  return { raw: body.bytes, rawBytes: body.received, gzip, decoded, json, jsonError };
}
