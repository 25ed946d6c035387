/**
 * A real, throw-away Redis Cluster for tests: three masters, no replicas,
 * each a `startRedisServer` node (same no-persistence setup, same cleanup)
 * started with cluster mode on, then joined with `redis-cli --cluster create`.
 *
 *   const cluster = await startRedisCluster();
 *   new Cluster(cluster.startupNodes); await cluster.portOfSlot(slot);
 *   await cluster.moveSlot(slot, toPort); await cluster.stop();
 *
 * Each node gets its own free cluster-bus port (`--cluster-port`): the
 * default `port + 10000` would be out of range for the OS's high ephemeral
 * ports, or taken.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort, startRedisServer, type RedisServerHandle } from './redis-server.js';

const run = promisify(execFile);

export interface RedisClusterHandle {
  /** The masters, in the order their slot ranges were assigned (0-5460, 5461-10922, 10923-16383). */
  readonly nodes: RedisServerHandle[];
  /** For `new Cluster(startupNodes)`. */
  readonly startupNodes: { host: string; port: number }[];
  /** `CLUSTER KEYSLOT key`, asked of the cluster itself. */
  keyslot(key: string): Promise<number>;
  /** Port of the master serving `slot`, from `CLUSTER NODES`. */
  portOfSlot(slot: number): Promise<number>;
  /** Moves `slot` and its keys to the master on `toPort`, the way a resharding does (IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE). */
  moveSlot(slot: number, toPort: number): Promise<void>;
  /** Resolves once every node says cluster_state:ok and sees every other node connected, not failing (after a restart). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every node and removes their working directories. */
  stop(): Promise<void>;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

/** slot ranges per port, parsed from `CLUSTER NODES` (`<id> <ip:port@bus> <flags> ... <from-to> <slot> ...`). */
function parseSlots(nodesOutput: string): Map<number, [number, number][]> {
  const owners = new Map<number, [number, number][]>();
  for (const line of nodesOutput.split('\n')) {
    const fields = line.trim().split(' ');
    if (fields.length < 9 || !fields[2].includes('master')) continue;
    const port = Number(/:(\d+)@/.exec(fields[1])?.[1]);
    const ranges: [number, number][] = [];
    for (const spec of fields.slice(8)) {
      if (spec.startsWith('[')) continue; // a slot being migrated
      const [from, to = from] = spec.split('-').map(Number);
      ranges.push([from, to]);
    }
    owners.set(port, ranges);
  }
  return owners;
}

export async function startRedisCluster(masters = 3): Promise<RedisClusterHandle> {
  const nodes: RedisServerHandle[] = [];
  const healthy = async (port: number): Promise<boolean> => {
    if (!(await cli(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
    const lines = (await cli(port, 'CLUSTER', 'NODES')).split('\n').filter((l) => l.trim() !== '');
    return lines.length === nodes.length && lines.every((l) => !/fail/.test(l.split(' ')[2]) && / connected\b/.test(l));
  };
  const waitHealthy = async (timeoutMs = 10_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (const node of nodes) {
      while (!(await healthy(node.port))) {
        if (Date.now() > deadline) throw new Error(`cluster node ${node.port} not healthy after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    const used = new Set<number>();
    const distinctPort = async (): Promise<number> => {
      for (;;) {
        const port = await freePort();
        if (!used.has(port)) {
          used.add(port);
          return port;
        }
      }
    };
    for (let i = 0; i < masters; i++) {
      const port = await distinctPort();
      const bus = await distinctPort();
      nodes.push(
        await startRedisServer({
          port,
          // The config file is relative to the node's own --dir (its tmpdir, removed by stop()).
          args: ['--cluster-enabled', 'yes', '--cluster-port', String(bus), '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '5000'],
        }),
      );
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    // `--cluster create` returns once the nodes agree on the slots; wait until every node also serves them.
    await waitHealthy(15_000);
  } catch (error) {
    await stop();
    throw error;
  }
  const portOfSlot = async (slot: number): Promise<number> => {
    for (const [port, ranges] of parseSlots(await cli(nodes[0].port, 'CLUSTER', 'NODES'))) {
      if (ranges.some(([from, to]) => slot >= from && slot <= to)) return port;
    }
    throw new Error(`no master serves slot ${slot}`);
  };
  return {
    nodes,
    startupNodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    keyslot: async (key) => Number((await cli(nodes[0].port, 'CLUSTER', 'KEYSLOT', key)).trim()),
    portOfSlot,
    waitHealthy,
    async moveSlot(slot, toPort) {
      const fromPort = await portOfSlot(slot);
      if (fromPort === toPort) return;
      const idOf = async (port: number) => (await cli(port, 'CLUSTER', 'MYID')).trim();
      const [fromId, toId] = [await idOf(fromPort), await idOf(toPort)];
      const s = String(slot);
      await cli(toPort, 'CLUSTER', 'SETSLOT', s, 'IMPORTING', fromId);
      await cli(fromPort, 'CLUSTER', 'SETSLOT', s, 'MIGRATING', toId);
      for (;;) {
        const keys = (await cli(fromPort, 'CLUSTER', 'GETKEYSINSLOT', s, '1000')).split('\n').filter(Boolean);
        if (keys.length === 0) break;
        const reply = await cli(fromPort, 'MIGRATE', '127.0.0.1', String(toPort), '', '0', '5000', 'KEYS', ...keys);
        if (!reply.startsWith('OK')) throw new Error(`MIGRATE of slot ${slot} failed: ${reply}`);
      }
      // The new owner first, then the old one, then the rest (the order redis-cli uses).
      for (const port of [toPort, fromPort, ...nodes.map((n) => n.port).filter((p) => p !== toPort && p !== fromPort)]) {
        await cli(port, 'CLUSTER', 'SETSLOT', s, 'NODE', toId);
      }
    },
    stop,
  };
}
