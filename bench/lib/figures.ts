/**
 * The shape every bench's `main()` returns, and how run.ts judges it: a
 * figure is one number with its unit, optionally a target (`<=` or `>=` a
 * bound); figures without a target are informational.
 */
export interface Target {
  op: '<=' | '>=';
  value: number;
}

export interface Figure {
  /** Stable id, e.g. `emit.ratio`. */
  key: string;
  label: string;
  value: number;
  unit: string;
  target?: Target;
  /** How it was measured, in a few words (shown under the table). */
  note?: string;
}

export interface BenchResult {
  name: string;
  figures: Figure[];
  /** Anything else worth keeping in results.json (raw samples, settings). */
  details?: Record<string, unknown>;
}

export type Verdict = 'PASS' | 'MISS' | 'info';

export function verdict(f: Figure): Verdict {
  if (!f.target || !Number.isFinite(f.value)) return f.target ? 'MISS' : 'info';
  return (f.target.op === '<=' ? f.value <= f.target.value : f.value >= f.target.value) ? 'PASS' : 'MISS';
}

export function figure(key: string, label: string, value: number, unit: string, extra: Partial<Pick<Figure, 'target' | 'note'>> = {}): Figure {
  return { key, label, value, unit, ...extra };
}
