// The transport's building blocks, each on its own: backoff, Retry-After, breaker, token bucket,
// signing, encryption, install id, compression, response classification, byte-based batching.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { EncryptionConfigError } from '../../src/errors.js';
import { backoffCeilingMs, fullJitterDelayMs } from '../../src/transport/backoff.js';
import { buildBatches, generateBatchId, splitInHalves } from '../../src/transport/batch-builder.js';
import { CircuitBreaker } from '../../src/transport/circuit-breaker.js';
import { maybeCompress, SYNC_GZIP_MAX_BYTES } from '../../src/transport/compression.js';
import { encryptedPayloadLength, PayloadEncryptor } from '../../src/transport/encryption.js';
import { resolveInstallId } from '../../src/transport/install-id.js';
import { TokenBucketRateLimiter } from '../../src/transport/rate-limiter.js';
import { classifyStatus, summarizeBody } from '../../src/transport/response.js';
import { parseRetryAfterMs } from '../../src/transport/retry-after.js';
import { signPayload } from '../../src/transport/signing.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('transport primitives', () => {
  describe('backoff with full jitter', () => {
    it('grows exponentially up to the cap', () => {
      assert.deepEqual([0, 1, 2, 3, 10, 2000].map((a) => backoffCeilingMs(a, 1000, 60_000)), [1000, 2000, 4000, 8000, 60_000, 60_000]);
    });

    it('keeps every delay within [0, min(cap, base*2^attempt)]', () => {
      const extremes = [0, 0.999999, 1, 0.5];
      for (let attempt = 0; attempt < 12; attempt++) {
        const ceiling = backoffCeilingMs(attempt, 10, 300);
        for (const r of extremes) {
          const d = fullJitterDelayMs(attempt, { baseMs: 10, capMs: 300, random: () => r });
          assert.ok(d >= 0 && d <= ceiling, `attempt ${attempt} r=${r}: ${d} not in [0, ${ceiling}]`);
        }
        for (let i = 0; i < 200; i++) {
          const d = fullJitterDelayMs(attempt, { baseMs: 10, capMs: 300 });
          assert.ok(d >= 0 && d <= ceiling);
        }
      }
      assert.equal(fullJitterDelayMs(3, { baseMs: 10, capMs: 300, random: () => 0 }), 0);
      assert.equal(fullJitterDelayMs(3, { baseMs: 10, capMs: 300, random: () => 0.5 }), 40);
    });

    it('spreads delays (not lockstep)', () => {
      const seen = new Set<number>();
      for (let i = 0; i < 50; i++) seen.add(Math.round(fullJitterDelayMs(4, { baseMs: 100, capMs: 10_000 })));
      assert.ok(seen.size > 20, `only ${seen.size} distinct delays`);
    });
  });

  describe('Retry-After', () => {
    const now = Date.parse('2026-09-02T14:00:00Z');
    it('parses delta-seconds, clamping negatives and capping', () => {
      assert.equal(parseRetryAfterMs('2', now), 2000);
      assert.equal(parseRetryAfterMs(' 1.5 ', now), 1500);
      assert.equal(parseRetryAfterMs('-4', now), 0);
      assert.equal(parseRetryAfterMs('0', now), 0);
      assert.equal(parseRetryAfterMs('100000', now), 300_000);
      assert.equal(parseRetryAfterMs('100', now, 10_000), 10_000);
    });
    it('parses the HTTP-date form; past dates give 0', () => {
      assert.equal(parseRetryAfterMs('Wed, 02 Sep 2026 14:00:07 GMT', now), 7000);
      assert.equal(parseRetryAfterMs('Wed, 02 Sep 2026 13:59:00 GMT', now), 0);
      assert.equal(parseRetryAfterMs('Wed, 02 Sep 2027 14:00:00 GMT', now), 300_000);
      assert.equal(parseRetryAfterMs(['3', '9'], now), 3000);
    });
    it('returns null for missing or malformed values', () => {
      for (const v of [undefined, null, '', '  ', 'soon', '1-2', '1e3', 'Thu, 99 Foo 2026 xx GMT']) {
        assert.equal(parseRetryAfterMs(v as string | undefined, now), null, String(v));
      }
    });
  });

  describe('circuit breaker', () => {
    it('opens after the threshold, admits exactly one half-open probe, closes on success', () => {
      let t = 1000;
      const b = new CircuitBreaker({ failureThreshold: 3, recoveryTimeoutMs: 5000 }, () => t);
      for (let i = 0; i < 2; i++) {
        assert.ok(b.tryAcquire());
        b.onFailure();
      }
      assert.equal(b.getState(), 'CLOSED');
      assert.ok(b.tryAcquire());
      b.onFailure();
      assert.equal(b.getState(), 'OPEN');
      assert.equal(b.tryAcquire(), false);
      assert.equal(b.msUntilProbe(), 5000);
      t += 4999;
      assert.equal(b.tryAcquire(), false);
      t += 1;
      assert.equal(b.getState(), 'HALF_OPEN');
      assert.equal(b.tryAcquire(), true, 'the probe');
      assert.equal(b.tryAcquire(), false, 'a second caller is short-circuited while the probe is in flight');
      assert.equal(b.tryAcquire(), false);
      b.onSuccess();
      assert.equal(b.getState(), 'CLOSED');
      assert.equal(b.getFailureCount(), 0);
      assert.ok(b.tryAcquire() && b.tryAcquire());
    });

    it('reopens when the probe fails, and a neutral answer frees the probe slot', () => {
      let t = 0;
      const b = new CircuitBreaker({ failureThreshold: 1, recoveryTimeoutMs: 100 }, () => t);
      assert.ok(b.tryAcquire());
      b.onFailure();
      assert.equal(b.getState(), 'OPEN');
      t = 100;
      assert.ok(b.tryAcquire());
      b.onFailure();
      assert.equal(b.getState(), 'OPEN');
      assert.equal(b.tryAcquire(), false);
      t = 200;
      assert.ok(b.tryAcquire());
      b.onNeutral(); // e.g. a 429: the server is alive but says nothing about health
      assert.equal(b.getState(), 'HALF_OPEN');
      assert.ok(b.tryAcquire(), 'a new probe may go');
      assert.equal(b.tryAcquire(), false);
    });

    it('stays open initialRecoveryTimeoutMs the first time, doubles per failed probe up to recoveryTimeoutMs, starts over after a success', () => {
      let t = 0;
      const b = new CircuitBreaker({ failureThreshold: 2, recoveryTimeoutMs: 60_000, initialRecoveryTimeoutMs: 5_000 }, () => t);
      const openNow = (): void => {
        while (b.getState() !== 'OPEN') {
          assert.ok(b.tryAcquire());
          b.onFailure();
        }
      };
      openNow();
      const windows: number[] = [];
      for (let i = 0; i < 6; i++) {
        windows.push(b.msUntilProbe());
        t += b.msUntilProbe() - 1;
        assert.equal(b.tryAcquire(), false, 'still open 1 ms before the window ends');
        t += 1;
        assert.ok(b.tryAcquire(), 'the probe');
        b.onFailure();
      }
      assert.deepEqual(windows, [5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
      t += 60_000;
      assert.ok(b.tryAcquire());
      b.onSuccess();
      openNow();
      assert.equal(b.msUntilProbe(), 5_000, 'a success starts over');
    });

    it('late failures of requests sent before it opened do not grow the window', () => {
      const b = new CircuitBreaker({ failureThreshold: 1, recoveryTimeoutMs: 60_000, initialRecoveryTimeoutMs: 5_000 }, () => 0);
      for (let i = 0; i < 4; i++) assert.ok(b.tryAcquire(), 'four lanes in flight');
      for (let i = 0; i < 4; i++) b.onFailure();
      assert.equal(b.msUntilProbe(), 5_000);
    });

    it('keeps a fixed window without initialRecoveryTimeoutMs, or when it is not below recoveryTimeoutMs', () => {
      for (const initial of [undefined, 60_000, 90_000]) {
        let t = 0;
        const b = new CircuitBreaker({ failureThreshold: 1, recoveryTimeoutMs: 60_000, ...(initial === undefined ? {} : { initialRecoveryTimeoutMs: initial }) }, () => t);
        for (let i = 0; i < 3; i++) {
          assert.ok(b.tryAcquire());
          b.onFailure();
          assert.equal(b.msUntilProbe(), 60_000, String(initial));
          t += 60_000;
        }
      }
    });

    it('takes new options live', () => {
      const b = new CircuitBreaker({ failureThreshold: 10, recoveryTimeoutMs: 100 });
      b.setOptions({ failureThreshold: 1, recoveryTimeoutMs: 100 });
      b.tryAcquire();
      b.onFailure();
      assert.equal(b.getState(), 'OPEN');
    });
  });

  describe('token bucket rate limiter', () => {
    it('allows maxCalls, then refills at maxCalls/windowMs', () => {
      let t = 0;
      const l = new TokenBucketRateLimiter({ maxCalls: 3, windowMs: 3000 }, () => t);
      assert.ok(l.tryAcquire() && l.tryAcquire() && l.tryAcquire());
      assert.equal(l.tryAcquire(), false);
      assert.equal(l.msUntilToken(), 1000);
      t = 500;
      assert.equal(l.msUntilToken(), 500);
      assert.equal(l.tryAcquire(), false);
      t = 1000;
      assert.ok(l.tryAcquire());
      assert.equal(l.tryAcquire(), false);
      t = 100_000;
      assert.equal(l.availableTokens(), 3, 'never above capacity');
    });
    it('shrinks to a new capacity live', () => {
      const l = new TokenBucketRateLimiter({ maxCalls: 100, windowMs: 1000 }, () => 0);
      l.setOptions({ maxCalls: 1, windowMs: 60_000 });
      assert.ok(l.tryAcquire());
      assert.equal(l.tryAcquire(), false);
    });
  });

  describe('signing', () => {
    it('is v1= + hex HMAC-SHA256 (known answer), null without a secret', () => {
      // RFC 4231 test case 2.
      assert.equal(
        signPayload(Buffer.from('what do ya want for nothing?'), 'Jefe'),
        'v1=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
      );
      assert.equal(signPayload('x', null), null);
      assert.equal(signPayload('x', ''), null);
    });
  });

  describe('encryption', () => {
    const key = randomBytes(32).toString('base64url');
    it('round-trips; output is padded url-safe base64 of nonce||ct||tag', () => {
      const enc = new PayloadEncryptor(key);
      const plain = '{"events":[{"a":"ü"}],"metrics":[]}';
      const out = enc.encrypt(plain);
      assert.match(out, /^[A-Za-z0-9_-]+={0,2}$/);
      assert.equal(out.length % 4, 0);
      const raw = Buffer.from(out, 'base64url');
      assert.equal(raw.length, 12 + Buffer.byteLength(plain) + 16);
      assert.equal(out.length, encryptedPayloadLength(Buffer.byteLength(plain)));
      assert.equal(enc.decrypt(out).toString('utf8'), plain);
      assert.notEqual(enc.encrypt(plain), out, 'fresh nonce each time');
      // Accepts the key with `=` padding too.
      const padded = randomBytes(32).toString('base64');
      const urlPadded = padded.replace(/\+/g, '-').replace(/\//g, '_');
      assert.ok(urlPadded.endsWith('='));
      assert.equal(new PayloadEncryptor(urlPadded).decrypt(new PayloadEncryptor(urlPadded).encrypt('x')).toString(), 'x');
    });
    it('refuses bad keys with EncryptionConfigError that never contains the key', () => {
      const bad = [randomBytes(16).toString('base64url'), randomBytes(33).toString('base64url'), 'not*base64!!secretish', ''];
      for (const k of bad) {
        assert.throws(
          () => new PayloadEncryptor(k),
          (err: unknown) => err instanceof EncryptionConfigError && (k === '' || !err.message.includes(k)),
        );
      }
    });
    it('rejects a tampered payload', () => {
      const enc = new PayloadEncryptor(key);
      const raw = Buffer.from(enc.encrypt('hello'), 'base64url');
      raw[14] ^= 1;
      assert.throws(() => enc.decrypt(raw.toString('base64url')));
    });
  });

  describe('install id', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'install-id-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('override wins; otherwise a UUID v4 persisted under .guard-agent/install-id', () => {
      assert.equal(resolveInstallId({ override: 'my-id', homeDir: dir }), 'my-id');
      const id = resolveInstallId({ homeDir: dir });
      assert.match(id, UUID_V4);
      assert.equal(readFileSync(join(dir, '.guard-agent', 'install-id'), 'utf8').trim(), id);
      assert.equal(resolveInstallId({ homeDir: dir }), id, 'stable across calls');
      writeFileSync(join(dir, '.guard-agent', 'install-id'), '  existing-id \n');
      assert.equal(resolveInstallId({ homeDir: dir }), 'existing-id');
    });

    it('falls back to an in-memory id with a warning when home is unwritable or missing (never throws)', () => {
      const warnings: string[] = [];
      diag.setLogger(
        { error: () => {}, warn: (m: string) => warnings.push(m), info: () => {}, debug: () => {}, verbose: () => {} },
        DiagLogLevel.WARN,
      );
      try {
        // A FILE where the .guard-agent directory should be: unwritable even for root.
        writeFileSync(join(dir, '.guard-agent'), 'not a directory');
        const a = resolveInstallId({ homeDir: dir });
        const b = resolveInstallId({ homeDir: join(dir, '.guard-agent', 'below-a-file') });
        const c = resolveInstallId({ homeDir: '' });
        assert.match(a, UUID_V4);
        assert.equal(b, a, 'one in-memory id per process');
        assert.equal(c, a);
        assert.ok(warnings.some((w) => w.includes('in-memory id')));
      } finally {
        diag.disable();
      }
    });
  });

  describe('compression', () => {
    const settings = { compressionEnabled: true, compressionThreshold: 100 };
    it('gzips at the threshold, not just below it, and not when disabled', async () => {
      const below = Buffer.alloc(99, 'a');
      const at = Buffer.alloc(100, 'a');
      assert.equal((await maybeCompress(below, settings)).gzipped, false);
      const z = await maybeCompress(at, settings);
      assert.equal(z.gzipped, true);
      assert.deepEqual(gunzipSync(z.bytes), at);
      assert.equal((await maybeCompress(at, { ...settings, compressionEnabled: false })).gzipped, false);
    });
    it('gzips large bodies off the event loop with the same result', async () => {
      const big = Buffer.from(JSON.stringify(Array.from({ length: 20_000 }, (_, i) => ({ i, s: `v${i * 7919}` }))));
      assert.ok(big.length > SYNC_GZIP_MAX_BYTES);
      const z = await maybeCompress(big, settings);
      assert.equal(z.gzipped, true);
      assert.deepEqual(gunzipSync(z.bytes), big);
    });
  });

  describe('response classification and summaries', () => {
    const j = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));
    it('treats any 2xx as success unless success:false or truthy errors', () => {
      assert.equal(classifyStatus(200, j({})), 'success');
      assert.equal(classifyStatus(200, Buffer.from('')), 'success');
      assert.equal(classifyStatus(200, Buffer.from('<html>')), 'success');
      assert.equal(classifyStatus(202, Buffer.from('')), 'success');
      assert.equal(classifyStatus(204, Buffer.from('')), 'success');
      assert.equal(classifyStatus(201, j([1])), 'success');
      assert.equal(classifyStatus(200, j({ success: true, errors: null })), 'success');
      assert.equal(classifyStatus(200, j({ success: true, errors: [] })), 'success');
      // Python truthiness, as the reference's agent reads `errors`: an empty object, string or 0 says nothing went wrong.
      for (const errors of [{}, '', 0, false]) assert.equal(classifyStatus(200, j({ success: true, errors })), 'success', JSON.stringify(errors));
      assert.equal(classifyStatus(200, j({ errors: { events: 'quota' } })), 'partial');
      assert.equal(classifyStatus(200, j({ errors: 'quota' })), 'partial');
      assert.equal(classifyStatus(200, j({ success: false })), 'partial');
      assert.equal(classifyStatus(200, j({ errors: ['quota'] })), 'partial');
    });
    it('classifies the status table', () => {
      const table: Array<[number, string]> = [
        [400, 'permanent'], [404, 'permanent'], [422, 'permanent'], [413, 'too_large'], [401, 'auth'], [403, 'auth'],
        [429, 'rate_limited'], [500, 'server_error'], [503, 'server_error'], [302, 'unexpected'], [405, 'unexpected'],
        [408, 'unexpected'], [409, 'unexpected'],
      ];
      for (const [status, cls] of table) assert.equal(classifyStatus(status, Buffer.from('')), cls, String(status));
    });
    it('summarises bodies: whitespace collapsed, <= 300 chars plus a truncation note', () => {
      assert.equal(summarizeBody('  a \n\t b  '), 'a b');
      const long = 'x'.repeat(1000);
      assert.equal(summarizeBody(long), 'x'.repeat(300) + '... [truncated, 1000 chars total]');
    });
  });

  describe('batch builder', () => {
    const item = (i: number, pad: number): string => JSON.stringify({ idempotency_key: `k${i}`, p: 'x'.repeat(pad) });

    it('generates {epochMillis}-{8 hex} ids', () => {
      assert.match(generateBatchId(1778580000123), /^1778580000123-[0-9a-f]{8}$/);
      assert.notEqual(generateBatchId(), generateBatchId());
    });

    it('splits by bytes so that envelope + items never exceed the cap, keeping order and keys aligned', () => {
      const items = Array.from({ length: 500 }, (_, i) => item(i, (i * 37) % 900));
      const keys = items.map((_, i) => `k${i}`);
      const cap = 8192;
      const envelope = 200;
      const batches = buildBatches('events', items, keys, cap, 1000, { envelopeBytes: envelope });
      assert.ok(batches.length > 1);
      assert.deepEqual(batches.flatMap((b) => b.items), items);
      assert.deepEqual(batches.flatMap((b) => b.idempotencyKeys), keys);
      for (const b of batches) {
        const body = '{' + 'e'.repeat(envelope - 2) + '[' + b.items.join(',') + ']'; // envelope + joined items
        assert.ok(Buffer.byteLength(body) <= cap + 1, `batch of ${Buffer.byteLength(body)} bytes`);
        assert.ok(Buffer.byteLength(b.items.join(',')) + envelope <= cap);
        assert.equal(b.createdAt, 1000);
        assert.match(b.batchId, /^1000-[0-9a-f]{8}$/);
      }
      // Greedy: each batch but the last could not take the next item.
      for (let i = 0; i < batches.length - 1; i++) {
        const next = batches[i + 1].items[0];
        assert.ok(Buffer.byteLength(batches[i].items.join(',')) + 1 + Buffer.byteLength(next) + envelope > cap);
      }
    });

    it('counts multi-byte characters as bytes', () => {
      const items = Array.from({ length: 10 }, () => JSON.stringify({ s: 'é'.repeat(100) })); // 208 bytes, 108 chars
      const batches = buildBatches('metrics', items, [], 1000, 0, { envelopeBytes: 0 });
      for (const b of batches) assert.ok(Buffer.byteLength(b.items.join(',')) <= 1000);
      assert.equal(batches[0].items.length, 4);
      assert.deepEqual(batches[0].idempotencyKeys, []);
    });

    it('drops an item that alone exceeds the cap, counted as too_large', () => {
      let tooLarge = 0;
      const items = [item(0, 10), item(1, 5000), item(2, 10)];
      const batches = buildBatches('events', items, ['k0', 'k1', 'k2'], 1024, 0, { onTooLarge: (n) => (tooLarge = n), envelopeBytes: 100 });
      assert.equal(tooLarge, 1);
      assert.deepEqual(batches.flatMap((b) => b.items), [items[0], items[2]]);
      assert.deepEqual(batches.flatMap((b) => b.idempotencyKeys), ['k0', 'k2']);
    });

    it('caps the items per batch when asked, after the bytes', () => {
      const items = Array.from({ length: 7 }, (_, i) => item(i, 10));
      const keys = items.map((_, i) => `k${i}`);
      const batches = buildBatches('events', items, keys, 100_000, 0, { maxItems: 3 });
      assert.deepEqual(batches.map((b) => b.items.length), [3, 3, 1]);
      assert.deepEqual(batches.flatMap((b) => b.idempotencyKeys), keys);
      for (const b of batches) assert.match(b.batchId, /^\d+-[0-9a-f]{8}$/, 'the protocol batch id form');
    });

    it('splits in halves with fresh batch ids', () => {
      const b = buildBatches('events', ['1', '2', '3', '4', '5'], ['a', 'b', 'c', 'd', 'e'], 10_000, 5)[0];
      const [l, r] = splitInHalves({ ...b, attempts: 2 });
      assert.deepEqual([l.items, r.items], [['1', '2'], ['3', '4', '5']]);
      assert.deepEqual([l.idempotencyKeys, r.idempotencyKeys], [['a', 'b'], ['c', 'd', 'e']]);
      assert.notEqual(l.batchId, b.batchId);
      assert.notEqual(l.batchId, r.batchId);
      assert.equal(l.createdAt, 5);
      assert.equal(r.attempts, 2);
    });
  });

  it('HMAC known answer matches node:crypto directly (sanity for the integration tests)', () => {
    const body = Buffer.from('{"a":1}');
    assert.equal(signPayload(body, 's3cret'), 'v1=' + createHmac('sha256', 's3cret').update(body).digest('hex'));
  });
});
