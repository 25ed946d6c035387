/**
 * Key names of the Redis fallback queue. Every key of one project carries the
 * same `{projectId}` hash tag, so they all land in one Redis Cluster slot and
 * the queue's Lua scripts (which touch several keys) are cluster-safe.
 *
 *   {prefix}:{<project>}:epoch            random id written at start; gone or changed = Redis lost data
 *   {prefix}:{<project>}:data             hash: entry id -> WireBatch JSON (shared by the project's instances)
 *   {prefix}:{<project>}:instances        set of instance ids that may own entries
 *   {prefix}:{<project>}:instance:<id>    heartbeat, PX leaseMs: present = the owner is alive
 *   {prefix}:{<project>}:pending:<id>     list of the instance's waiting entry ids, oldest at the head
 *   {prefix}:{<project>}:inflight:<id>    list of the instance's taken, unacked entry ids
 *   {prefix}:{<project>}:meta:<id>        hash {items, bytes} of the instance's entries (pending + in flight)
 *   {prefix}:{<project>}:probe:<token>    short-lived: written through one connection, read through another, to tell whether both reach the same data
 */

export interface InstanceKeys {
  heartbeat: string;
  pending: string;
  inflight: string;
  meta: string;
}

export interface QueueKeys {
  /** `{prefix}:{<project>}` (every key starts with it). */
  base: string;
  epoch: string;
  data: string;
  instances: string;
  instance(id: string): InstanceKeys;
  probe(token: string): string;
}

/** Braces would move or break the hash tag; colons are fine. */
export function sanitiseKeyPart(part: string): string {
  return part.replace(/[{}]/g, '_');
}

/** The project's hash tag content: its id without braces, or `default` without one (the wire body's `project_id` too). */
export function projectHashTag(projectId: string | null | undefined): string {
  return sanitiseKeyPart(projectId ?? '') || 'default';
}

export function queueKeys(prefix: string, projectId: string): QueueKeys {
  const base = `${sanitiseKeyPart(prefix)}:{${projectHashTag(projectId)}}`;
  return {
    base,
    epoch: `${base}:epoch`,
    data: `${base}:data`,
    instances: `${base}:instances`,
    probe: (token: string) => `${base}:probe:${sanitiseKeyPart(token)}`,
    instance(id: string): InstanceKeys {
      const safe = sanitiseKeyPart(id);
      return {
        heartbeat: `${base}:instance:${safe}`,
        pending: `${base}:pending:${safe}`,
        inflight: `${base}:inflight:${safe}`,
        meta: `${base}:meta:${safe}`,
      };
    },
  };
}
