/**
 * The demo's parts on their own: option parsing, the traffic mix, the
 * traffic driver against a real HTTP server (rate, concurrency bound,
 * abort), and the summary/verdict over a real DevBackend and OtlpReceiver
 * fed by the real agent pipeline's wire formats.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { resolveConfig } from '../../src/config.js';
import { DevBackend, DEFAULT_DEV_API_KEY } from '../../src/dev-backend/index.js';
import { SecurityEvent, SecurityMetric } from '../../src/models/index.js';
import { HTTPTransport } from '../../src/transport/index.js';
import {
  countDeliveries,
  driveTraffic,
  emptyTally,
  formatSummary,
  judge,
  parseDuration,
  parsePortBase,
  parseRate,
  raisesSecurityEvent,
  scriptedRequest,
  type DeliveryCounts,
} from '../../src/demo/index.js';
import { OtlpReceiver } from '../../src/otlp-receiver/index.js';

describe('demo parts', function () {
  describe('options', () => {
    it('parses durations, rates and port bases, and rejects nonsense with a message', () => {
      assert.equal(parseDuration('20s'), 20_000);
      assert.equal(parseDuration('1500ms'), 1500);
      assert.equal(parseDuration('1m'), 60_000);
      assert.equal(parseDuration('2.5'), 2500);
      for (const bad of ['', 'fast', '-1s', '0s', '10h']) assert.throws(() => parseDuration(bad), /duration/);
      assert.equal(parseRate('40'), 40);
      assert.throws(() => parseRate('0'), /--rate/);
      assert.equal(parsePortBase('0'), 0);
      assert.equal(parsePortBase('40000'), 40000);
      assert.throws(() => parsePortBase('65535'), /--port-base/);
    });
  });

  describe('traffic mix', () => {
    it('one cycle of 20: 9 normal, 2 unauthorized, 2 forbidden, 3 rate-limited, 4 attacks', () => {
      const kinds: Record<string, number> = {};
      for (let i = 0; i < 20; i++) kinds[scriptedRequest(i).kind] = (kinds[scriptedRequest(i).kind] ?? 0) + 1;
      assert.deepEqual(kinds, { normal: 9, unauthorized: 2, forbidden: 2, rate_limited: 3, attack: 4 });
      assert.deepEqual(scriptedRequest(3), scriptedRequest(23), 'the cycle repeats');
    });

    it('counts 401/403/429 and rejected attacks as security events, nothing else', () => {
      const attack = scriptedRequest(3);
      const normal = scriptedRequest(0);
      assert.equal(attack.kind, 'attack');
      assert.equal(raisesSecurityEvent(attack, 400), true);
      assert.equal(raisesSecurityEvent(normal, 400), false);
      assert.equal(raisesSecurityEvent(normal, 200), false);
      for (const s of [401, 403, 429]) assert.equal(raisesSecurityEvent(normal, s), true);
    });
  });

  describe('traffic driver', () => {
    let server: Server;
    let baseUrl: string;
    let inFlight = 0;
    let maxInFlight = 0;
    let delayMs = 0;
    beforeEach(async () => {
      inFlight = 0;
      maxInFlight = 0;
      delayMs = 0;
      server = createServer((req, res) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        req.resume();
        setTimeout(() => {
          inFlight--;
          res.writeHead(req.url === '/admin' ? 403 : 200).end('ok');
        }, delayMs);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterEach(async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    });

    it('sends rate x duration requests on schedule and tallies the answers', async () => {
      const t0 = Date.now();
      const tally = await driveTraffic({ baseUrl, rate: 100, durationMs: 500, concurrency: 8 });
      const took = Date.now() - t0;
      assert.equal(tally.planned, 50);
      assert.equal(tally.sent, 50);
      assert.equal(tally.answered, 50);
      assert.equal(tally.failed, 0);
      const admin = Array.from({ length: 50 }, (_, i) => scriptedRequest(i)).filter((r) => r.path === '/admin').length;
      assert.equal(tally.byStatus['403'], admin, 'this server answers 403 to every /admin');
      assert.equal(tally.byStatus['200'], 50 - admin);
      assert.ok(took >= 450 && took < 3000, `took ${took} ms`);
    });

    it('never holds more than `concurrency` requests in flight when the app is slow', async () => {
      delayMs = 100;
      const tally = await driveTraffic({ baseUrl, rate: 400, durationMs: 100, concurrency: 4 });
      assert.equal(tally.answered, 40);
      assert.ok(maxInFlight <= 4, `max in flight ${maxInFlight}`);
    });

    it('stops promptly on abort, cancelling what is in flight', async () => {
      delayMs = 2000;
      const controller = new AbortController();
      const t0 = Date.now();
      setTimeout(() => controller.abort(), 200);
      const tally = await driveTraffic({ baseUrl, rate: 50, durationMs: 10_000, concurrency: 4, signal: controller.signal });
      assert.ok(Date.now() - t0 < 1000, 'stopped within a second');
      assert.ok(tally.sent < 500 && tally.answered === 0 && tally.failed === 0, JSON.stringify(tally));
    });
  });

  describe('summary and verdict', () => {
    let backend: DevBackend;
    let receiver: OtlpReceiver;
    beforeEach(async () => {
      backend = new DevBackend();
      await backend.start({ port: 0 });
      receiver = new OtlpReceiver();
      await receiver.start();
    });
    afterEach(async () => {
      await backend.stop();
      await receiver.stop();
    });

    async function post(url: string, body: unknown): Promise<number> {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      await res.arrayBuffer();
      return res.status;
    }
    const otlpLog = (k: string, type: string) => ({
      eventName: 'guard.security_event',
      attributes: [
        { key: 'guard.event_type', value: { stringValue: type } },
        { key: 'guard.idempotency_key', value: { stringValue: k } },
      ],
    });

    /** The backend side through the real transport; the OTLP side as the OTLP/HTTP JSON exporters send it. */
    async function deliver(backendKeys: string[], otlpKeys: string[]): Promise<DeliveryCounts> {
      const transport = new HTTPTransport(resolveConfig({ apiKey: DEFAULT_DEV_API_KEY, endpoint: backend.url, projectId: 'proj_demo_parts' }));
      try {
        const events = backendKeys.map((k) => new SecurityEvent({ eventType: 'access_denied', ipAddress: '127.0.0.1', actionTaken: 'observed', reason: 'test', idempotencyKey: k }));
        assert.equal((await transport.sendEvents(events)).delivered, backendKeys.length);
        assert.equal((await transport.sendMetrics([new SecurityMetric({ metricType: 'request_count', value: 3 })])).delivered, 1);
      } finally {
        await transport.close();
      }
      assert.equal(await post(`${receiver.url}/v1/logs`, { resourceLogs: [{ scopeLogs: [{ logRecords: otlpKeys.map((k) => otlpLog(k, 'access_denied')) }] }] }), 200);
      assert.equal(await post(`${receiver.url}/v1/metrics`, { resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'guard.request.count', sum: { dataPoints: [{ asInt: '3' }] } }] }] }] }), 200);
      return countDeliveries(backend, receiver);
    }

    it('passes when the same events reached both sides and match the traffic', async () => {
      const [k1, k2] = [randomUUID(), randomUUID()];
      const counts = await deliver([k1, k2], [k1, k2]);
      const tally = { ...emptyTally(), expectedEvents: 2 };
      const verdict = judge(counts, tally);
      assert.equal(verdict.ok, true, verdict.line);
      assert.match(verdict.line, /^check: every guard event reached both \(2 at the guard backend, 2 at the OTLP receiver, 2 expected/);
      const lines = formatSummary(counts, { backendUrl: backend.url, otlpUrl: receiver.url });
      assert.match(lines.join('\n'), /^security events\s+2 unique \(2 received\)\s+2 guard log records$/m);
      assert.match(lines.join('\n'), /^ {2}access_denied\s+2\s+2$/m);
      assert.match(lines.join('\n'), /^\s+request_count 1\s+guard\.request\.count 1$/m);
    });

    it('fails, naming what is missing, when an event reached only one side or the count is off', async () => {
      const [k1, k2, k3] = [randomUUID(), randomUUID(), randomUUID()];
      const counts = await deliver([k1, k2, k3], [k1, k2]);
      const verdict = judge(counts, { ...emptyTally(), expectedEvents: 4 });
      assert.equal(verdict.ok, false);
      assert.match(verdict.line, /^check FAILED: /);
      assert.ok(verdict.problems.includes('1 event(s) reached the guard backend but not the OTLP receiver'), verdict.line);
      assert.ok(verdict.problems.some((p) => p.includes('should have raised 4 security events')), verdict.line);
    });
  });
});
