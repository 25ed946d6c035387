import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { EncryptionConfigError } from '../errors.js';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/**
 * AES-256-GCM payload encryption for `/api/v1/events/encrypted` (reference
 * 3.6): 12-byte random nonce, no AAD, output = URL-safe base64 WITH `=`
 * padding of nonce || ciphertext || tag.
 *
 * The constructor decodes the key and does an encrypt/decrypt round trip, so a
 * bad key fails at startup with `EncryptionConfigError`; there is never a
 * plaintext fallback. No message produced here contains the key.
 */
export class PayloadEncryptor {
  // A #private field: util.inspect of the transport must not print the key.
  readonly #key: Buffer;

  constructor(projectEncryptionKey: string) {
    this.#key = decodeKey(projectEncryptionKey);
    let ok: boolean;
    try {
      const probe = '{"test":"verification"}';
      ok = this.decrypt(this.encrypt(probe)).toString('utf8') === probe;
    } catch {
      ok = false;
    }
    if (!ok) throw new EncryptionConfigError('Encryption round-trip failed at startup; refusing plaintext fallback');
  }

  /** Encrypts UTF-8 text (or bytes) and returns padded URL-safe base64. */
  encrypt(plaintext: string | Buffer): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return toPaddedBase64Url(Buffer.concat([nonce, body, cipher.getAuthTag()]));
  }

  /** Inverse of `encrypt` (tests, the dev backend). Throws on a tampered or foreign payload. */
  decrypt(payload: string): Buffer {
    const raw = Buffer.from(payload, 'base64url');
    if (raw.length < NONCE_BYTES + TAG_BYTES) throw new Error('Encrypted payload too short');
    const nonce = raw.subarray(0, NONCE_BYTES);
    const tag = raw.subarray(raw.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
  }
}

/** Length of the base64 text `encrypt` produces for `plaintextBytes` of input (for byte budgeting). */
export function encryptedPayloadLength(plaintextBytes: number): number {
  return 4 * Math.ceil((NONCE_BYTES + plaintextBytes + TAG_BYTES) / 3);
}

/** Why `key` is not a usable project encryption key, or null. Never quotes the key. */
export function projectKeyProblem(key: unknown): string | null {
  try {
    decodeKey(key as string);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

function decodeKey(key: string): Buffer {
  if (typeof key !== 'string') throw new EncryptionConfigError('Invalid project encryption key format: expected URL-safe base64 of 32 bytes');
  // Whitespace (a key wrapped or pasted with a newline) is dropped, as Python's decoder drops it: the same key bytes.
  const text = key.replace(/\s+/g, '');
  if (text === '') throw new EncryptionConfigError('Project key cannot be empty');
  if (/[+/]/.test(text)) {
    throw new EncryptionConfigError("Invalid project encryption key format: expected URL-safe base64 ('-' and '_', not '+' and '/') of 32 bytes");
  }
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(text)) {
    throw new EncryptionConfigError('Invalid project encryption key format: expected URL-safe base64 of 32 bytes');
  }
  const raw = Buffer.from(text, 'base64url');
  if (raw.length !== KEY_BYTES) {
    throw new EncryptionConfigError(
      `Invalid project encryption key: decodes to ${raw.length} bytes, expected ${KEY_BYTES}`,
    );
  }
  return raw;
}

function toPaddedBase64Url(bytes: Buffer): string {
  const s = bytes.toString('base64url');
  return s + '='.repeat((4 - (s.length % 4)) % 4);
}
