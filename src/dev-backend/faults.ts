/**
 * The queue of injected faults. One-shot kinds (status, delay, reset,
 * garbage, oversized, successFalse) are consumed first-in first-out by the
 * requests they match; `down` and `maxItems` are standing conditions that
 * stay until cleared (or expired, or their `times` are used up).
 */
import { normalizeFault } from './fault-validate.js';
import type { DownFault, Fault, MaxItemsFault } from './types.js';

/** Routes a fault without `path` applies to: everything the agent POSTs. */
const INGEST_PATHS = new Set(['/api/v1/events', '/api/v1/metrics', '/api/v1/events/encrypted', '/api/v1/status']);

type OneShot = Exclude<Fault, DownFault | MaxItemsFault>;

interface Entry {
  fault: Fault;
  remaining: number;
}

function matches(fault: Fault, method: string, path: string): boolean {
  if (fault.path !== undefined) return path.startsWith(fault.path);
  if (fault.kind === 'down') return path.startsWith('/api/v1/');
  return method === 'POST' && INGEST_PATHS.has(path);
}

export class FaultQueue {
  private entries: Entry[] = [];

  /** Appends one fault or several, in order. Throws on an invalid fault (nothing is appended then). */
  push(...faults: (Fault | Fault[])[]): void {
    const clean = faults.flat().map((f) => normalizeFault(f));
    for (const fault of clean) {
      const remaining = fault.kind === 'down' ? Infinity : (fault.times ?? 1);
      this.entries.push({ fault, remaining });
    }
  }

  clear(): void {
    this.entries = [];
  }

  /** Faults still pending, with what is left of their `times`. */
  list(): Array<Fault & { remaining: number }> {
    return this.entries.map((e) => ({ ...e.fault, remaining: e.remaining }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** The active `down` fault for this request, if any (expired ones are dropped). */
  down(method: string, path: string, now = Date.now()): DownFault | undefined {
    this.entries = this.entries.filter((e) => !(e.fault.kind === 'down' && e.fault.untilMs !== undefined && e.fault.untilMs <= now));
    const hit = this.entries.find((e) => e.fault.kind === 'down' && matches(e.fault, method, path));
    return hit?.fault as DownFault | undefined;
  }

  /** Takes one use of the first one-shot fault that matches, or returns undefined. */
  take(method: string, path: string): OneShot | undefined {
    const index = this.entries.findIndex(
      (e) => e.fault.kind !== 'down' && e.fault.kind !== 'maxItems' && matches(e.fault, method, path),
    );
    if (index < 0) return undefined;
    return this.use(index) as OneShot;
  }

  /** When a standing maxItems limit rejects a batch of `items`, uses it and returns it. */
  overLimit(method: string, path: string, items: number): MaxItemsFault | undefined {
    const index = this.entries.findIndex(
      (e) => e.fault.kind === 'maxItems' && matches(e.fault, method, path) && items > e.fault.max,
    );
    if (index < 0) return undefined;
    return this.use(index) as MaxItemsFault;
  }

  private use(index: number): Fault {
    const entry = this.entries[index];
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.entries.splice(index, 1);
    return entry.fault;
  }
}
