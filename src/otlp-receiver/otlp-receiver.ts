/**
 * A real OTLP/HTTP JSON receiver on 127.0.0.1, for tests and the demo:
 *
 *   const r = new OtlpReceiver();
 *   const { url } = await r.start();          // http://127.0.0.1:PORT
 *   // point exporters at `${url}/v1/logs`, `/v1/metrics`, `/v1/traces`
 *   r.logs; r.metricPoints; r.spans; r.counts(); await r.waitFor(() => r.logs.length >= 3);
 *   await r.stop();
 *
 * Accepts `Content-Encoding: gzip` (and deflate), answers 200 `{}` (a full
 * success in OTLP). Protobuf bodies get 415: the OTLP/HTTP exporters of
 * `exporter-*-otlp-http` send JSON. It keeps everything in memory: it is a
 * window onto what an agent sends, not a collector.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import { decodeLogs, decodeMetricPoints, decodeSpans } from './decode-signals.js';
import type { OtlpCounts, ReceivedLog, ReceivedMetricPoint, ReceivedRequest, ReceivedSpan } from './types.js';

const OTLP_PATHS = ['/v1/logs', '/v1/metrics', '/v1/traces'];

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
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      });
    } catch (err) {
      this.server = undefined;
      throw err;
    }
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
    if (req.method !== 'POST' || !OTLP_PATHS.includes(path)) {
      return this.reply(res, 404, { error: 'not an OTLP endpoint' });
    }
    if (type !== undefined && !type.includes('json')) {
      this.rejected++;
      return this.reply(res, 415, { error: 'this receiver accepts OTLP/HTTP JSON only' });
    }
    let body: Record<string, unknown>;
    try {
      const text = (encoding === 'gzip' ? gunzipSync(raw) : encoding === 'deflate' ? inflateSync(raw) : raw).toString('utf8');
      body = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      this.rejected++;
      return this.reply(res, 400, { error: `undecodable body: ${(err as Error).message}` });
    }
    if (path === '/v1/logs') this.logs.push(...decodeLogs(body));
    else if (path === '/v1/metrics') this.metricPoints.push(...decodeMetricPoints(body));
    else this.spans.push(...decodeSpans(body));
    this.reply(res, 200, {});
  }

  private reply(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}
