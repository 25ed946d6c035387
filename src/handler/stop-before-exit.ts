/**
 * Stops the live agents when the process is about to end on its own (its
 * event loop ran empty: a script, a CLI, a job that returns without calling
 * `stop()`). The agent's timers never keep a process alive, so without this
 * what the SDK batch processor held was lost without a count or a word.
 *
 * `beforeExit` fires only once nothing else is left to run; `stop()` then
 * keeps the loop busy until it is done (bounded by its deadline), and the
 * process exits after. It does not fire on `process.exit()` or a signal
 * (see shutdown-hooks.ts for SIGTERM/SIGINT). One listener serves every
 * agent of the process.
 */
import { diag } from '@opentelemetry/api';

interface Stoppable {
  stop(): Promise<void>;
}

const live = new Set<Stoppable>();

function stopAll(): void {
  process.off('beforeExit', stopAll);
  // On the next turn, not now: the app's own 'beforeExit' listeners (a last report, a final
  // sendEvent) run first and are still delivered; the pending immediate keeps the process alive.
  setImmediate(() => {
    for (const agent of [...live]) {
      live.delete(agent);
      agent.stop().catch((err: unknown) => diag.error(`guard-agent: stop before exit failed: ${(err as Error)?.message}`));
    }
  });
}

/** The agent is stopped if the process ends without its `stop()`. */
export function stopBeforeExit(agent: Stoppable): void {
  if (live.size === 0) process.on('beforeExit', stopAll);
  live.add(agent);
}

/** The agent stopped (or opted out): nothing to do at exit. */
export function forgetAtExit(agent: Stoppable): void {
  if (!live.delete(agent)) return;
  if (live.size === 0) process.off('beforeExit', stopAll);
}
