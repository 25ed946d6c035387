/**
 * Mocha hooks for a suite on a throw-away redis-server of its own (call it in
 * a `describe`): the server is started before the suite and stopped after,
 * with an admin client to it; queues pushed to `queues` are detached after
 * each test.
 */
import { Redis } from 'ioredis';
import type { RedisFallbackQueue } from '../../src/queue/redis-fallback-queue.js';
import { startRedisServer, type RedisServerHandle } from './redis-server.js';

export interface OwnRedisServer {
  readonly server: RedisServerHandle;
  readonly admin: Redis;
  readonly queues: RedisFallbackQueue[];
}

export function withOwnRedisServer(): OwnRedisServer {
  let server: RedisServerHandle | undefined;
  let admin: Redis | undefined;
  const queues: RedisFallbackQueue[] = [];
  before(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterEach(() => {
    for (const q of queues.splice(0)) q.detach();
  });
  after(async () => {
    admin?.disconnect();
    await server?.stop();
  });
  return {
    get server() {
      if (!server) throw new Error('the redis-server is started in before()');
      return server;
    },
    get admin() {
      if (!admin) throw new Error('the admin client is made in before()');
      return admin;
    },
    queues,
  };
}
