/**
 * The default owner id of a process's entries in the Redis queue and journal.
 *
 * It must be unique among the live processes of a project (two live
 * processes with one id would take each other's in-flight batches) and, to
 * replay its own leftovers at once after a restart, equal across restarts of
 * the same process identity. A restart with a different id loses nothing:
 * its old entries are taken over by a sibling (or by itself) once the old
 * id's lease has expired.
 *
 * Default: `{installId}:{hostname}:{worker}`, where worker is pm2's
 * `NODE_APP_INSTANCE`, the cluster worker id, or the pid. In a container the
 * app is usually pid 1 in a hostname that names the pod, so a restarted pod
 * keeps its id; a plain process gets a new pid and waits for the lease. Set
 * `instanceId` (`GUARD_AGENT_INSTANCE_ID`) to a stable per-replica value
 * (a StatefulSet pod name, `worker-3`) to always replay at once.
 */
import cluster from 'node:cluster';
import { hostname } from 'node:os';
import { resolveInstallId } from '../transport/install-id.js';

export interface InstanceIdSource {
  instanceId?: string | null;
  installId?: string | null;
  env?: Record<string, string | undefined>;
}

export function workerKey(env: Record<string, string | undefined> = process.env): string {
  const pm2 = env.NODE_APP_INSTANCE;
  if (pm2 !== undefined && pm2 !== '') return `pm2-${pm2}`;
  if (cluster.isWorker && cluster.worker) return `w${cluster.worker.id}`;
  return `p${process.pid}`;
}

export function defaultInstanceId(source: InstanceIdSource = {}): string {
  const explicit = source.instanceId?.trim();
  if (explicit) return explicit;
  let host = 'host';
  try {
    host = hostname() || host;
  } catch {
    // keep the placeholder: uniqueness then rests on the install id and worker key
  }
  return `${resolveInstallId({ override: source.installId })}:${host}:${workerKey(source.env)}`;
}

/**
 * Ids held by the live agents of this process. Kept on `globalThis`, not in
 * this module: the package ships an ESM and a CommonJS build, and a process
 * that loads both (an ESM app and a CommonJS dependency, or two copies of the
 * package) has two instances of this module. With a set each, the first
 * handler of each build took the same id.
 */
const CLAIMED_KEY = Symbol.for('guard-agent-otel.claimed-instance-ids');
const claimed = ((globalThis as Record<symbol, unknown>)[CLAIMED_KEY] ??= new Set<string>()) as Set<string>;

export interface InstanceIdClaim {
  readonly id: string;
  /** Gives the id back when its agent stops (a later agent may then use it again). */
  release(): void;
}

/**
 * The id one agent of this process uses: `base` for the first live agent
 * that asks for it, `base:a2`, `base:a3`... for the next ones. Two handlers in
 * one process are independent: under one id, the second one's first contact
 * with Redis would replay the first one's in-flight batches as leftovers of
 * a previous run, and send them twice.
 */
export function claimInstanceId(base: string): InstanceIdClaim {
  let n = 1;
  let id = base;
  while (claimed.has(id)) id = `${base}:a${++n}`;
  claimed.add(id);
  let released = false;
  return {
    id,
    release: () => {
      if (released) return;
      released = true;
      claimed.delete(id);
    },
  };
}
