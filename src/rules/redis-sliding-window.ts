/**
 * RedisSlidingWindow: the sliding-window counter of `sliding-window.ts`,
 * shared by every process of a project through Redis.
 *
 * One Lua script per hit reads and updates a two-bucket hash atomically, so
 * concurrent instances never lose an increment. Keys are
 * `{prefix}:{<projectId>}:rl:<key>`: the hash tag keeps one project's keys in
 * one cluster slot. The bucket clock is Redis's `TIME` (one clock for all
 * instances, so host clock skew does not move bucket edges) unless the
 * caller passes `now` (tests, replays).
 *
 * Fail open: rate limiting must never take the app down with Redis. When the
 * client is not connected, a command errors, or it does not answer within
 * `commandTimeoutMs`, the hit goes to an in-process `MemorySlidingWindow`
 * instead (per-instance limits, better than none) and is counted in `stats`.
 * Diagnostics are logged once per outage, not once per request.
 */
import { keepOutOfPrint } from '../config-printing.js';
import { createHash } from 'node:crypto';
import { diag } from '@opentelemetry/api';
import type { Cluster, Redis } from 'ioredis';
import { GuardAgentValidationError } from '../errors.js';
import { MemorySlidingWindow, type HitResult, type SlidingWindowLimiter } from './sliding-window.js';

export interface RedisSlidingWindowOptions {
  /** An ioredis client owned by the caller (this class never closes it). */
  client: Redis | Cluster;
  projectId: string;
  /** Key prefix; default `guard`. */
  prefix?: string;
  /** Longest wait for Redis before falling back to memory; default 50 ms. */
  commandTimeoutMs?: number;
  /**
   * After a timeout, requests use memory at once for this long, then one
   * request tries Redis again (the others stay on memory until it answers);
   * default 1000 ms. A Redis that hangs with its connection up would
   * otherwise cost every request the whole command timeout.
   */
  retryAfterTimeoutMs?: number;
  /** Limiter used while Redis is unavailable; default a new MemorySlidingWindow. */
  fallback?: MemorySlidingWindow;
}

export interface RedisSlidingWindowStats {
  redisHits: number;
  fallbacks: number;
  errors: number;
  timeouts: number;
}

/**
 * KEYS[1] hash {b: bucket index, c: current count, p: previous count}
 * ARGV limit, windowMs, now ('' = Redis TIME). Returns {allowed, retryMs, count}.
 */
export const SLIDING_WINDOW_LUA = `
local limit = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local bucket = math.floor(now / w)
local h = redis.call('HMGET', KEYS[1], 'b', 'c', 'p')
local b = tonumber(h[1])
local c = tonumber(h[2]) or 0
local p = tonumber(h[3]) or 0
if b ~= bucket then
  if b == bucket - 1 then p = c else p = 0 end
  c = 0
end
local elapsed = now - bucket * w
local estimate = p * (w - elapsed) / w + c
if estimate + 1 > limit then
  local retry
  if c + 1 > limit then
    local decay = 0
    if c > 0 then decay = w * (1 - (limit - 1) / c) end
    if decay < 0 then decay = 0 end
    retry = math.ceil(w - elapsed + decay)
  else
    retry = math.ceil(w * (1 - (limit - 1 - c) / p) - elapsed)
  end
  if retry < 1 then retry = 1 end
  return {0, retry, math.ceil(estimate)}
end
c = c + 1
redis.call('HSET', KEYS[1], 'b', bucket, 'c', c, 'p', p)
-- PEXPIRE takes whole milliseconds: a window like 2.00025 s (2000.25 ms) made it error.
redis.call('PEXPIRE', KEYS[1], math.ceil(w * 2))
return {1, 0, math.ceil(estimate + 1)}
`;

const SCRIPT_SHA = createHash('sha1').update(SLIDING_WINDOW_LUA).digest('hex');

class RedisTimeout extends Error {}

export class RedisSlidingWindow implements SlidingWindowLimiter {
  readonly stats: RedisSlidingWindowStats = { redisHits: 0, fallbacks: 0, errors: 0, timeouts: 0 };
  private readonly client: Redis | Cluster;
  private readonly keyPrefix: string;
  private readonly timeoutMs: number;
  private readonly fallback: MemorySlidingWindow;
  private degraded = false;
  private readonly retryAfterTimeoutMs: number;
  /** After a timeout: until then, straight to memory. */
  private skipUntil = 0;
  /** One request is trying Redis again after a timeout. */
  private probing = false;

  constructor(options: RedisSlidingWindowOptions) {
    keepOutOfPrint(this, 'client');
    const prefix = options.prefix ?? 'guard';
    const problems = [];
    if (typeof options.projectId !== 'string' || !options.projectId || /[{}]/.test(options.projectId)) {
      problems.push({ field: 'projectId', message: 'must be a non-empty string without braces (it is the Redis hash tag)' });
    }
    if (typeof prefix !== 'string' || /[{}]/.test(prefix)) problems.push({ field: 'prefix', message: 'must be a string without braces' });
    const timeout = options.commandTimeoutMs ?? 50;
    if (!(typeof timeout === 'number' && timeout > 0 && Number.isFinite(timeout))) problems.push({ field: 'commandTimeoutMs', message: 'must be a positive number' });
    if (problems.length) throw new GuardAgentValidationError(problems, 'RedisSlidingWindow options');
    this.client = options.client;
    this.keyPrefix = `${prefix}:{${options.projectId}}:rl:`;
    this.timeoutMs = timeout;
    this.retryAfterTimeoutMs = options.retryAfterTimeoutMs ?? 1000;
    this.fallback = options.fallback ?? new MemorySlidingWindow();
  }

  /** The Redis key used for a limiter key (tests and cleanup). */
  redisKey(key: string): string {
    return this.keyPrefix + key;
  }

  async hit(key: string, limit: number, windowMs: number, now?: number): Promise<HitResult> {
    if (this.client.status !== 'ready') return this.fallBack('not connected', key, limit, windowMs, now);
    const afterTimeout = this.skipUntil !== 0;
    if (afterTimeout && (this.probing || Date.now() < this.skipUntil)) return this.fallBack('waiting to retry after a timeout', key, limit, windowMs, now);
    if (afterTimeout) this.probing = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      const reply = (await Promise.race([
        this.run(this.redisKey(key), limit, windowMs, now),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new RedisTimeout()), this.timeoutMs);
          timer.unref();
        }),
      ])) as [number, number, number];
      this.stats.redisHits++;
      this.skipUntil = 0;
      if (this.degraded) {
        this.degraded = false;
        diag.info('guard rate limiter: Redis answers again; limits are shared across instances');
      }
      return { allowed: reply[0] === 1, retryAfterMs: Number(reply[1]), count: Number(reply[2]) };
    } catch (err) {
      if (err instanceof RedisTimeout) {
        this.stats.timeouts++;
        this.skipUntil = Date.now() + this.retryAfterTimeoutMs;
        return this.fallBack(`no answer within ${this.timeoutMs} ms`, key, limit, windowMs, now);
      }
      this.stats.errors++;
      return this.fallBack((err as Error)?.message ?? String(err), key, limit, windowMs, now);
    } finally {
      clearTimeout(timer);
      if (afterTimeout) this.probing = false;
    }
  }

  private async run(redisKey: string, limit: number, windowMs: number, now?: number): Promise<unknown> {
    const args = [redisKey, String(limit), String(windowMs), now === undefined ? '' : String(Math.floor(now))];
    try {
      return await this.client.evalsha(SCRIPT_SHA, 1, ...args);
    } catch (err) {
      if (!String((err as Error)?.message).includes('NOSCRIPT')) throw err;
      return await this.client.eval(SLIDING_WINDOW_LUA, 1, ...args);
    }
  }

  private fallBack(reason: string, key: string, limit: number, windowMs: number, now?: number): HitResult {
    this.stats.fallbacks++;
    if (!this.degraded) {
      this.degraded = true;
      diag.warn(`guard rate limiter: Redis unavailable (${reason}); limiting in memory per instance until it answers`);
    }
    return this.fallback.hit(key, limit, windowMs, now);
  }
}
