/**
 * RulesShare: what the instances of one project share through Redis so that
 * only one of them fetches the rules per interval.
 *
 *   {prefix}:{<project>}:rules          JSON entry {body, etag, fetchedAt, mac}:
 *                                       the last validated ruleset (wire form)
 *   {prefix}:{<project>}:rules:lock     SET NX PX token: the instance fetching now
 *   {prefix}:{<project>}:rules:changed  pub/sub channel: an entry that changed,
 *                                       so siblings apply it at once
 *
 * The `{<project>}` hash tag is the queue's (redis-keys.ts): one project's
 * keys stay in one cluster slot.
 *
 * Every entry is signed (shared-entry-mac.ts); one without a valid MAC, read
 * or heard, is ignored and reported through `onUnauthenticated`. That
 * includes an entry written by an agent version that did not sign: during a
 * rolling upgrade such an instance's entries are simply not used and the
 * reader fetches the rules itself.
 *
 * Redis is an optimisation here, never a dependency: every call is raced
 * against `commandTimeoutMs` and a failure returns null/false, so the poller
 * falls back to fetching on its own. Pub/sub needs a connection of its own
 * (a subscribed ioredis connection accepts no other command): a duplicate of
 * the caller's client, owned and closed by this class.
 */
import { keepOutOfPrint } from '../config-printing.js';
import { diag } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import { errorMessage, luaScript, runScript, withTimeout, type RedisClientLike } from '../queue/redis-connection.js';
import { queueKeys } from '../queue/redis-keys.js';
import { entryMac, entryMacMatches } from './shared-entry-mac.js';

/** One validated ruleset as cached in Redis. */
export interface SharedRulesEntry {
  /** The ruleset in wire (snake_case) form, already validated by the instance that fetched it. */
  body: Record<string, unknown>;
  etag?: string;
  /** When the backend last confirmed it (ms since epoch): a 200 or a 304. */
  fetchedAt: number;
}

export interface RulesShareOptions {
  client: RedisClientLike;
  projectId: string;
  /** Key prefix; default `guard_agent` (the queue's). */
  prefix?: string;
  /** Longest wait for one Redis command; default 500 ms. */
  commandTimeoutMs?: number;
  /** Called with each entry a sibling publishes. */
  onEntry: (entry: SharedRulesEntry) => void;
  /** This instance's id: its own messages are skipped. */
  instanceId: string;
  /** The MAC key entries are signed and checked with (`rulesShareKey(apiKey)`). */
  signingKey: Buffer;
  /** Called for each entry read or heard without a valid MAC (it is ignored). */
  onUnauthenticated?: (origin: 'redis' | 'pubsub') => void;
}

/** Deletes the lock only if it is still ours (it may have expired and been taken by a sibling). */
const RELEASE_LUA = luaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

export class RulesShare {
  readonly key: string;
  readonly lockKey: string;
  readonly channel: string;
  private readonly client: RedisClientLike;
  private readonly timeoutMs: number;
  private readonly onEntry: (entry: SharedRulesEntry) => void;
  private readonly instanceId: string;
  private readonly projectId: string;
  private signingKey: Buffer;
  private readonly onUnauthenticated: (origin: 'redis' | 'pubsub') => void;
  private subscriber: Redis | null = null;
  private closed = false;
  private failing = false;
  private markSubscribed: () => void = () => undefined;
  /** Resolves once the change channel is subscribed (never, while Redis is down). */
  readonly subscribed: Promise<void> = new Promise((resolve) => {
    this.markSubscribed = resolve;
  });

  constructor(options: RulesShareOptions) {
    keepOutOfPrint(this, 'client', 'subscriber', 'signingKey');
    const base = queueKeys(options.prefix ?? 'guard_agent', options.projectId).base;
    this.key = `${base}:rules`;
    this.lockKey = `${base}:rules:lock`;
    this.channel = `${base}:rules:changed`;
    this.client = options.client;
    this.timeoutMs = options.commandTimeoutMs ?? 500;
    this.onEntry = options.onEntry;
    this.instanceId = options.instanceId;
    this.projectId = options.projectId;
    this.signingKey = options.signingKey;
    this.onUnauthenticated = options.onUnauthenticated ?? (() => undefined);
    this.subscribe();
  }

  /** The cached entry, or null (none, unreadable, not signed with our key, or Redis unavailable). */
  async read(): Promise<SharedRulesEntry | null> {
    const raw = await this.call('GET rules', () => this.client.get(this.key));
    if (typeof raw !== 'string') return null;
    return this.authentic(parseEntry(raw), 'redis');
  }

  /** Stores `entry`, signed; with `publish`, tells the siblings too. */
  async write(entry: SharedRulesEntry, publish: boolean): Promise<void> {
    const signed = { ...entry, mac: entryMac(this.signingKey, this.projectId, entry) };
    const json = JSON.stringify(signed);
    await this.call('SET rules', () => this.client.set(this.key, json));
    if (publish) await this.call('PUBLISH rules', () => this.client.publish(this.channel, JSON.stringify({ from: this.instanceId, entry: signed })));
  }

  /** Signs and checks with `key` from now on (the API key changed). */
  useSigningKey(key: Buffer): void {
    this.signingKey = key;
  }

  /** Takes the fetch lock for `ttlMs`; returns its token, or null when a sibling holds it. Redis down: `'unavailable'`. */
  async lock(ttlMs: number): Promise<string | null | 'unavailable'> {
    const token = `${this.instanceId}:${Date.now()}:${Math.random().toString(36).slice(2)}`;
    const res = await this.call('SET NX lock', () => this.client.set(this.lockKey, token, 'PX', Math.max(1, Math.round(ttlMs)), 'NX'));
    if (res === undefined) return 'unavailable';
    return res === 'OK' ? token : null;
  }

  async unlock(token: string): Promise<void> {
    await this.call('release lock', () => runScript(this.client, RELEASE_LUA, [this.lockKey], [token]));
  }

  async close(): Promise<void> {
    this.closed = true;
    const sub = this.subscriber;
    this.subscriber = null;
    if (sub === null) return;
    try {
      await withTimeout(sub.quit(), this.timeoutMs, 'QUIT');
    } catch {
      sub.disconnect();
    }
  }

  /** The entry without its MAC when the MAC is valid; otherwise null, reported. */
  private authentic(parsed: ParsedEntry | null, origin: 'redis' | 'pubsub'): SharedRulesEntry | null {
    if (parsed === null) return null;
    const { mac, ...entry } = parsed;
    if (entryMacMatches(this.signingKey, this.projectId, entry, mac)) return entry;
    this.onUnauthenticated(origin);
    return null;
  }

  /** Undefined when Redis failed or timed out (logged once per outage). */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      const value = await withTimeout(fn(), this.timeoutMs, what);
      if (this.failing) diag.info('guard-agent: rules sharing through Redis works again');
      this.failing = false;
      return value;
    } catch (err) {
      if (!this.failing) diag.warn(`guard-agent: rules sharing through Redis unavailable (${what}: ${errorMessage(err)}); fetching locally`);
      this.failing = true;
      return undefined;
    }
  }

  private subscribe(): void {
    let sub: Redis;
    try {
      sub = (this.client as Redis).duplicate();
    } catch (err) {
      diag.warn(`guard-agent: no pub/sub connection for rule changes (${errorMessage(err)}); siblings' changes arrive with the next poll`);
      return;
    }
    this.subscriber = sub;
    sub.on('error', (err: unknown) => diag.debug(`guard-agent: rules pub/sub connection: ${errorMessage(err)}`));
    sub.on('message', (channel: string, message: string) => {
      if (channel !== this.channel || this.closed) return;
      try {
        const msg = JSON.parse(message) as { from?: unknown; entry?: unknown };
        if (msg.from === this.instanceId) return;
        const entry = this.authentic(parseEntry(JSON.stringify(msg.entry)), 'pubsub');
        if (entry !== null) this.onEntry(entry);
      } catch (err) {
        diag.warn(`guard-agent: ignored a malformed rules change message: ${errorMessage(err)}`);
      }
    });
    // A client without an offline queue refuses commands before it is ready; ioredis re-subscribes by itself after reconnects.
    const doSubscribe = (): void => {
      if (this.closed) return;
      sub.subscribe(this.channel).then(() => this.markSubscribed(), (err: unknown) => {
        diag.debug(`guard-agent: rules SUBSCRIBE failed (${errorMessage(err)}); retrying when the connection is ready`);
        sub.once('ready', doSubscribe);
      });
    };
    if (sub.status === 'ready') doSubscribe();
    else {
      sub.once('ready', doSubscribe);
      // A duplicate of a `lazyConnect` client (Redis or Cluster) stays in 'wait' until a first command, and ours waits for 'ready': connect it, or siblings' changes are never heard.
      if (sub.status === 'wait') sub.connect().catch(() => undefined);
    }
  }
}

type ParsedEntry = SharedRulesEntry & { mac: unknown };

function parseEntry(raw: string): ParsedEntry | null {
  try {
    const v = JSON.parse(raw) as (Partial<SharedRulesEntry> & { mac?: unknown }) | null;
    if (v === null || typeof v !== 'object' || typeof v.fetchedAt !== 'number') return null;
    if (v.body === null || typeof v.body !== 'object' || Array.isArray(v.body)) return null;
    return { body: v.body, fetchedAt: v.fetchedAt, ...(typeof v.etag === 'string' ? { etag: v.etag } : {}), mac: v.mac };
  } catch {
    return null;
  }
}
