// Signing (known-answer HMAC, both modes, verified by the dev backend), encryption (decrypted by
// the backend), partial 413 recovery on a scripted server, and a secret-leak sweep over every
// diag line, onError message, returned error and thrown message across failing scenarios.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { DEFAULT_CONFIG } from '../../src/config.js';
import type { AgentConfig } from '../../src/config-types.js';
import { DevBackend } from '../../src/dev-backend/index.js';
import { encodeBatchBody } from '../../src/models/codec.js';
import { GZIP_LEVEL } from '../../src/transport/compression.js';
import { PayloadEncryptor } from '../../src/transport/encryption.js';
import { HTTPTransport } from '../../src/transport/http-transport.js';
import type { WireBatch } from '../../src/transport/types.js';
import { VERSION } from '../../src/version.js';

const KEY = 'fg_live_SECRETKEY_0123456789';
const SIGNING = 'sign-SECRET-5f1e2d3c4b';
const ENC_KEY = randomBytes(32).toString('base64url');

function batchOf(n: number, pad = 0): WireBatch {
  const items: string[] = [];
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = `11111111-2222-4333-8444-${String(i).padStart(12, '0')}`;
    keys.push(key);
    items.push(
      JSON.stringify({
        idempotency_key: key,
        timestamp: '2026-09-02T14:03:11.482Z',
        event_type: 'rate_limited',
        ip_address: '198.51.100.23',
        action_taken: 'request_blocked',
        reason: 'Rate limit exceeded',
        metadata: { i, pad: 'q'.repeat(pad) },
      }),
    );
  }
  return { kind: 'events', batchId: '1788357791483-4e7a9c1b', items, idempotencyKeys: keys, createdAt: 1_788_357_791_483 };
}

function baseConfig(url: string, over: Partial<AgentConfig> = {}): AgentConfig {
  return { ...DEFAULT_CONFIG, apiKey: KEY, endpoint: url, projectId: null, backoffFactor: 0.01, maxBackoff: 0.02, timeout: 2, retryAttempts: 1, ...over };
}

describe('HTTPTransport: signing, encryption and secrets', () => {
  let home: string;
  const transports: HTTPTransport[] = [];
  const make = (config: AgentConfig): HTTPTransport => {
    const t = new HTTPTransport(config, { installIdHomeDir: home });
    transports.push(t);
    return t;
  };
  before(() => (home = mkdtempSync(join(tmpdir(), 'transport-sec-'))));
  after(() => rmSync(home, { recursive: true, force: true }));
  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close()));
  });

  for (const mode of ['uncompressed', 'wire'] as const) {
    it(`signs in '${mode}' mode with the known-answer HMAC, accepted by a backend verifying that mode`, async () => {
      const backend = new DevBackend({ apiKeys: [KEY], signingSecret: SIGNING, signatureMode: mode });
      const { url } = await backend.start();
      try {
        const t = make(baseConfig(url, { payloadSigningSecret: SIGNING, signatureMode: mode, compressionThreshold: 100 }));
        const batch = batchOf(4);
        const r = await t.sendBatch(batch);
        assert.equal(r.outcome, 'delivered');
        const rec = backend.batches[0];
        assert.equal(rec.gzip, true, 'the signature must hold with gzip on');
        const json = Buffer.from(
          encodeBatchBody({ projectId: null, kind: 'events', items: batch.items, batchId: batch.batchId, createdAt: batch.createdAt, agentVersion: VERSION, guardVersion: null, guardCoreVersion: null }),
        );
        const covered = mode === 'wire' ? gzipSync(json, { level: GZIP_LEVEL }) : json;
        const expected = 'v1=' + createHmac('sha256', SIGNING).update(covered).digest('hex');
        assert.equal(rec.headers['x-payload-signature'], expected);
        assert.match(expected, /^v1=[0-9a-f]{64}$/);

        // The other mode's signature is refused by this backend: 401, auth-failed mode, data kept.
        const other = make(baseConfig(url, { payloadSigningSecret: SIGNING, signatureMode: mode === 'wire' ? 'uncompressed' : 'wire', compressionThreshold: 100 }));
        const r2 = await other.sendBatch(batchOf(4));
        assert.equal(r2.outcome, 'auth_failed');
        assert.equal(r2.pending.length, 1);
      } finally {
        await backend.stop();
      }
    });
  }

  it('encrypts events and metrics to /api/v1/events/encrypted; the backend decrypts them', async () => {
    const backend = new DevBackend({ apiKeys: [KEY], encryptionKey: ENC_KEY, signingSecret: SIGNING });
    const { url } = await backend.start();
    try {
      const t = make(baseConfig(url, { projectEncryptionKey: ENC_KEY, payloadSigningSecret: SIGNING, guardVersion: '7.4.1', compressionThreshold: 200 }));
      const batch = batchOf(3, 50);
      assert.equal((await t.sendBatch(batch)).outcome, 'delivered');
      const metric = JSON.stringify({ timestamp: '2026-09-02T14:03:11.480Z', metric_type: 'request_count', value: 1, endpoint: null, tags: { method: 'POST' } });
      const r = await t.sendBatch({ kind: 'metrics', batchId: '1788357791500-0c9d2e11', items: [metric], idempotencyKeys: [], createdAt: Date.now() });
      assert.equal(r.outcome, 'delivered');
      assert.deepEqual(backend.batches.map((b) => [b.path, b.encrypted, b.batchId]), [
        ['/api/v1/events/encrypted', true, batch.batchId],
        ['/api/v1/events/encrypted', true, '1788357791500-0c9d2e11'],
      ]);
      assert.equal(backend.batches[0].gzip, true);
      assert.deepEqual(backend.events.map((e) => e.idempotency_key), batch.idempotencyKeys);
      assert.equal(backend.metrics.length, 1);
      assert.equal(backend.metrics[0].metric_type, 'request_count');
    } finally {
      await backend.stop();
    }
  });

  it('the envelope has exactly the reference fields and its payload decrypts to {"events","metrics"}', async () => {
    const bodies: Buffer[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        bodies.push(req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const t = make(baseConfig(url, { projectEncryptionKey: ENC_KEY, guardCoreVersion: '3.15.0' }));
      const batch = batchOf(2);
      await t.sendBatch(batch);
      const env = JSON.parse(bodies[0].toString());
      assert.deepEqual(Object.keys(env), ['encrypted_payload', 'batch_id', 'agent_version', 'guard_version', 'guard_core_version']);
      assert.equal(env.batch_id, batch.batchId);
      assert.equal(env.agent_version, VERSION);
      assert.equal(env.guard_core_version, '3.15.0');
      assert.ok(env.encrypted_payload.endsWith('=') || env.encrypted_payload.length % 4 === 0);
      const plain = JSON.parse(new PayloadEncryptor(ENC_KEY).decrypt(env.encrypted_payload).toString());
      assert.deepEqual(plain, { events: batch.items.map((i) => JSON.parse(i)), metrics: [] });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('413 halves: the accepted half is not re-sent; only the failing half comes back pending', async () => {
    const seen: string[][] = [];
    // 413 above 2 items; any batch holding item #3 fails with 503 (a transient error on one half).
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        const ids: string[] = body.events.map((e: { metadata: { i: number } }) => String(e.metadata.i));
        seen.push(ids);
        if (ids.length > 2) res.writeHead(413).end('{"detail":"Payload exceeds 262144 bytes"}');
        else if (ids.includes('3')) res.writeHead(503).end('busy');
        else res.writeHead(200).end('{"success":true}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const t = make(baseConfig(url, { retryAttempts: 1, compressionEnabled: false }));
      const batch = batchOf(5);
      const r = await t.sendBatch(batch);
      assert.deepEqual(seen, [['0', '1', '2', '3', '4'], ['0', '1'], ['2', '3', '4'], ['2'], ['3', '4'], ['3', '4']]);
      assert.equal(r.outcome, 'partial');
      assert.equal(r.delivered, 3);
      assert.equal(r.pending.length, 1);
      assert.deepEqual(r.pending[0].items, batch.items.slice(3));
      assert.deepEqual(r.pending[0].idempotencyKeys, batch.idempotencyKeys.slice(3));
      assert.notEqual(r.pending[0].batchId, batch.batchId);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('bounds what it reads of a huge response body and summarises it in logs', async () => {
    const backend = new DevBackend({ apiKeys: [KEY] });
    const { url } = await backend.start();
    const lines: string[] = [];
    diag.setLogger({ error: (m) => lines.push(m), warn: (m) => lines.push(m), info: (m) => lines.push(m), debug: (m) => lines.push(m), verbose: (m) => lines.push(m) }, DiagLogLevel.ALL);
    try {
      backend.faults.push({ kind: 'oversized', bytes: 5 * 1024 * 1024, times: 2 });
      const t = make(baseConfig(url));
      const r = await t.sendBatch(batchOf(1));
      assert.equal(r.outcome, 'retry_later');
      assert.equal(r.lastStatus, 500);
      assert.ok(lines.length > 0);
      for (const l of lines) assert.ok(l.length < 1000, `a ${l.length}-char log line`);
      assert.ok(lines.some((l) => l.includes('[truncated,')));
    } finally {
      diag.disable();
      await backend.stop();
    }
  });

  it('never leaks the API key, signing secret or encryption key in logs, hooks, errors or results', async () => {
    const secrets = [KEY, SIGNING, ENC_KEY];
    const texts: string[] = [];
    const logger = (m: string, ...args: unknown[]): void => {
      texts.push(m, ...args.map((a) => (a instanceof Error ? `${a.message} ${a.stack}` : JSON.stringify(a) ?? String(a))));
    };
    diag.setLogger({ error: logger, warn: logger, info: logger, debug: logger, verbose: logger }, DiagLogLevel.ALL);
    const onError = (stage: string, err: Error, ctx: Record<string, unknown>): void => {
      texts.push(stage, err.message, String(err.stack), JSON.stringify(ctx));
    };
    const collect = (r: unknown): void => {
      texts.push(JSON.stringify(r));
    };

    // A hostile server that echoes every request header back in its error bodies.
    let n = 0;
    const echo = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const echoed = JSON.stringify({ detail: 'bad request', headers: req.headers });
        const status = req.url === '/api/v1/rules' ? 403 : [500, 400, 401, 422, 413][n++ % 5];
        res.writeHead(status, { 'content-type': 'application/json' }).end(echoed);
      });
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
    const backend = new DevBackend({ apiKeys: ['fg_other_key_00000000'], signingSecret: 'different-secret-1', encryptionKey: randomBytes(32).toString('base64url') });
    const { url } = await backend.start();
    // A port with nothing listening.
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((r) => closed.close(() => r()));

    try {
      const cfg = (endpoint: string, over: Partial<AgentConfig> = {}): AgentConfig =>
        baseConfig(endpoint, { payloadSigningSecret: SIGNING, projectEncryptionKey: ENC_KEY, onError, breaker: { failureThreshold: 100, recoveryTimeoutMs: 1000 }, ...over });

      for (let i = 0; i < 8; i++) {
        const t = make(cfg(echoUrl));
        collect(await t.sendBatch(batchOf(3)));
        collect(await t.fetchRules('etag-1'));
        collect(await t.sendStatus({ timestamp: new Date(), status: 'healthy', uptime: 1, eventsSent: 0, eventsFailed: 0, bufferSize: 0, lastFlush: null, errors: [] }));
        collect(t.getStats());
      }
      const plainEcho = make(cfg(echoUrl, { projectEncryptionKey: null }));
      collect(await plainEcho.sendBatch(batchOf(2)));

      const wrong = make(cfg(url)); // wrong key, wrong signature, wrong encryption key
      collect(await wrong.sendBatch(batchOf(2)));
      collect(await wrong.fetchRules());
      collect(wrong.getStats());

      backend.faults.push({ kind: 'status', status: 500, body: 'oops fg_other_key_00000000 echoed', times: 2 });
      secrets.push('fg_other_key_00000000');
      const plain = make(cfg(url, { apiKey: 'fg_other_key_00000000', payloadSigningSecret: null, projectEncryptionKey: null }));
      collect(await plain.sendBatch(batchOf(1)));

      const dead = make(cfg(`http://user:${KEY}@127.0.0.1:${new URL(deadUrl).port}`));
      collect(await dead.sendBatch(batchOf(1)));
      collect(await dead.fetchRules());

      backend.faults.push({ kind: 'delay', ms: 300, times: 4 });
      const slow = make(cfg(url, { timeout: 0.05 }));
      collect(await slow.sendBatch(batchOf(1)));

      for (const badKey of [ENC_KEY.slice(0, 20), ENC_KEY + 'AAAA', `${ENC_KEY}!`]) {
        try {
          make(cfg(url, { projectEncryptionKey: badKey }));
          assert.fail('a bad key must throw');
        } catch (err) {
          texts.push((err as Error).message, String((err as Error).stack));
          secrets.push(badKey);
        }
      }
      try {
        wrong.updateConfig(cfg(url, { projectEncryptionKey: 'short-key-value' }));
        assert.fail('a bad key must throw');
      } catch (err) {
        texts.push((err as Error).message);
        secrets.push('short-key-value');
      }
    } finally {
      diag.disable();
      echo.closeAllConnections();
      echo.close();
      await backend.stop();
    }

    assert.ok(texts.length > 50, `only ${texts.length} texts captured`);
    assert.ok(texts.some((t) => t.includes('[REDACTED]')), 'the echoed secrets were seen and redacted');
    for (const text of texts) {
      for (const s of secrets) assert.ok(!text.includes(s), `leaked a secret in: ${text.slice(0, 200)}`);
    }
  });
});
