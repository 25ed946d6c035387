import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';

const gzipAsync = promisify(gzip);

/**
 * zlib level 1: on event-like JSON at the 256 KiB body cap it measured ~2x
 * faster than level 6 (4x on very repetitive JSON) for output only ~7% larger
 * (16.1% vs 15.0% of the input); bench/http-client.ts prints the figures.
 * The wire is not the bottleneck for a few hundred KB per flush; CPU time in
 * the host process is what we want to keep small.
 */
export const GZIP_LEVEL = 1;

export interface CompressionSettings {
  compressionEnabled: boolean;
  /** Bytes at or above which the body is gzipped. */
  compressionThreshold: number;
}

export interface MaybeCompressed {
  bytes: Buffer;
  gzipped: boolean;
}

/**
 * Bodies up to this size are gzipped synchronously; larger ones on libuv's
 * thread pool. Measured (bench/http-client.ts, event-like JSON): on ~20 KB the
 * async call costs 2-5x the sync one (thread-pool round trip) for a block of
 * well under a millisecond; at the 256 KiB cap a sync level-1 gzip blocks the
 * host's event loop for 0.6-5 ms depending on load, which a host serving
 * requests feels, while the async variant keeps the loop free.
 */
export const SYNC_GZIP_MAX_BYTES = 64 * 1024;

/** Gzip `body` when enabled and `body.length >= threshold`. */
export async function maybeCompress(body: Buffer, settings: CompressionSettings): Promise<MaybeCompressed> {
  if (!settings.compressionEnabled || body.length < settings.compressionThreshold) {
    return { bytes: body, gzipped: false };
  }
  const bytes = body.length <= SYNC_GZIP_MAX_BYTES ? gzipSync(body, { level: GZIP_LEVEL }) : await gzipAsync(body, { level: GZIP_LEVEL });
  return { bytes, gzipped: true };
}
