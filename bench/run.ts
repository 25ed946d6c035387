/**
 * `npm run bench`: every bench, each in its own child process, then one table
 * of figures with their targets and PASS / MISS, written to
 * `.bench-out/results.json` as well.
 *
 *   npm run bench                       # all of them (about 3-4 minutes)
 *   npm run bench -- --only emit-cost   # one (repeat --only, or comma-separate, for several)
 *   npm run bench -- --quiet            # only the table
 *
 * The figures are ratios measured side by side in one run wherever there is
 * a baseline; absolute times depend on the machine and its load, so read
 * them next to their baseline, never alone.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './lib/figures.js';
import { verdict } from './lib/figures.js';
import { formatTable, writeResults } from './lib/results.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const outDir = join(root, '.bench-out');

/** Each bench with the arguments that keep `npm run bench` within its time budget. */
const BENCHES: Array<{ name: string; args: string[] }> = [
  { name: 'emit-cost', args: ['40'] },
  { name: 'export-path', args: ['20000', '3'] },
  { name: 'memory', args: ['100000'] },
  { name: 'http-client', args: ['2000'] },
  { name: 'queue', args: [] },
  { name: 'ip-matcher', args: [] },
  { name: 'enforcement', args: ['8', '2'] },
  { name: 'metric-reduction', args: ['10000', '10'] },
];

function parseArgs(argv: string[]): { only: Set<string> | null; quiet: boolean } {
  const only = new Set<string>();
  let quiet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quiet') quiet = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!v) throw new Error('--only needs a bench name');
      for (const n of v.split(',')) only.add(n.trim());
    } else throw new Error(`unknown argument ${a}`);
  }
  const names = new Set(BENCHES.map((b) => b.name));
  for (const n of only) if (!names.has(n)) throw new Error(`unknown bench ${n}; known: ${[...names].join(', ')}`);
  return { only: only.size ? only : null, quiet };
}

function runChild(name: string, args: string[], quiet: boolean): Promise<BenchResult> {
  const out = join(outDir, `${name}.result.json`);
  rmSync(out, { force: true });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(here, 'lib', 'child.ts'), name, out, ...args], {
      cwd: root,
      stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${name} exited with code ${code}`));
      try {
        resolve(JSON.parse(readFileSync(out, 'utf8')) as BenchResult);
      } catch (err) {
        reject(err);
      }
    });
  });
}

async function main(): Promise<void> {
  const { only, quiet } = parseArgs(process.argv.slice(2));
  mkdirSync(outDir, { recursive: true });
  const started = Date.now();
  const results: BenchResult[] = [];
  const failed: Array<{ name: string; error: string }> = [];
  for (const b of BENCHES) {
    if (only && !only.has(b.name)) continue;
    const t0 = Date.now();
    if (!quiet) console.log(`\n=== ${b.name} ${b.args.join(' ')}`);
    try {
      const r = await runChild(b.name, b.args, quiet);
      results.push(r);
      if (!quiet) console.log(`=== ${b.name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } catch (err) {
      failed.push({ name: b.name, error: (err as Error).message });
      console.error(`=== ${b.name} FAILED: ${(err as Error).message}`);
    }
  }
  const seconds = (Date.now() - started) / 1000;
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    totalSeconds: seconds,
    failed,
  };
  const file = join(outDir, 'results.json');
  writeResults(file, results, meta);
  console.log(`\n${formatTable(results)}`);
  const all = results.flatMap((r) => r.figures);
  const judged = all.filter((f) => f.target);
  const missed = judged.filter((f) => verdict(f) === 'MISS');
  console.log(`\n${judged.length - missed.length}/${judged.length} targets met; ${failed.length} bench(es) failed; ${seconds.toFixed(0)} s; node ${process.version}, ${meta.cpus}`);
  console.log(`results: ${file}`);
  if (failed.length) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
