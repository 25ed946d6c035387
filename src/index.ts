/**
 * guard-agent-otel: the public API. Nothing but re-exports lives here.
 */
export { VERSION, USER_AGENT } from './version.js';
export {
  GuardAgentError,
  GuardAgentValidationError,
  GuardAgentConfigError,
  EncryptionConfigError,
  BufferFullError,
} from './errors.js';
export type { FieldProblem } from './errors.js';
export { resolveConfig, mergeConfig, describeConfig, DEFAULT_CONFIG, DEFAULT_ENDPOINT, CONFIG_FIELDS } from './config.js';
export type { AgentConfig, AgentConfigInput, BreakerOptions, RateLimitOptions, OnErrorHook, SignatureMode } from './config-types.js';
export * from './models/index.js';
export {
  HTTPTransport,
  buildBatches,
  generateBatchId,
  PayloadEncryptor,
  signPayload,
  resolveInstallId,
  parseRetryAfterMs,
  CircuitBreaker,
  TokenBucketRateLimiter,
} from './transport/index.js';
export type * from './transport/types.js';
export { EventBuffer } from './handler/event-buffer.js';
export type { BufferSink, EventBufferOptions, EventBufferStats } from './handler/event-buffer.js';
export { DevBackend, parseFaultSpec } from './dev-backend/index.js';
