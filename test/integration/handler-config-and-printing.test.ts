/**
 * The handler as an app handles it outside sending: printing it (a debug
 * log of an object that holds it) shows no secret, and `updateConfig` calls
 * made without awaiting each other all apply, an undefined field changing
 * nothing.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { DevBackend } from '../../src/dev-backend/index.js';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { guardAgent } from '../../src/otel/guard-agent.js';
import { resetOtelGlobals } from '../helpers/otel-globals.js';
import { until } from '../helpers/until.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

const KEY = 'printing-api-key-0123456789';
const SIGNING = 'printing-signing-secret';
const ENC_KEY = Buffer.alloc(32, 9).toString('base64url');
const REDIS_PASSWORD = 'not-the-real-pass';

describe('GuardAgentHandler: printing and live config (real dev backend, real Redis)', () => {
  let backend: DevBackend;
  let url: string;
  const handlers: GuardAgentHandler[] = [];
  beforeEach(async () => {
    backend = new DevBackend({ apiKeys: [KEY], signingSecret: SIGNING, encryptionKey: ENC_KEY });
    ({ url } = await backend.start());
  });
  afterEach(async () => {
    await Promise.all(handlers.splice(0).map((h) => h.stop(2000)));
    await backend.stop();
  });

  function handler(extra: Record<string, unknown> = {}): GuardAgentHandler {
    const h = new GuardAgentHandler(
      { apiKey: KEY, endpoint: url, projectId: 'proj_print', flushInterval: 10, payloadSigningSecret: SIGNING, projectEncryptionKey: ENC_KEY, ...extra },
      { env: {}, stopBeforeExit: false },
    );
    handlers.push(h);
    return h;
  }

  let redis: RedisServerHandle;
  before(async () => {
    redis = await startRedisServer();
    // Set after the start: the helper's readiness PING goes without a password.
    assert.match(await redis.command('CONFIG', 'SET', 'requirepass', REDIS_PASSWORD), /^\+OK/);
  });
  after(async () => {
    await redis.stop();
  });

  it('util.inspect and JSON.stringify of the handler and of getConfig() show no secret (API key, signing secret, encryption key, Redis password)', async () => {
    const h = handler({ redisUrl: `redis://:${REDIS_PASSWORD}@127.0.0.1:${redis.port}` });
    await h.start();
    await until('the queue on the password-protected Redis', () => h.getStats().queue.redisAvailable === true);
    await h.sendEvent({ eventType: 'ip_banned', ipAddress: '198.51.100.1', reason: 'printed' });
    await h.flushBuffer(5000);
    assert.equal(backend.events.length, 1, 'the redacted printing changes nothing sent: signed, encrypted, delivered');
    const printed = {
      'inspect(handler)': inspect(h, { depth: 8 }),
      'JSON.stringify(handler)': JSON.stringify(h),
      'inspect(getConfig())': inspect(h.getConfig(), { depth: 8 }),
      'JSON.stringify(getConfig())': JSON.stringify(h.getConfig()),
      'inspect({ agent })': inspect({ agent: h }, { depth: 8 }),
      getStats: JSON.stringify(h.getStats()),
      getStatus: JSON.stringify(await h.getStatus()),
    };
    for (const [how, text] of Object.entries(printed)) {
      for (const secret of [KEY, SIGNING, ENC_KEY, REDIS_PASSWORD]) assert.ok(!text.includes(secret), `${how} shows a secret`);
    }
    // Still useful to read: what it is, where it sends, whether it runs.
    assert.match(printed['inspect(handler)'], /GuardAgentHandler/);
    assert.ok(printed['inspect(handler)'].includes(url), 'the endpoint is shown');
    assert.match(printed['inspect(handler)'], /running: true/);
    assert.equal((JSON.parse(printed['JSON.stringify(handler)']) as { projectId: string }).projectId, 'proj_print');
  });

  it('util.inspect of the guardAgent() setup at any depth shows no secret: Redis clients, key material and the requests in flight are kept out of print', async () => {
    const setup = guardAgent({
      apiKey: KEY,
      endpoint: url,
      projectId: 'proj_print',
      payloadSigningSecret: SIGNING,
      projectEncryptionKey: ENC_KEY,
      redisUrl: `redis://:${REDIS_PASSWORD}@127.0.0.1:${redis.port}`,
      instrumentation: { mode: 'enforce' },
      handlerOptions: { env: {}, stopBeforeExit: false },
    });
    const h = setup.handler;
    handlers.push(h);
    // As an app runs it: NodeSDK hands the instrumentation its providers.
    const sdk = new NodeSDK({
      autoDetectResources: false,
      serviceName: 'guard-printing-test',
      logRecordProcessors: setup.logRecordProcessors,
      metricReaders: setup.metricReaders,
      spanProcessors: setup.spanProcessors,
      instrumentations: [setup.instrumentation],
    });
    sdk.start();
    try {
      await printWithoutSecrets();
    } finally {
      await sdk.shutdown();
      resetOtelGlobals();
    }

    async function printWithoutSecrets(): Promise<void> {
    await h.start();
    await until('the queue on the password-protected Redis', () => h.getStats().queue.redisAvailable === true);
    // A send held by the backend: undici's pool then holds the request, API key header included.
    backend.faults.push({ kind: 'delay', ms: 1500, path: '/api/v1/events' });
    const sentBefore = h.getStats().transport.requestsSent;
    await h.sendEvent({ eventType: 'ip_banned', ipAddress: '198.51.100.2', reason: 'in flight while printed' });
    const flushed = h.flushBuffer(5000);
    await until('the request in flight', () => h.getStats().transport.requestsSent > sentBefore);
    const keyBytes = Buffer.from(ENC_KEY, 'base64url');
    for (const showHidden of [false, true]) {
      for (const depth of [2, 6, Infinity]) {
        const text = inspect(setup, { depth, showHidden });
        for (const secret of [KEY, SIGNING, ENC_KEY, REDIS_PASSWORD, inspect(keyBytes).slice(8, 40)]) {
          assert.ok(!text.includes(secret), `inspect(setup, { depth: ${depth}, showHidden: ${showHidden} }) shows a secret`);
        }
      }
    }
    await flushed;
    assert.equal(backend.events.length, 1, 'what was printed still works: delivered, signed and encrypted');
    }
  });

  it('updateConfig calls not awaited one by one all apply (each merges onto the one before)', async () => {
    const h = handler({ statusInterval: 300 });
    await h.start();
    await Promise.all([h.updateConfig({ flushInterval: 5 }), h.updateConfig({ statusInterval: 120 }), h.updateConfig({ guardVersion: '9.9.9' })]);
    const c = h.getConfig();
    assert.equal(c.flushInterval, 5, 'the first update survives the later ones');
    assert.equal(c.statusInterval, 120);
    assert.equal(c.guardVersion, '9.9.9');
    // An invalid one in the middle is refused alone, naming its field; the others apply.
    const results = await Promise.allSettled([h.updateConfig({ flushInterval: 6 }), h.updateConfig({ timeout: -1 }), h.updateConfig({ statusInterval: 180 })]);
    assert.equal(results[1].status, 'rejected');
    assert.match(String((results[1] as PromiseRejectedResult).reason), /timeout/);
    assert.equal(h.getConfig().flushInterval, 6);
    assert.equal(h.getConfig().statusInterval, 180);
    assert.equal(h.getConfig().timeout, 30);
  });

  it('updateConfig with a field set to undefined keeps it: the queue stays on Redis, the rules poll keeps its project', async () => {
    const h = handler({ redisUrl: 'redis://127.0.0.1:6379', flushInterval: 7 });
    await h.start();
    const env: Record<string, string | undefined> = {};
    await h.updateConfig({ guardVersion: '1.2.3', projectId: env.GUARD_PROJECT, redisUrl: env.GUARD_REDIS, flushInterval: undefined });
    const c = h.getConfig();
    assert.equal(c.guardVersion, '1.2.3');
    assert.equal(c.projectId, 'proj_print');
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(c.flushInterval, 7);
    assert.equal(h.getStats().queue.backend, 'redis', 'the fallback queue did not move to memory');
  });
});
