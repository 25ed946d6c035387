/**
 * Runs one bench's `main()` in its own process (so one bench's heap, JIT
 * state and leftover timers cannot colour another's figures) and writes the
 * BenchResult as JSON to the file named on the command line.
 *
 *   node --expose-gc --import tsx bench/lib/child.ts <bench> <result.json> [bench args...]
 */
import { writeFileSync } from 'node:fs';
import type { BenchResult } from './figures.js';

type Main = (argv: string[]) => Promise<BenchResult> | BenchResult;

const loaders: Record<string, () => Promise<{ main: Main }>> = {
  'emit-cost': () => import('../emit-cost.js'),
  'export-path': () => import('../export-path.js'),
  memory: () => import('../memory.js'),
  'http-client': () => import('../http-client.js'),
  queue: () => import('../queue.js') as Promise<{ main: Main }>,
  'ip-matcher': () => import('../ip-matcher.js') as Promise<{ main: Main }>,
  'metric-reduction': () => import('../metric-reduction.js'),
  enforcement: () => import('../enforcement.js'),
};

export const BENCH_NAMES = Object.keys(loaders);

async function run(): Promise<void> {
  const [name, out, ...args] = process.argv.slice(2);
  const load = loaders[name];
  if (!load || !out) throw new Error(`usage: child.ts <${BENCH_NAMES.join('|')}> <result.json> [args...]`);
  const { main } = await load();
  const result = await main(args);
  writeFileSync(out, JSON.stringify(result));
}

if (process.argv[1]?.endsWith('child.ts')) {
  run().then(
    // Leftover keep-alive sockets or timers must not hold the process: the result is written.
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
