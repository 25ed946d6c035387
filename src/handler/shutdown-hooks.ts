/**
 * Opt-in SIGTERM/SIGINT handling: flush the agent (bounded by a deadline)
 * before the process exits. NodeSDK installs no such hooks and its
 * `shutdown()` has no deadline, so without them a container stop loses what
 * the batch processor holds. When the app has its own listener for the
 * signal, the app decides when to exit; otherwise the process exits with the
 * conventional 128 + signal number once the flush is done.
 */
import { diag } from '@opentelemetry/api';

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

export interface ShutdownHookOptions {
  signals?: NodeJS.Signals[];
  /** Exit after flushing when no other listener handles the signal (default true). */
  exit?: boolean;
}

/** Installs the hooks; returns a function that removes them. */
export function installShutdownHooks(shutdown: () => Promise<void>, options: ShutdownHookOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  let running = false;
  const listener = (signal: NodeJS.Signals) => {
    if (running) return;
    running = true;
    const others = process.listenerCount(signal) > 1;
    shutdown()
      .catch((err: unknown) => diag.error(`guard-agent: shutdown on ${signal} failed: ${(err as Error).message}`))
      .finally(() => {
        remove();
        if (options.exit !== false && !others) process.exit(128 + (SIGNAL_NUMBERS[signal] ?? 1));
      });
  };
  for (const s of signals) process.on(s, listener);
  const remove = () => {
    for (const s of signals) process.off(s, listener);
  };
  return remove;
}
