/**
 * The advisory list of event types (reference 2.2, master's 39 values).
 * `eventType` is a free string: the backend accepts any, and emitters send
 * others (`pattern_anomaly_timing`, `cloud_detection`, ...). This list is for
 * autocompletion and dashboards, never for rejecting an event.
 */
export const KNOWN_EVENT_TYPES = [
  'ip_banned',
  'ip_unbanned',
  'ip_ban_failed',
  'ip_blocked',
  'rate_limited',
  'rate_limit_script_reloaded',
  'suspicious_request',
  'cloud_blocked',
  'country_blocked',
  'penetration_attempt',
  'behavioral_violation',
  'user_agent_blocked',
  'custom_request_check',
  'decorator_violation',
  'decoding_error',
  'detection_engine_callback_error',
  'geo_lookup_failed',
  'https_enforced',
  'pattern_anomaly_slow_execution',
  'pattern_anomaly_timeout',
  'pattern_anomaly_statistical_anomaly',
  'redis_connection',
  'redis_error',
  'dynamic_rule_applied',
  'dynamic_rule_updated',
  'path_excluded',
  'route_unresolved',
  'pattern_detected',
  'pattern_added',
  'pattern_removed',
  'access_denied',
  'authentication_failed',
  'content_filtered',
  'emergency_mode_activated',
  'emergency_mode_block',
  'dynamic_rule_violation',
  'security_bypass',
  'security_headers_applied',
  'csp_violation',
] as const;

export type KnownEventType = (typeof KNOWN_EVENT_TYPES)[number];

/** The seven metric types the backend validates (reference 2.3); anything else is a 422 there. */
export const METRIC_TYPES = [
  'request_count',
  'response_time',
  'error_rate',
  'bandwidth_usage',
  'threat_level',
  'block_rate',
  'cache_hit_rate',
] as const;

export type MetricType = (typeof METRIC_TYPES)[number];

const METRIC_TYPE_SET: ReadonlySet<string> = new Set(METRIC_TYPES);
export function isMetricType(value: unknown): value is MetricType {
  return typeof value === 'string' && METRIC_TYPE_SET.has(value);
}
