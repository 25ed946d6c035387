/**
 * Authentication of the rules entries instances share through Redis.
 *
 * Anyone who can reach the Redis can SET the cached entry or PUBLISH on the
 * change channel; without a check, one forged message put a ruleset of their
 * choosing (emergency mode, a huge version) in force on every instance. So
 * each entry carries an HMAC-SHA256 keyed by a key derived from the agent's
 * API key: only agents holding that key can write an entry the others apply.
 * The derived key, not the API key itself, is used so a MAC can never be
 * mistaken for (or help guess) the credential the backend checks.
 *
 * The MAC covers the project id, `fetchedAt`, the ETag and the ruleset, so an
 * entry can neither be moved to another project sharing the key nor have its
 * age changed. A replayed genuine entry is left to the poller's ordering
 * rules (rule-poller.ts).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const KEY_LABEL = 'guard-agent rules-share v1';

/** The key entries are signed with: HMAC-SHA256(apiKey, label). */
export function rulesShareKey(apiKey: string): Buffer {
  return createHmac('sha256', apiKey).update(KEY_LABEL).digest();
}

export interface MacInput {
  body: Record<string, unknown>;
  etag?: string;
  fetchedAt: number;
}

/** base64url HMAC of one entry. */
export function entryMac(key: Buffer, projectId: string, entry: MacInput): string {
  // A JSON array is unambiguous (no separator can be forged inside a field), and the body re-serialises
  // to the same text after a JSON round trip through Redis.
  const text = JSON.stringify([KEY_LABEL, projectId, entry.fetchedAt, entry.etag ?? null, entry.body]);
  return createHmac('sha256', key).update(text).digest('base64url');
}

/** Whether `mac` is this entry's MAC under `key` (constant-time). */
export function entryMacMatches(key: Buffer, projectId: string, entry: MacInput, mac: unknown): boolean {
  if (typeof mac !== 'string') return false;
  const expected = Buffer.from(entryMac(key, projectId, entry));
  const given = Buffer.from(mac);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
