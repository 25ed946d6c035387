/**
 * What a test that starts a real NodeSDK must undo: NodeSDK registers the
 * global logger, meter and tracer providers, context manager and propagator,
 * and `sdk.shutdown()` leaves them registered, so the next NodeSDK of the
 * same mocha process could not register its own and its records would go to
 * the shut-down providers.
 */
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { logsApiOfLine } from '../../src/otel/otel-line.js';

export function resetOtelGlobals(): void {
  (logsApiOfLine() as unknown as { disable(): void } | undefined)?.disable();
  metrics.disable();
  trace.disable();
  context.disable();
  propagation.disable();
}
