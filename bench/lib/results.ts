/** The results file and the table run.ts prints. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type BenchResult, verdict } from './figures.js';
import { fmt } from './timing.js';

export function writeResults(path: string, results: BenchResult[], meta: Record<string, unknown>): void {
  mkdirSync(dirname(path), { recursive: true });
  const out = {
    ...meta,
    results: results.map((r) => ({ ...r, figures: r.figures.map((f) => ({ ...f, verdict: verdict(f) })) })),
  };
  writeFileSync(path, JSON.stringify(out, null, 2) + '\n');
}

/** One aligned table: bench, figure, value, unit, target, verdict. */
export function formatTable(results: BenchResult[]): string {
  const rows: string[][] = [['bench', 'figure', 'value', 'unit', 'target', 'verdict']];
  for (const r of results) {
    for (const f of r.figures) {
      rows.push([r.name, f.label, fmt(f.value), f.unit, f.target ? `${f.target.op} ${f.target.value}` : '', verdict(f)]);
    }
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) => row.map((cell, c) => (c === 2 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}
