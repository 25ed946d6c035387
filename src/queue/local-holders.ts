/**
 * The Redis queues of this process that use the same Redis lists (same key
 * base and instance id). That happens for a moment when the fallback queue
 * is switched onto the Redis it already uses (the new queue takes over from
 * the old one), and when two handlers of one process get the same instance
 * id. Putting this instance's in-flight entries back to pending (on the first
 * contact, and after a command that timed out) must spare every entry one of
 * them still holds: those are being delivered right now.
 */

/** What one queue tells the others about the entries it holds. */
export interface LocalHolder {
  /** Entry ids this queue holds in memory (taken, or acked / released but not yet written to Redis). */
  heldIds(): Iterable<string>;
  /** True while a TAKE of this queue is on its way: the ids it moves are not held yet. */
  readonly taking: boolean;
}

const byLists = new Map<string, Set<LocalHolder>>();

export function joinLocalHolders(lists: string, holder: LocalHolder): void {
  let set = byLists.get(lists);
  if (!set) byLists.set(lists, (set = new Set()));
  set.add(holder);
}

export function leaveLocalHolders(lists: string, holder: LocalHolder): void {
  const set = byLists.get(lists);
  if (!set) return;
  set.delete(holder);
  if (set.size === 0) byLists.delete(lists);
}

/**
 * The ids the queues of this process hold on `lists`, or null while one of
 * them is taking (what it takes would look unheld: ask again later).
 */
export function heldInProcess(lists: string): string[] | null {
  const ids: string[] = [];
  for (const holder of byLists.get(lists) ?? []) {
    if (holder.taking) return null;
    for (const id of holder.heldIds()) ids.push(id);
  }
  return ids;
}
