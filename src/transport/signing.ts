import { createHmac } from 'node:crypto';

/**
 * `X-Payload-Signature: v1=<64 lowercase hex>`: HMAC-SHA256 keyed with the
 * secret's UTF-8 bytes. Which bytes it covers (uncompressed JSON or the wire
 * bytes) is the caller's choice, per `signatureMode` (reference 3.2 caveat).
 */
export function signPayload(bytes: Buffer | string, secret: string | null | undefined): string | null {
  if (!secret) return null;
  return 'v1=' + createHmac('sha256', Buffer.from(secret, 'utf8')).update(bytes).digest('hex');
}
