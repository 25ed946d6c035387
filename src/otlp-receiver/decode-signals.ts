/**
 * The three OTLP/HTTP JSON request bodies (ExportLogsServiceRequest,
 * ExportMetricsServiceRequest, ExportTraceServiceRequest) flattened to one
 * record per log, data point and span, each carrying its resource and scope.
 * The bodies are untrusted JSON, read defensively: a missing list is empty.
 */
import { decodeAnyValue, decodeAttributes } from './any-value.js';
import type { ReceivedLog, ReceivedMetricPoint, ReceivedSpan } from './types.js';

type Json = Record<string, any>;

const METRIC_KINDS = ['sum', 'gauge', 'histogram', 'exponentialHistogram', 'summary'] as const;

export function decodeLogs(body: Json): ReceivedLog[] {
  const out: ReceivedLog[] = [];
  for (const rl of body.resourceLogs ?? []) {
    const resource = decodeAttributes(rl.resource?.attributes);
    for (const sl of rl.scopeLogs ?? []) {
      const scope = { name: sl.scope?.name, version: sl.scope?.version };
      for (const lr of sl.logRecords ?? []) {
        out.push({
          ...(lr.eventName ? { eventName: lr.eventName } : {}),
          ...(lr.severityNumber !== undefined ? { severityNumber: Number(lr.severityNumber) } : {}),
          ...(lr.severityText ? { severityText: lr.severityText } : {}),
          ...(lr.body !== undefined ? { body: decodeAnyValue(lr.body) } : {}),
          ...(lr.timeUnixNano !== undefined ? { timeUnixNano: String(lr.timeUnixNano) } : {}),
          attributes: decodeAttributes(lr.attributes),
          resource,
          scope,
        });
      }
    }
  }
  return out;
}

export function decodeMetricPoints(body: Json): ReceivedMetricPoint[] {
  const out: ReceivedMetricPoint[] = [];
  for (const rm of body.resourceMetrics ?? []) {
    const resource = decodeAttributes(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      const scope = { name: sm.scope?.name, version: sm.scope?.version };
      for (const m of sm.metrics ?? []) {
        for (const kind of METRIC_KINDS) {
          const data = m[kind];
          if (!data) continue;
          for (const dp of data.dataPoints ?? []) {
            const value = dp.asInt !== undefined ? Number(dp.asInt) : dp.asDouble !== undefined ? Number(dp.asDouble) : undefined;
            out.push({
              name: m.name,
              kind,
              ...(m.unit ? { unit: m.unit } : {}),
              ...(value !== undefined ? { value } : {}),
              ...(dp.count !== undefined ? { count: Number(dp.count) } : {}),
              ...(dp.sum !== undefined ? { sum: Number(dp.sum) } : {}),
              attributes: decodeAttributes(dp.attributes),
              resource,
              scope,
            });
          }
        }
      }
    }
  }
  return out;
}

export function decodeSpans(body: Json): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = decodeAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      const scope = { name: ss.scope?.name, version: ss.scope?.version };
      for (const s of ss.spans ?? []) {
        out.push({
          name: s.name,
          ...(s.traceId ? { traceId: s.traceId } : {}),
          ...(s.spanId ? { spanId: s.spanId } : {}),
          ...(s.kind !== undefined ? { kind: Number(s.kind) } : {}),
          attributes: decodeAttributes(s.attributes),
          events: (s.events ?? []).map((e: Json) => ({ name: e.name, attributes: decodeAttributes(e.attributes) })),
          resource,
          scope,
        });
      }
    }
  }
  return out;
}
