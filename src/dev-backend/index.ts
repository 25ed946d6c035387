/** The dev guard backend: a real local server that answers like the guard backend, with fault injection. */
export { DevBackend, DEFAULT_DEV_API_KEY, DEFAULT_MAX_BODY_BYTES } from './dev-backend.js';
export { parseFaultSpec } from './fault-spec.js';
export { FaultQueue } from './faults.js';
export { normalizeFault } from './fault-validate.js';
export { METRIC_TYPES, type ValidationIssue } from './validate.js';
export type { DevBackendEvents } from './context.js';
export type * from './types.js';
