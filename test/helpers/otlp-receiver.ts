/**
 * A real OTLP/HTTP JSON receiver on 127.0.0.1 for tests and the demo:
 *
 *   const r = new OtlpReceiver();
 *   const { url } = await r.start();          // http://127.0.0.1:PORT
 *   // point exporters at `${url}/v1/logs`, `/v1/metrics`, `/v1/traces`
 *   r.logs; r.metricPoints; r.spans; r.counts(); await r.waitFor(() => r.logs.length >= 3);
 *   await r.stop();
 *
 * Accepts `Content-Encoding: gzip` (and deflate), answers 200 `{}` (a full
 * success in OTLP). Protobuf bodies get 415: the OTLP/HTTP exporters of
 * `exporter-*-otlp-http` send JSON. Depends on nothing in src/.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';

/** OTLP JSON AnyValue, decoded to plain JS. */
export type AttrValue = string | number | boolean | null | AttrValue[] | { [k: string]: AttrValue };

export interface ReceivedLog {
  eventName?: string;
  severityNumber?: number;
  severityText?: string;
  body?: AttrValue;
  timeUnixNano?: string;
  attributes: Record<string, AttrValue>;
  resource: Record<string, AttrValue>;
  scope: { name?: string; version?: string };
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
  scope: { name?: string; version?: string };
}

export interface ReceivedSpan {
  name: string;
  traceId?: string;
  spanId?: string;
  kind?: number;
  attributes: Record<string, AttrValue>;
  events: { name: string; attributes: Record<string, AttrValue> }[];
  resource: Record<string, AttrValue>;
  scope: { name?: string; version?: string };
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

interface KeyValue {
  key: string;
  value?: Record<string, unknown>;
}

/** Decodes an OTLP JSON AnyValue (`{stringValue}`, `{intValue: "42"}`, arrays, kvlists, bytes). */
export function decodeAnyValue(v: Record<string, unknown> | undefined): AttrValue {
  if (v === undefined || v === null) return null;
  if ('stringValue' in v) return String(v.stringValue);
  if ('boolValue' in v) return Boolean(v.boolValue);
  if ('intValue' in v) return Number(v.intValue); // int64 travels as a string in OTLP JSON
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('bytesValue' in v) return String(v.bytesValue);
  if ('arrayValue' in v) {
    const values = ((v.arrayValue as { values?: Record<string, unknown>[] } | undefined)?.values ?? []);
    return values.map((x) => decodeAnyValue(x));
  }
  if ('kvlistValue' in v) return decodeAttributes((v.kvlistValue as { values?: KeyValue[] } | undefined)?.values);
  return null;
}

/** A KeyValue list as a flat record. */
export function decodeAttributes(list: KeyValue[] | undefined): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of list ?? []) out[kv.key] = decodeAnyValue(kv.value);
  return out;
}

type Json = Record<string, any>;

export class OtlpReceiver {
  readonly logs: ReceivedLog[] = [];
  readonly metricPoints: ReceivedMetricPoint[] = [];
  readonly spans: ReceivedSpan[] = [];
  readonly requests: ReceivedRequest[] = [];
  rejected = 0;
  private server?: Server;
  private baseUrl?: string;

  /** Starts listening on 127.0.0.1 (port 0 picks a free one). */
  async start(port = 0): Promise<{ url: string; port: number }> {
    if (this.server) throw new Error('OtlpReceiver already started');
    const server = createServer((req, res) => {
      void this.handle(req, res);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const actual = (server.address() as AddressInfo).port;
    this.baseUrl = `http://127.0.0.1:${actual}`;
    return { url: this.baseUrl, port: actual };
  }

  get url(): string {
    if (!this.baseUrl) throw new Error('OtlpReceiver not started');
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Forgets everything received. */
  reset(): void {
    this.logs.length = 0;
    this.metricPoints.length = 0;
    this.spans.length = 0;
    this.requests.length = 0;
    this.rejected = 0;
  }

  counts(): OtlpCounts {
    const pointsByMetric: Record<string, number> = {};
    for (const p of this.metricPoints) pointsByMetric[p.name] = (pointsByMetric[p.name] ?? 0) + 1;
    return {
      requests: this.requests.length,
      logs: this.logs.length,
      metricPoints: this.metricPoints.length,
      spans: this.spans.length,
      spanEvents: this.spans.reduce((n, s) => n + s.events.length, 0),
      pointsByMetric,
      rejected: this.rejected,
    };
  }

  /** Data points of one metric. */
  points(name: string): ReceivedMetricPoint[] {
    return this.metricPoints.filter((p) => p.name === name);
  }

  /** Resolves when `predicate()` holds; rejects after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`OtlpReceiver.waitFor timed out after ${timeoutMs} ms: ${JSON.stringify(this.counts())}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      return; // client went away
    }
    const raw = Buffer.concat(chunks);
    const path = (req.url ?? '/').split('?')[0];
    const encoding = req.headers['content-encoding'];
    const type = req.headers['content-type'];
    this.requests.push({ path, bytes: raw.length, ...(encoding ? { contentEncoding: encoding } : {}), ...(type ? { contentType: type } : {}) });
    if (req.method !== 'POST' || !['/v1/logs', '/v1/metrics', '/v1/traces'].includes(path)) {
      return this.reply(res, 404, { error: 'not an OTLP endpoint' });
    }
    if (type !== undefined && !type.includes('json')) {
      this.rejected++;
      return this.reply(res, 415, { error: 'this receiver accepts OTLP/HTTP JSON only' });
    }
    let body: Json;
    try {
      const text = (encoding === 'gzip' ? gunzipSync(raw) : encoding === 'deflate' ? inflateSync(raw) : raw).toString('utf8');
      body = JSON.parse(text) as Json;
    } catch (err) {
      this.rejected++;
      return this.reply(res, 400, { error: `undecodable body: ${(err as Error).message}` });
    }
    if (path === '/v1/logs') this.takeLogs(body);
    else if (path === '/v1/metrics') this.takeMetrics(body);
    else this.takeSpans(body);
    this.reply(res, 200, {});
  }

  private reply(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private takeLogs(body: Json): void {
    for (const rl of body.resourceLogs ?? []) {
      const resource = decodeAttributes(rl.resource?.attributes);
      for (const sl of rl.scopeLogs ?? []) {
        const scope = { name: sl.scope?.name, version: sl.scope?.version };
        for (const lr of sl.logRecords ?? []) {
          this.logs.push({
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
  }

  private takeMetrics(body: Json): void {
    for (const rm of body.resourceMetrics ?? []) {
      const resource = decodeAttributes(rm.resource?.attributes);
      for (const sm of rm.scopeMetrics ?? []) {
        const scope = { name: sm.scope?.name, version: sm.scope?.version };
        for (const m of sm.metrics ?? []) {
          for (const kind of ['sum', 'gauge', 'histogram', 'exponentialHistogram', 'summary'] as const) {
            const data = m[kind];
            if (!data) continue;
            for (const dp of data.dataPoints ?? []) {
              const value = dp.asInt !== undefined ? Number(dp.asInt) : dp.asDouble !== undefined ? Number(dp.asDouble) : undefined;
              this.metricPoints.push({
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
  }

  private takeSpans(body: Json): void {
    for (const rs of body.resourceSpans ?? []) {
      const resource = decodeAttributes(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? []) {
        const scope = { name: ss.scope?.name, version: ss.scope?.version };
        for (const s of ss.spans ?? []) {
          this.spans.push({
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
  }
}
