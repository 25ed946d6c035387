/**
 * `X-Payload-Signature: v1=<64 hex>` = HMAC-SHA256(secret, bytes). Compared
 * in constant time so the dev backend does not teach timing-leaky habits.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const HEADER_RE = /^v1=([0-9a-fA-F]{64})$/;

export function verifySignature(header: string | undefined, secret: string, bytes: Buffer): boolean {
  if (header === undefined) return false;
  const m = HEADER_RE.exec(header.trim());
  if (!m) return false;
  const given = Buffer.from(m[1], 'hex');
  const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(bytes).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}
