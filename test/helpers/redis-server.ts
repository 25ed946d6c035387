/**
 * A real, throw-away redis-server for tests that kill, restart or reconfigure
 * Redis (never do that to the shared one on 6379). No persistence
 * (`--save '' --appendonly no`), so a restart loses everything, like a cache
 * Redis in production.
 *
 *   const redis = await startRedisServer({ args: ['--maxmemory', '1mb'] });
 *   redis.url; await redis.kill9(); await redis.restart(); await redis.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServerOptions {
  /** Extra redis-server arguments, e.g. `['--maxmemory', '1mb', '--maxmemory-policy', 'noeviction']`. */
  args?: string[];
  /** Binary to run. Default `redis-server` (from PATH). */
  binary?: string;
  /** Port to listen on. Default a free one (`freePort()`). */
  port?: number;
}

export interface RedisServerHandle {
  readonly port: number;
  readonly url: string;
  /** True between a successful start/restart and kill9/stop. */
  readonly running: boolean;
  /** SIGKILL: no shutdown, no save; clients see the connection drop. */
  kill9(): Promise<void>;
  /** Starts it again on the same port (empty, since nothing persists). */
  restart(): Promise<void>;
  /** Kills it (if running) and removes its working directory. */
  stop(): Promise<void>;
  /** Sends one command over a raw socket, returns the raw RESP reply (for CONFIG SET, FLUSHALL, ...). */
  command(...args: string[]): Promise<string>;
}

/** A TCP port nothing listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function encode(args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
}

/** One command over a fresh socket; resolves with the first reply line(s) received. */
function rawCommand(port: number, args: string[], timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis-server on ${port} did not answer ${args[0]}`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(encode(args)));
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      if (data.endsWith('\r\n')) {
        clearTimeout(timer);
        socket.end();
        resolve(data);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'guard-redis-'));
  let child: ChildProcess | null = null;

  const launch = async (): Promise<void> => {
    const proc = spawn(
      options.binary ?? 'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...(options.args ?? [])],
      { stdio: 'ignore' },
    );
    child = proc;
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + 5000;
    for (;;) {
      if (exited) throw new Error(`redis-server exited at start on port ${port}`);
      try {
        if ((await rawCommand(port, ['PING'], 200)).startsWith('+PONG')) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on port ${port}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== null;
    },
    kill9: kill,
    async restart() {
      await kill();
      await launch();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    command: (...args: string[]) => rawCommand(port, args),
  };
}
