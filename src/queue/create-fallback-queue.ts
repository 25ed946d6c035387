/**
 * Picks the fallback queue for a configuration: Redis when a client, a
 * guard-core RedisManager, a URL or a cluster's seed nodes are given, memory
 * otherwise.
 */
import type { AgentConfig } from '../config-types.js';
import type { FallbackQueue } from './fallback-queue.js';
import { defaultInstanceId } from './instance-id.js';
import { MemoryFallbackQueue, type MemoryFallbackQueueOptions } from './memory-fallback-queue.js';
import { RedisFallbackQueue, type RedisFallbackQueueOptions } from './redis-fallback-queue.js';
import { hasRedisTarget, type RedisSource } from './redis-connection.js';

export interface FallbackQueueConfig extends Omit<RedisFallbackQueueOptions, 'client' | 'url' | 'clusterNodes' | 'projectId' | 'memoryFallback'> {
  projectId?: string | null;
  redisClient?: RedisSource | null;
  redisUrl?: string | null;
  /** Seed node URLs of a Redis Cluster (the agent's `redisClusterNodes`). */
  redisClusterNodes?: readonly string[] | null;
  /** Bounds of the memory queue (the whole queue without Redis; the fallback with it). */
  memory?: MemoryFallbackQueueOptions;
}

export function createFallbackQueue(config: FallbackQueueConfig = {}): FallbackQueue {
  const { redisClient, redisUrl, redisClusterNodes, memory, projectId, ...redisOptions } = config;
  const memoryQueue = new MemoryFallbackQueue(memory);
  if (!redisClient && !hasRedisTarget({ redisUrl, redisClusterNodes })) return memoryQueue;
  return new RedisFallbackQueue({
    ...redisOptions,
    projectId: projectId ?? 'default',
    client: redisClient ?? undefined,
    url: redisClient ? undefined : (redisUrl ?? undefined),
    clusterNodes: redisClient || !redisClusterNodes?.length ? undefined : redisClusterNodes,
    memoryFallback: memoryQueue,
  });
}

/** The queue options an agent configuration asks for (Redis from `redisUrl` or `redisClusterNodes` unless a client is given). */
export function fallbackQueueConfigFrom(
  config: Pick<AgentConfig, 'projectId' | 'redisUrl' | 'redisClusterNodes' | 'queue' | 'instanceId' | 'installId'>,
  redisClient?: RedisSource | null,
): FallbackQueueConfig {
  const q = config.queue;
  return {
    projectId: config.projectId,
    redisClient: redisClient ?? null,
    redisUrl: redisClient ? null : config.redisUrl,
    redisClusterNodes: redisClient ? null : config.redisClusterNodes,
    prefix: q.prefix,
    instanceId: defaultInstanceId({ instanceId: config.instanceId, installId: config.installId }),
    maxEntries: q.maxEntries,
    maxBytes: q.maxBytes,
    retentionMs: q.retentionMs,
    leaseMs: q.leaseMs,
    commandTimeoutMs: q.commandTimeoutMs,
    memory: { maxBatches: q.memoryMaxBatches, maxBytes: q.memoryMaxBytes },
  };
}
