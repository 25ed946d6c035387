/**
 * One export's requests go out `exportConcurrency` at a time. The SDK's
 * batch processor hands the exporter one export at a time and waits for it,
 * so with one request at a time the backend's round trip paced the whole
 * live path (about 5,000 events/s against a backend 50 ms away; the rest
 * overflowed into the fallback queue). A loopback backend that holds each
 * events request until a second one arrives (or 400 ms pass) counts how
 * many are in flight at once; every event must arrive once either way.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';

const KEY = 'concurrency_key_0123456789';

/** Answers /api/v1/events like the guard backend, holding each request until another is in flight or 400 ms pass. */
class HoldingBackend {
  keys: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private waiting: Array<() => void> = [];
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (body: string) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      };
      if (req.url !== '/api/v1/events') return answer('{"success":true}');
      const raw = Buffer.concat(chunks);
      const json = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      for (const e of (JSON.parse(json.toString('utf8')) as { events: { idempotency_key: string }[] }).events) this.keys.push(e.idempotency_key);
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      const release = () => {
        this.inFlight--;
        answer('{"success":true}');
      };
      // A second request in flight releases every held one: they overlapped.
      if (this.inFlight > 1) {
        this.waiting.splice(0).forEach((r) => r());
        release();
      } else {
        const timer = setTimeout(() => {
          this.waiting = this.waiting.filter((r) => r !== release);
          release();
        }, 400);
        this.waiting.push(() => {
          clearTimeout(timer);
          release();
        });
      }
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

describe('export concurrency: one export of several requests', function () {
  this.timeout(20_000);

  for (const exportConcurrency of [4, 1]) {
    it(`exportConcurrency ${exportConcurrency}: ${exportConcurrency > 1 ? 'its requests overlap' : 'one request at a time'}, every event arrives once`, async () => {
      const backend = new HoldingBackend();
      const url = await backend.start();
      const h = new GuardAgentHandler(
        { apiKey: KEY, endpoint: url, projectId: 'proj_conc', exportConcurrency, maxExportBatchSize: 2000, flushInterval: 30, rateLimit: { maxCalls: 10_000, windowMs: 60_000 } },
        { env: {}, stopBeforeExit: false },
      );
      try {
        await h.start();
        // About 1 KB each: 2,000 of them are one export of at least 8 requests under the 256 KiB body cap.
        for (let i = 0; i < 2000; i++) void h.sendEvent({ eventType: 'rate_limited', ipAddress: '198.51.100.7', reason: 'burst', metadata: { i, pad: 'x'.repeat(700) } });
        await h.flushBuffer(15_000);
        assert.equal(backend.keys.length, 2000);
        assert.equal(new Set(backend.keys).size, 2000, 'each once');
        if (exportConcurrency > 1) assert.ok(backend.maxInFlight >= 2, `requests in flight at once: ${backend.maxInFlight}`);
        else assert.equal(backend.maxInFlight, 1);
        assert.equal(h.getStats().queue.depthItems, 0, 'nothing went to the fallback queue');
      } finally {
        await h.stop(2000);
        await backend.stop();
      }
    });
  }
});
