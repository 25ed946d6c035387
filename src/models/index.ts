export { SecurityEvent, validateSecurityEvent, EVENT_FIELD_SPELLINGS } from './security-event.js';
export type { SecurityEventInput, SecurityEventField } from './security-event.js';
export { SecurityMetric } from './security-metric.js';
export type { SecurityMetricInput } from './security-metric.js';
export type { AgentStatus, AgentHealth } from './agent-status.js';
export type { EventBatch, BatchEnvelope } from './event-batch.js';
export { KNOWN_EVENT_TYPES, METRIC_TYPES, isMetricType } from './event-types.js';
export type { KnownEventType, MetricType } from './event-types.js';
export { parseDynamicRules, defaultDynamicRules, dynamicRulesToWire, CLOUD_PROVIDERS } from './dynamic-rules.js';
export type { DynamicRules, CloudProvider } from './dynamic-rules.js';
export {
  encodeEvent,
  encodeMetric,
  encodeBatchBody,
  encodeBatchBodyBytes,
  encodeStatus,
  encodeEncryptedPlaintext,
  batchOverheadBytes,
  formatTimestamp,
  DEFAULT_MAX_EVENT_BYTES,
  TRUNCATION_MARKER_KEY,
} from './codec.js';
export type { EncodeOptions } from './codec.js';
export { toJsonSafe, newCodecStats, MARKERS } from './json-safe.js';
export type { CodecStats } from './json-safe.js';
