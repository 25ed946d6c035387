/** What the OTLP receiver records, decoded from OTLP/HTTP JSON to plain JS. */

/** OTLP JSON AnyValue, decoded to plain JS. */
export type AttrValue = string | number | boolean | null | AttrValue[] | { [k: string]: AttrValue };

export interface ReceivedScope {
  name?: string;
  version?: string;
}

export interface ReceivedLog {
  eventName?: string;
  severityNumber?: number;
  severityText?: string;
  body?: AttrValue;
  timeUnixNano?: string;
  attributes: Record<string, AttrValue>;
  resource: Record<string, AttrValue>;
  scope: ReceivedScope;
}

export interface ReceivedMetricPoint {
  name: string;
  kind: 'sum' | 'gauge' | 'histogram' | 'exponentialHistogram' | 'summary';
  unit?: string;
  /** Sum / gauge value (asInt or asDouble). */
  value?: number;
  /** Histogram count and sum. */
  count?: number;
  sum?: number;
  attributes: Record<string, AttrValue>;
  resource: Record<string, AttrValue>;
  scope: ReceivedScope;
}

export interface ReceivedSpanEvent {
  name: string;
  attributes: Record<string, AttrValue>;
}

export interface ReceivedSpan {
  name: string;
  traceId?: string;
  spanId?: string;
  kind?: number;
  attributes: Record<string, AttrValue>;
  events: ReceivedSpanEvent[];
  resource: Record<string, AttrValue>;
  scope: ReceivedScope;
}

export interface ReceivedRequest {
  path: string;
  contentEncoding?: string;
  contentType?: string;
  bytes: number;
}

export interface OtlpCounts {
  requests: number;
  logs: number;
  metricPoints: number;
  spans: number;
  spanEvents: number;
  /** Data points per metric name. */
  pointsByMetric: Record<string, number>;
  /** Requests that could not be decoded. */
  rejected: number;
}
