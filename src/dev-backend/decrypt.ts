/**
 * The encrypted path (reference 3.6): urlsafe base64 (padded or not) of
 * nonce(12) || ciphertext || tag(16), AES-256-GCM, no AAD.
 */
import { createDecipheriv } from 'node:crypto';

const NONCE = 12;
const TAG = 16;
const B64URL_RE = /^[A-Za-z0-9_-]*={0,2}$/;

/** Decodes the configured key; throws (without echoing the key) unless it is urlsafe base64 of 32 bytes. */
export function decodeEncryptionKey(key: string): Buffer {
  const trimmed = key.trim();
  const bytes = B64URL_RE.test(trimmed) ? Buffer.from(trimmed, 'base64url') : Buffer.alloc(0);
  if (bytes.length !== 32) throw new Error('encryptionKey must be URL-safe base64 of exactly 32 bytes');
  return bytes;
}

/** Returns the plaintext, or undefined when the payload is malformed, tampered or for another key. */
export function decryptPayload(payload: string, key: Buffer): Buffer | undefined {
  if (!B64URL_RE.test(payload) || payload.replace(/=+$/, '').length % 4 === 1) return undefined;
  const raw = Buffer.from(payload, 'base64url');
  if (raw.length < NONCE + TAG) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, NONCE), { authTagLength: TAG });
    decipher.setAuthTag(raw.subarray(raw.length - TAG));
    return Buffer.concat([decipher.update(raw.subarray(NONCE, raw.length - TAG)), decipher.final()]);
  } catch {
    return undefined;
  }
}
