/**
 * Reading a request body under a byte cap, and gunzipping it without ever
 * inflating past the cap (a gzip bomb stops at cap + 1 bytes).
 */
import type { IncomingMessage } from 'node:http';
import { gunzip } from 'node:zlib';

/** The client went away before sending its whole body: nobody is left to answer. */
export class RequestAbortedError extends Error {
  constructor() {
    super('client closed the connection before the request body ended');
  }
}

export interface RawBody {
  /** The bytes kept; empty when the body went over `limit`. */
  bytes: Buffer;
  /** Every byte received, kept or not. */
  received: number;
  /** True when more than `limit` bytes arrived: the rest was drained and discarded. */
  overLimit: boolean;
}

/**
 * Reads the whole request. Past `limit` bytes it keeps reading but discards,
 * so the client can finish sending and still read our 413 (answering early
 * and closing would show the client a reset instead of the status).
 */
export function readRawBody(req: IncomingMessage, limit: number): Promise<RawBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let overLimit = false;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (overLimit) return;
      if (received > limit) {
        overLimit = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve({ bytes: overLimit ? Buffer.alloc(0) : Buffer.concat(chunks), received, overLimit }));
    req.on('error', reject);
    // A client that hangs up mid-body never sends 'end'.
    req.on('close', () => {
      if (!req.complete) reject(new RequestAbortedError());
    });
  });
}

export type DecodeResult =
  | { ok: true; bytes: Buffer }
  | { ok: false; reason: 'malformed' | 'too_large' };

/** Gunzips with `maxOutputLength = cap + 1`, so anything larger fails fast as `too_large`. */
export function gunzipCapped(bytes: Buffer, cap: number): Promise<DecodeResult> {
  return new Promise((resolve) => {
    gunzip(bytes, { maxOutputLength: cap + 1 }, (err, out) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        resolve({ ok: false, reason: code === 'ERR_BUFFER_TOO_LARGE' ? 'too_large' : 'malformed' });
        return;
      }
      resolve(out.length > cap ? { ok: false, reason: 'too_large' } : { ok: true, bytes: out });
    });
  });
}

/**
 * How many wire bytes we are willing to hold for a body whose decoded size is
 * capped at `cap`. Deflate can expand incompressible data only a little
 * (stored blocks), so twice the cap plus slack is always enough for a
 * compressed body that could still decode under the cap.
 */
export function wireLimit(cap: number, gzip: boolean): number {
  return gzip ? cap * 2 + 65_536 : cap;
}
