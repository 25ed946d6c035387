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
export { GuardAgentHandler, DEFAULT_STOP_TIMEOUT_MS } from './handler/guard-agent-handler.js';
export type { GuardAgentHandlerOptions } from './handler/guard-agent-handler.js';
export { GuardPipeline, DEFAULT_MAX_QUEUE_SIZE, DEFAULT_MAX_EXPORT_BATCH_SIZE } from './handler/guard-pipeline.js';
export { installShutdownHooks } from './handler/shutdown-hooks.js';
export { guardAgent } from './otel/guard-agent.js';
export type { GuardAgentOptions, GuardAgentSetup, GuardSpanProcessor, OtlpOptions } from './otel/guard-agent.js';
export { GuardInstrumentation } from './otel/guard-instrumentation.js';
export type { GuardInstrumentationConfig } from './otel/guard-instrumentation.js';
export { GuardLogRecordExporter } from './otel/guard-log-exporter.js';
export { GuardMetricExporter } from './otel/guard-metric-exporter.js';
export { GuardLogRecordProcessor } from './otel/guard-log-processor.js';
export { GuardMetricReader } from './otel/guard-metric-reader.js';
export { GUARD_EVENT_NAME, EVENT_ATTRIBUTES, securityEventToLogRecord, logRecordToSecurityEvent, isGuardRecord } from './otel/event-mapping.js';
export { GUARD_METRIC_NAMES, GuardInstruments } from './otel/guard-instruments.js';
export { detectOtelLine } from './otel/otel-line.js';
export { MemoryFallbackQueue, RedisFallbackQueue, createFallbackQueue } from './queue/index.js';
export type { FallbackQueue, QueueStats, QueuedBatch } from './queue/index.js';
export { QueueDrainer } from './queue/drainer.js';
export { EventBuffer } from './handler/event-buffer.js';
export { RulePoller, RuleEngine, IpMatcher, sanitizeRules, MemorySlidingWindow, RedisSlidingWindow } from './rules/index.js';
export type { Decision, RuleRequest, RulesListener, SlidingWindowLimiter } from './rules/index.js';
export type { BufferSink, EventBufferOptions, EventBufferStats } from './handler/event-buffer.js';
export { DevBackend, parseFaultSpec } from './dev-backend/index.js';
