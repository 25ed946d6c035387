/**
 * RulePoller: brings the backend's dynamic rules (reference 2.4, 3.7, 6.6)
 * into the process, with the Python agent's gaps (reference 11.21) fixed:
 *
 * - polls `GET /api/v1/rules` every interval with ±10% jitter (a fleet does
 *   not poll in lockstep), sending `If-None-Match` with the last ETag; a 304
 *   means unchanged;
 * - keeps the last good rules: a failed fetch, a malformed payload (wrong
 *   types, not an object) or a 404 never replace them;
 * - the backend's own answer is authoritative: a lower `version` of the same
 *   `ruleId` from the backend (a rollback) applies. Only an answer overtaken
 *   by a newer one is ignored: a sibling's fetch that started after ours and
 *   reached us first;
 * - validates before applying: `parseDynamicRules` (structure), then
 *   `sanitizeRules` drops bad entries (invalid IPs/CIDRs, country codes,
 *   unsafe patterns, oversized lists) and the rest applies; the dropped
 *   entries are reported through `diag` once per ruleset;
 * - honours `expiresAt` (expired rules are no longer served and listeners
 *   hear `null`) and `ttl` (`get()` answers from memory within it);
 * - with Redis (`setRedis`), one instance of a project fetches per interval:
 *   a fresh entry in Redis is used instead of a fetch, a short `SET NX PX`
 *   lock elects the fetcher, and a changed ruleset is published so siblings
 *   apply it at once (rules-share.ts). Without Redis it fetches on its own.
 *   Shared entries must carry a MAC made with a key derived from `apiKey`
 *   (shared-entry-mac.ts); others are ignored and counted. A shared entry is
 *   never trusted the way the backend is: it applies only when the backend
 *   was asked for it after every answer behind the rules in force (so a
 *   rollback a sibling fetched applies here too, and a replayed genuine
 *   entry, whatever its version, does not). Its `fetchedAt` counts as at
 *   most now; one far in the future is absurd and counts as 0 (stale), so it
 *   can neither suppress polls nor outrank real answers.
 *
 * Tells the app through `current()`/`get()` (the camelCase shape
 * `@guardcore/core` validates) and `onRules(listener)`. Never throws out of
 * its timer or its public methods.
 */
import { keepOutOfPrint } from '../config-printing.js';
import { createHash, randomUUID } from 'node:crypto';
import { diag } from '@opentelemetry/api';
import { dynamicRulesToWire, parseDynamicRules, type DynamicRules } from '../models/dynamic-rules.js';
import type { RedisClientLike } from '../queue/redis-connection.js';
import type { RulesFetchResult } from '../transport/types.js';
import { sanitizeRules, type RuleProblem, type SanitizeOptions } from './rules-sanitizer.js';
import { RulesShare, type SharedRulesEntry } from './rules-share.js';
import { rulesShareKey } from './shared-entry-mac.js';

export interface RulesSource {
  fetchRules(etag?: string): Promise<RulesFetchResult>;
}

/** `rules` is null when the rules in force expired. */
export type RulesListener = (rules: DynamicRules | null, previous: DynamicRules | null) => void;

export interface RulePollerOptions {
  source: RulesSource;
  projectId: string;
  /** Seconds between polls (the config's `dynamicRuleInterval`, >= 60 there). */
  intervalSeconds: number;
  /**
   * Milliseconds between polls, overriding `intervalSeconds` without its
   * minimum. For tests and benches; not part of AgentConfig.
   */
  intervalMs?: number;
  /** Relative jitter of each delay; default 0.1 (±10%). */
  jitter?: number;
  /** Redis key prefix; default `guard_agent` (the queue's). */
  redisPrefix?: string;
  /**
   * The agent's API key: entries shared through Redis are signed with a key
   * derived from it, so only instances holding it can feed each other rules.
   * Without it, `setRedis` does not share (this instance fetches on its own).
   */
  apiKey?: string;
  /** Longest wait for one Redis command; default 500 ms. */
  redisTimeoutMs?: number;
  sanitize?: SanitizeOptions;
  now?: () => number;
}

export interface RulePollerStats {
  /** HTTP fetches made by this instance. */
  fetches: number;
  /** Polls answered by the Redis entry a sibling fetched (no HTTP). */
  sharedHits: number;
  /** Polls skipped because a sibling held the fetch lock. */
  lockedOut: number;
  /** Fetches made although the lock was held: no fresh result had appeared for two intervals (a sibling died mid-fetch, or the lock is held on purpose). */
  lockOverrides: number;
  notModified: number;
  /** Rulesets applied (changes), whatever their origin. */
  updates: number;
  /** Fetch errors (network, status, non-JSON). */
  failures: number;
  /** Payloads refused as a whole (wrong structure). */
  rejected: number;
  /** Rulesets ignored for coming from an older backend answer than the rules in force (a replayed or late shared entry, an overtaken fetch). */
  stale: number;
  /** Entries from Redis (cached or by pub/sub) ignored for lacking a valid MAC: forged, or from an agent that does not sign. */
  unauthenticated: number;
  /** Entries dropped by sanitizing, in the ruleset in force. */
  droppedEntries: number;
  lastUpdate: number | null;
  lastFetchAt: number | null;
}

const LOCK_MIN_MS = 2_000;
const LOCK_MAX_MS = 30_000;
/** How far ahead of our clock a sibling's `fetchedAt` may be (clock skew) before it counts as absurd. */
const MAX_CLOCK_AHEAD_MS = 60_000;
const UNAUTHENTICATED_WARN_EVERY_MS = 60_000;

/** Where a ruleset came from, and when the backend was asked for it (ms). */
interface Answer {
  origin: 'backend' | 'redis' | 'pubsub';
  askedAt: number;
}

export class RulePoller {
  private readonly source: RulesSource;
  private readonly projectId: string;
  private intervalMs: number;
  /** When this poller was built: before any answer, the lock is trusted for two intervals from here. */
  private readonly startedAt: number;
  private readonly jitter: number;
  private readonly prefix: string;
  private readonly redisTimeoutMs: number;
  private readonly sanitizeOptions: SanitizeOptions | undefined;
  private readonly now: () => number;
  private readonly instanceId = randomUUID();
  private readonly listeners = new Set<RulesListener>();
  private rules: DynamicRules | null = null;
  /** Canonical wire JSON of `rules`: what "changed" compares. */
  private rulesJson: string | null = null;
  private etag: string | undefined;
  /** When the backend was asked for the newest answer behind `rules` (ms), whoever asked. */
  private confirmedAt = 0;
  private shareKey: Buffer | undefined;
  private unauthenticatedWarnedAt = -Infinity;
  private share: RulesShare | null = null;
  private timer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private inflight: Promise<DynamicRules | null> | null = null;
  private running = false;
  private stopped = false;
  private lastReported: string | null = null;
  private problemsInForce: RuleProblem[] = [];
  readonly stats: RulePollerStats = {
    fetches: 0,
    sharedHits: 0,
    lockedOut: 0,
    lockOverrides: 0,
    notModified: 0,
    updates: 0,
    failures: 0,
    rejected: 0,
    stale: 0,
    unauthenticated: 0,
    droppedEntries: 0,
    lastUpdate: null,
    lastFetchAt: null,
  };

  constructor(options: RulePollerOptions) {
    keepOutOfPrint(this, 'shareKey');
    this.source = options.source;
    this.projectId = options.projectId;
    this.intervalMs = options.intervalMs ?? options.intervalSeconds * 1000;
    this.startedAt = (options.now ?? Date.now)();
    this.jitter = Math.min(0.5, Math.max(0, options.jitter ?? 0.1));
    this.prefix = options.redisPrefix ?? 'guard_agent';
    this.shareKey = typeof options.apiKey === 'string' && options.apiKey !== '' ? rulesShareKey(options.apiKey) : undefined;
    this.redisTimeoutMs = options.redisTimeoutMs ?? 500;
    this.sanitizeOptions = options.sanitize;
    this.now = options.now ?? Date.now;
  }

  // ---- what the app reads ---------------------------------------------------

  /** The rules in force, or null (none received yet, or expired). */
  current(): DynamicRules | null {
    const r = this.rules;
    if (r !== null && isExpired(r, this.now())) {
      this.expire();
      return null;
    }
    return r;
  }

  /** What sanitizing dropped from the rules in force. */
  get problems(): readonly RuleProblem[] {
    return this.problemsInForce;
  }

  /** The rules in force while within their `ttl`; otherwise a fetch first (the last good rules if it fails). Never throws. */
  async get(): Promise<DynamicRules | null> {
    const r = this.current();
    if (r !== null && this.now() - this.confirmedAt < r.ttl * 1000) return r;
    return this.poll(false);
  }

  /** Calls `listener(rules, previous)` on every change (and with null on expiry). Returns the unsubscribe function. */
  onRules(listener: RulesListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  // ---- lifecycle ------------------------------------------------------------

  /**
   * Polls every interval (jittered); with `immediate` (default true) also
   * right away. Idempotent.
   */
  start(immediate = true): void {
    if (this.running || this.stopped) return;
    this.running = true;
    if (immediate) void this.poll(false);
    this.schedule();
  }

  /** Stops polling until the next start() (the handler's projectId was removed); the rules in force stay. */
  pause(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.expiryTimer);
    const share = this.share;
    this.share = null;
    await share?.close();
  }

  /** Changes the poll interval (seconds); takes effect from the next poll. */
  setInterval(seconds: number): void {
    this.intervalMs = seconds * 1000;
    if (this.running) this.schedule();
  }

  /** The API key changed: shared entries are signed and checked with the key derived from the new one. */
  setApiKey(apiKey: string): void {
    this.shareKey = rulesShareKey(apiKey);
    this.share?.useSigningKey(this.shareKey);
  }

  /**
   * Shares fetches through this Redis client (an ioredis `Redis`/`Cluster`;
   * this class opens one duplicate connection for pub/sub). `undefined` stops
   * sharing. Needs `apiKey` (the entries' MAC key). Never throws.
   */
  async setRedis(client: RedisClientLike | undefined): Promise<void> {
    const old = this.share;
    this.share = null;
    await old?.close();
    if (client === undefined || this.stopped) return;
    if (this.shareKey === undefined) {
      diag.warn('guard-agent: rules are not shared through Redis without the apiKey option (shared entries are signed with a key derived from it); this instance fetches on its own');
      return;
    }
    try {
      this.share = new RulesShare({
        client,
        projectId: this.projectId,
        prefix: this.prefix,
        commandTimeoutMs: this.redisTimeoutMs,
        instanceId: this.instanceId,
        signingKey: this.shareKey,
        onEntry: (entry) => this.applyShared(entry, 'pubsub'),
        onUnauthenticated: (origin) => this.countUnauthenticated(origin),
      });
    } catch (err) {
      diag.warn(`guard-agent: rules sharing through Redis not set up: ${(err as Error).message}`);
    }
  }

  /** Resolves once siblings' changes can be heard (immediately without Redis). */
  async whenShared(): Promise<void> {
    await this.share?.subscribed;
  }

  /**
   * Fetches now, even if a sibling fetched recently (still one fetch at a
   * time across instances). Concurrent callers share it. Never throws.
   */
  pollNow(): Promise<DynamicRules | null> {
    return this.poll(true);
  }

  /** One poll at a time; `force` skips the "a sibling fetched recently" shortcut. */
  private poll(force: boolean): Promise<DynamicRules | null> {
    this.inflight ??= this.pollOnce(force)
      .catch((err: unknown) => {
        diag.error(`guard-agent: rules poll failed: ${(err as Error)?.message ?? String(err)}`);
        return this.current();
      })
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }

  /** Alias of `pollNow()`. */
  refresh(): Promise<DynamicRules | null> {
    return this.pollNow();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (!this.running) return;
    const delay = Math.max(1, Math.round(this.intervalMs * (1 + (Math.random() * 2 - 1) * this.jitter)));
    this.timer = setTimeout(() => {
      void this.poll(false).finally(() => this.schedule());
    }, delay);
    this.timer.unref();
  }

  // ---- one poll -------------------------------------------------------------

  private async pollOnce(force: boolean): Promise<DynamicRules | null> {
    const share = this.share;
    if (share === null) {
      await this.fetch(null);
      return this.current();
    }
    // A sibling fetched recently enough: use its result, no HTTP. Half an
    // interval is wider than the jitter spread, so with any number of
    // instances the backend sees about one fetch per interval.
    const cached = await share.read();
    if (!force && cached !== null && this.now() - this.sharedAskedAt(cached) < this.intervalMs / 2) {
      this.stats.sharedHits++;
      this.applyShared(cached, 'redis');
      return this.current();
    }
    const token = await share.lock(Math.min(LOCK_MAX_MS, Math.max(LOCK_MIN_MS, this.intervalMs / 2)));
    if (token === null && this.freshestAnswerAge(cached) > 2 * this.intervalMs) {
      // The lock only saves duplicate fetches. Held while no fresh answer appears (a sibling that died
      // mid-fetch, or anyone who can write to Redis holding it on purpose), it must not freeze the rules.
      this.stats.lockOverrides++;
      await this.fetch(share);
      return this.current();
    }
    if (token === null) {
      // A sibling is fetching; its result arrives by pub/sub (or the next poll).
      this.stats.lockedOut++;
      if (cached !== null) this.applyShared(cached, 'redis');
      return this.current();
    }
    // Start from the shared entry, so the conditional GET can be answered with a 304.
    if (cached !== null) this.applyShared(cached, 'redis');
    try {
      await this.fetch(token === 'unavailable' ? null : share);
    } finally {
      if (token !== 'unavailable') await share.unlock(token);
    }
    return this.current();
  }

  private async fetch(share: RulesShare | null): Promise<void> {
    this.stats.fetches++;
    // Answers are ordered by when they were asked for: a slow answer to an earlier request is the older one.
    const askedAt = this.now();
    this.stats.lastFetchAt = askedAt;
    let res: RulesFetchResult;
    try {
      res = await this.source.fetchRules(this.rules !== null ? this.etag : undefined);
    } catch (err) {
      res = { status: 'error', error: (err as Error)?.message ?? String(err) };
    }
    switch (res.status) {
      case 'ok': {
        const applied = this.accept(res.body, res.etag, { origin: 'backend', askedAt });
        if (applied !== null && share !== null) {
          await share.write({ body: applied.wire, ...(res.etag === undefined ? {} : { etag: res.etag }), fetchedAt: askedAt }, applied.changed);
        }
        return;
      }
      case 'not_modified':
        this.stats.notModified++;
        this.confirm(askedAt);
        if (share !== null && this.rules !== null) {
          await share.write({ body: dynamicRulesToWire(this.rules), ...(this.etag === undefined ? {} : { etag: this.etag }), fetchedAt: askedAt }, false);
        }
        return;
      case 'none':
        // No rules for this project: keep what is in force (an operator lifts rules by publishing an empty ruleset).
        this.confirm(askedAt);
        return;
      case 'error':
        this.stats.failures++;
        diag.warn(`guard-agent: rules fetch failed, keeping the rules in force: ${res.error}`);
        return;
    }
  }

  private applyShared(entry: SharedRulesEntry, origin: 'redis' | 'pubsub'): void {
    this.accept(entry.body, entry.etag, { origin, askedAt: this.sharedAskedAt(entry) });
  }

  /** How long ago the freshest backend answer this instance knows of was asked for (its own fetch or the shared entry); from the start at first. */
  private freshestAnswerAge(cached: SharedRulesEntry | null): number {
    const newest = Math.max(this.startedAt, this.stats.lastFetchAt ?? 0, cached === null ? 0 : this.sharedAskedAt(cached));
    return this.now() - newest;
  }

  /** A shared entry's `fetchedAt`, at most now; beyond clock skew in the future it is absurd and counts as 0 (stale). */
  private sharedAskedAt(entry: SharedRulesEntry): number {
    const at = entry.fetchedAt;
    const now = this.now();
    if (!Number.isFinite(at) || at < 0 || at > now + MAX_CLOCK_AHEAD_MS) return 0;
    return Math.min(at, now);
  }

  private confirm(askedAt: number): void {
    this.confirmedAt = Math.max(this.confirmedAt, askedAt);
  }

  /**
   * Why an answer that differs from the rules in force must not replace them,
   * or null. Answers are ordered by when the backend was asked for them; the
   * version is no guide on its own, since a rollback lowers it.
   */
  private staleReason(prev: DynamicRules | null, answer: Answer): string | null {
    const inForce = prev === null ? 'the rules in force' : `v${prev.version} in force`;
    if (answer.origin === 'backend') {
      // Authoritative, unless a sibling's answer to a later request already brought what is in force.
      return prev !== null && answer.askedAt < this.confirmedAt ? `a newer answer (${inForce}) arrived while this one was on its way` : null;
    }
    // A shared entry is a sibling's answer: it wins only if it is newer than every answer behind the rules in force.
    // So a rollback a sibling fetched applies here too, and a replayed old entry (higher version or not) does not.
    return answer.askedAt <= this.confirmedAt ? `not newer than the backend answer behind ${inForce}` : null;
  }

  private countUnauthenticated(origin: 'redis' | 'pubsub'): void {
    this.stats.unauthenticated++;
    const now = this.now();
    if (now - this.unauthenticatedWarnedAt < UNAUTHENTICATED_WARN_EVERY_MS) return;
    this.unauthenticatedWarnedAt = now;
    diag.warn(
      `guard-agent: ignored a rules entry from ${origin} without a valid signature (${this.stats.unauthenticated} so far): not written by an agent holding this project's API key (forged, or from an agent version that does not sign); this instance fetches the rules itself`,
    );
  }

  /**
   * Validates `body` and applies it if it is new. Returns the validated wire
   * form (and whether it changed anything), or null when it was refused.
   */
  private accept(body: unknown, etag: string | undefined, answer: Answer): { wire: Record<string, unknown>; changed: boolean } | null {
    const origin = answer.origin;
    let parsed: DynamicRules;
    try {
      parsed = parseDynamicRules(body, new Date(this.now()));
    } catch (err) {
      this.stats.rejected++;
      this.reportOnce(`rejected:${digest(body)}`, () => `guard-agent: ignored an invalid rules payload from ${origin} (keeping the rules in force): ${(err as Error).message}`);
      return null;
    }
    const { rules, problems } = sanitizeRules(parsed, this.sanitizeOptions);
    const prev = this.current();
    const wire = dynamicRulesToWire(rules);
    // `timestamp` defaults to "now" when the payload has none: leave it out of the comparison.
    const json = JSON.stringify({ ...wire, timestamp: null });
    if (json === this.rulesJson) {
      this.confirm(answer.askedAt);
      if (etag !== undefined) this.etag = etag;
      return { wire, changed: false };
    }
    const stale = this.staleReason(prev, answer);
    if (stale !== null) {
      this.stats.stale++;
      this.reportOnce(`stale:${origin}:${rules.ruleId}:${rules.version}`, () => `guard-agent: ignored rules ${rules.ruleId} v${rules.version} from ${origin}: ${stale}`);
      return null;
    }
    if (isExpired(rules, this.now())) {
      this.stats.rejected++;
      this.reportOnce(`expired:${rules.ruleId}:${rules.version}:${rules.expiresAt}`, () => `guard-agent: ignored rules ${rules.ruleId} v${rules.version} from ${origin}: expired at ${rules.expiresAt}`);
      return null;
    }
    this.confirm(answer.askedAt);
    if (problems.length > 0) {
      const shown = problems.slice(0, 10).map((p) => `${p.field} ${JSON.stringify(p.value)}: ${p.reason}`);
      const more = problems.length > 10 ? `; and ${problems.length - 10} more` : '';
      this.reportOnce(`problems:${digest(json)}`, () => `guard-agent: rules ${rules.ruleId} v${rules.version}: ${problems.length} invalid entries dropped or repaired, the rest applies: ${shown.join('; ')}${more}`);
    }
    this.rules = rules;
    this.rulesJson = json;
    this.etag = etag;
    this.problemsInForce = problems;
    this.stats.droppedEntries = problems.length;
    this.stats.updates++;
    this.stats.lastUpdate = this.now();
    this.scheduleExpiry(rules);
    this.notify(rules, prev);
    return { wire, changed: true };
  }

  private reportOnce(key: string, message: () => string): void {
    if (key === this.lastReported) return;
    this.lastReported = key;
    diag.warn(message());
  }

  private scheduleExpiry(rules: DynamicRules): void {
    clearTimeout(this.expiryTimer);
    if (rules.expiresAt === null) return;
    const ms = Date.parse(rules.expiresAt) - this.now();
    // setTimeout holds at most ~24.8 days; a later expiry is caught by current() or the next poll.
    if (!(ms > 0) || ms > 2 ** 31 - 1) return;
    this.expiryTimer = setTimeout(() => this.current(), ms + 1);
    this.expiryTimer.unref();
  }

  private expire(): void {
    const prev = this.rules;
    if (prev === null) return;
    diag.info(`guard-agent: rules ${prev.ruleId} v${prev.version} expired at ${prev.expiresAt}; no rules in force until the backend sends new ones`);
    this.rules = null;
    this.rulesJson = null;
    this.etag = undefined;
    this.problemsInForce = [];
    this.notify(null, prev);
  }

  private notify(rules: DynamicRules | null, prev: DynamicRules | null): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(rules, prev);
      } catch (err) {
        diag.error(`guard-agent: a rules listener threw: ${(err as Error)?.message ?? String(err)}`);
      }
    }
  }
}

function isExpired(rules: DynamicRules, now: number): boolean {
  return rules.expiresAt !== null && Date.parse(rules.expiresAt) <= now;
}

function digest(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return createHash('sha1').update(text).digest('base64url');
}
