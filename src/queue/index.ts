export type { FallbackQueue, QueuedBatch, QueueStats } from './fallback-queue.js';
export { approximateBatchBytes } from './fallback-queue.js';
export { MemoryFallbackQueue, type MemoryFallbackQueueOptions } from './memory-fallback-queue.js';
export { RedisFallbackQueue, type RedisFallbackQueueOptions } from './redis-fallback-queue.js';
export type { RedisClientLike, RedisHandlerLike, RedisSource } from './redis-connection.js';
export { queueKeys, type QueueKeys, type InstanceKeys } from './redis-keys.js';
export { createFallbackQueue, fallbackQueueConfigFrom, type FallbackQueueConfig } from './create-fallback-queue.js';
export { defaultInstanceId, workerKey } from './instance-id.js';
