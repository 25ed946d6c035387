import type { SignatureMode } from '../config-types.js';
import { maybeCompress } from './compression.js';
import { signPayload } from './signing.js';

export interface WireBodySettings {
  compressionEnabled: boolean;
  compressionThreshold: number;
  payloadSigningSecret: string | null;
  signatureMode: SignatureMode;
}

export interface WireBody {
  bytes: Buffer;
  /** `Content-Encoding` and `X-Payload-Signature` when they apply. */
  headers: Record<string, string>;
}

/**
 * The exact bytes of one POST and the headers that describe them. Built once
 * per batch, so every retry sends identical bytes (same batch_id, same
 * signature). The signature covers the uncompressed JSON by default, which is
 * what the backend is reported to verify after decompressing, or the wire
 * bytes in `signatureMode: 'wire'` (the Python agent's behaviour); see
 * reference 3.2's caveat.
 */
export async function prepareWireBody(json: Buffer, settings: WireBodySettings): Promise<WireBody> {
  const { bytes, gzipped } = await maybeCompress(json, settings);
  const headers: Record<string, string> = {};
  if (gzipped) headers['Content-Encoding'] = 'gzip';
  const signature = signPayload(settings.signatureMode === 'wire' ? bytes : json, settings.payloadSigningSecret);
  if (signature) headers['X-Payload-Signature'] = signature;
  return { bytes, headers };
}
