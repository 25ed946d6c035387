/**
 * How the Redis queue gets and talks to its connection, without ever letting
 * Redis stall the caller:
 *
 * - from a URL it builds its own fail-fast ioredis client (no offline queue,
 *   one retry per request, command and connect timeouts, reconnecting in the
 *   background with a bounded delay forever); from the seed node URLs of a
 *   Redis Cluster, a `Cluster` with the same policy (see
 *   `createFailFastCluster`);
 * - a user's ioredis `Redis` / `Cluster` keeps its own options, so every call
 *   is raced against a timeout instead;
 * - guard-core's `RedisManager` (the `RedisHandlerProtocol`) hands its
 *   connection out through `getConnection()`, either the client itself or a
 *   disposable wrapper exposing `.client`.
 */
import { createHash } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { parseClusterNodes } from './redis-cluster-nodes.js';

export type RedisClientLike = Redis | Cluster;

/** The parts of guard-core's `RedisHandlerProtocol` the queue uses. */
export interface RedisHandlerLike {
  getConnection(): unknown;
}

export type RedisSource = RedisClientLike | RedisHandlerLike;

export function isRedisHandler(value: unknown): value is RedisHandlerLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as RedisHandlerLike).getConnection === 'function' &&
    typeof (value as { evalsha?: unknown }).evalsha !== 'function'
  );
}

function looksLikeClient(value: unknown): value is RedisClientLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { evalsha?: unknown }).evalsha === 'function' &&
    typeof (value as { on?: unknown }).on === 'function'
  );
}

/** What `initializeRedis` can use: an ioredis `Redis` / `Cluster`, or a handler handing one out. */
export function isRedisSource(value: unknown): value is RedisSource {
  return isRedisHandler(value) || looksLikeClient(value);
}

/** The ioredis client behind a handler, or null while it has none (not initialised yet). */
export function clientFromHandler(handler: RedisHandlerLike): RedisClientLike | null {
  let connection: unknown;
  try {
    connection = handler.getConnection();
  } catch {
    return null;
  }
  if (looksLikeClient(connection)) return connection;
  const inner = (connection as { client?: unknown } | null | undefined)?.client;
  return looksLikeClient(inner) ? inner : null;
}

export interface FailFastOptions {
  commandTimeoutMs: number;
  connectTimeoutMs: number;
}

/** Longest pause between two reconnect attempts of a client the queue owns. */
export const MAX_RECONNECT_DELAY_MS = 5000;

/** Exponential, capped at MAX_RECONNECT_DELAY_MS, with jitter so a fleet does not reconnect in lockstep. */
function reconnectDelay(times: number): number {
  return Math.round(Math.min(100 * 2 ** Math.min(times, 6), MAX_RECONNECT_DELAY_MS) * (0.5 + Math.random() / 2));
}

export function createFailFastClient(url: string, options: FailFastOptions): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: options.connectTimeoutMs,
    // Keep trying in the background, never more than MAX_RECONNECT_DELAY_MS apart.
    retryStrategy: reconnectDelay,
  });
}

/**
 * A `Cluster` from seed node URLs (`redis://[user[:password]@]host:port`,
 * `rediss://` for TLS), failing as fast as `createFailFastClient`:
 *
 * - no offline queue at the cluster level: while the cluster is not ready
 *   (connecting, or every node lost) a command is refused at once instead of
 *   piling up to run late; once it is ready, ioredis still routes, follows
 *   MOVED/ASK and retries a node that is just connecting, as it must;
 * - the node connections get the single-node client's command and connect
 *   timeouts and one retry per request (ioredis itself never reconnects a
 *   lost node: it refreshes the slots and reconnects the cluster);
 * - the whole cluster reconnects forever with the single-node client's
 *   backoff (jittered, never more than MAX_RECONNECT_DELAY_MS apart);
 * - one slots refresh waits at most the connect timeout per node tried.
 *
 * @throws GuardAgentValidationError when a URL is not a seed node URL.
 */
export function createFailFastCluster(urls: readonly string[], options: FailFastOptions): Cluster {
  const seeds = parseClusterNodes(urls);
  return new Cluster(seeds.nodes, {
    enableOfflineQueue: false,
    clusterRetryStrategy: reconnectDelay,
    slotsRefreshTimeout: options.connectTimeoutMs,
    // With TLS, keep the seed's host name: the certificate names it, not the address it resolves to (ioredis's advice for TLS clusters).
    ...(seeds.tls ? { dnsLookup: (address: string, callback: (err: Error | null, address: string) => void) => callback(null, address) } : {}),
    redisOptions: {
      maxRetriesPerRequest: 1,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: options.connectTimeoutMs,
      ...(seeds.username === undefined ? {} : { username: seeds.username }),
      ...(seeds.password === undefined ? {} : { password: seeds.password }),
      ...(seeds.tls ? { tls: {} } : {}),
    },
  });
}

/** Where a client the agent owns connects: one server (`redisUrl`) or the seed nodes of a cluster (`redisClusterNodes`). */
export interface RedisTarget {
  redisUrl?: string | null;
  redisClusterNodes?: readonly string[] | null;
}

/** True when the target names a server or a cluster. */
export function hasRedisTarget(target: RedisTarget): boolean {
  return Boolean(target.redisUrl) || (target.redisClusterNodes?.length ?? 0) > 0;
}

/** The fail-fast client for `target` (a `Cluster` when it has seed nodes), or null when it names none. */
export function createOwnedClient(target: RedisTarget, options: FailFastOptions): RedisClientLike | null {
  if (target.redisClusterNodes && target.redisClusterNodes.length > 0) return createFailFastCluster(target.redisClusterNodes, options);
  if (target.redisUrl) return createFailFastClient(target.redisUrl, options);
  return null;
}

export class RedisTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`Redis ${what} took longer than ${ms} ms`);
    this.name = 'RedisTimeoutError';
  }
}

/** Rejects with `RedisTimeoutError` after `ms`; the timer never keeps the process alive. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisTimeoutError(what, ms)), ms);
    timer.unref();
  });
  // A late rejection of the raced command must not surface as unhandled.
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `maxmemory` reached with `noeviction`. */
export function isOomError(error: unknown): boolean {
  return /^OOM\b/.test(errorMessage(error));
}

/** Errors that say "Redis is not reachable right now" (as opposed to a bad command or a full Redis). */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof RedisTimeoutError) return true;
  const message = errorMessage(error);
  return /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|Command timed out|max retries per request|LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|READONLY|None of startup nodes|Failed to refresh slots|Cluster isn't ready|Cluster is ended/i.test(
    message,
  );
}

export interface LuaScript {
  source: string;
  sha: string;
}

export function luaScript(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/** EVALSHA, falling back to EVAL when Redis does not know the script (first use, after a restart or SCRIPT FLUSH). */
export async function runScript(
  client: RedisClientLike,
  script: LuaScript,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!/NOSCRIPT/.test(errorMessage(error))) throw error;
    return await client.eval(script.source, keys.length, ...keys, ...args);
  }
}
