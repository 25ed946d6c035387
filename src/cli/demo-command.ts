/**
 * `guard-agent demo`: the whole pipeline in one command (see src/demo/).
 * The first Ctrl-C (or SIGTERM) stops everything in order and exits 130; a
 * second one exits at once (the app child is still killed by its exit hook).
 */
import { parseArgs } from 'node:util';
import { DEFAULT_DEMO_OPTIONS, EXIT_INTERRUPTED, parseDuration, parsePortBase, parseRate, runDemo, type DemoOptions } from '../demo/index.js';

export async function runDemoCommand(args: string[]): Promise<number> {
  let options: Partial<DemoOptions>;
  try {
    const { values } = parseArgs({ args, strict: true, options: {
      duration: { type: 'string' },
      rate: { type: 'string' },
      'port-base': { type: 'string' },
      'keep-open': { type: 'boolean', default: false },
      concurrency: { type: 'string' },
      app: { type: 'string' },
    } });
    options = {
      ...(values.duration !== undefined ? { durationMs: parseDuration(values.duration) } : {}),
      ...(values.rate !== undefined ? { rate: parseRate(values.rate) } : {}),
      ...(values['port-base'] !== undefined ? { portBase: parsePortBase(values['port-base']) } : {}),
      ...(values.concurrency !== undefined ? { concurrency: parseConcurrency(values.concurrency) } : {}),
      ...(values.app !== undefined ? { appScript: values.app } : {}),
      keepOpen: values['keep-open'] === true,
    };
  } catch (err) {
    process.stderr.write(`guard-agent demo: ${(err as Error).message}\n`);
    return 2;
  }

  const controller = new AbortController();
  const onSignal = (): void => {
    if (controller.signal.aborted) {
      process.stderr.write('\nguard-agent demo: stopped at once\n');
      process.exit(EXIT_INTERRUPTED);
    }
    process.stderr.write('\nguard-agent demo: stopping (Ctrl-C again to quit at once) ...\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const code = await runDemo(
      { ...DEFAULT_DEMO_OPTIONS, ...options },
      { out: (line) => process.stdout.write(line + '\n'), progress: process.stderr },
      controller.signal,
    );
    if (code === EXIT_INTERRUPTED) process.stderr.write('guard-agent demo: interrupted; everything it started is stopped\n');
    return code;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

function parseConcurrency(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new Error(`--concurrency must be an integer in 1-1024, got ${JSON.stringify(text)}`);
  return n;
}
