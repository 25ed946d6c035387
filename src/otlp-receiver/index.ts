/** A real OTLP/HTTP JSON receiver that decodes and counts logs, metric points and spans (tests and the demo). */
export { OtlpReceiver } from './otlp-receiver.js';
export { decodeAnyValue, decodeAttributes, type KeyValue } from './any-value.js';
export { decodeLogs, decodeMetricPoints, decodeSpans } from './decode-signals.js';
export type * from './types.js';
