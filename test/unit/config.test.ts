import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { resolveConfig, mergeConfig, describeConfig, DEFAULT_CONFIG, CONFIG_FIELDS, NESTED_FIELDS } from '../../src/config.js';
import { GuardAgentConfigError, GuardAgentValidationError } from '../../src/errors.js';
import { parseClusterNodes } from '../../src/queue/redis-cluster-nodes.js';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';

const KEY = 'fg_test_0123456789';

describe('AgentConfig', () => {
  it('applies the reference defaults', () => {
    const c = resolveConfig({ apiKey: KEY }, { env: {} });
    assert.equal(c.endpoint, 'https://api.guard-core.com');
    assert.equal(c.bufferSize, 100);
    assert.equal(c.flushInterval, 30);
    assert.equal(c.dynamicRuleInterval, 300);
    assert.equal(c.statusInterval, 300);
    assert.equal(c.retryAttempts, 3);
    assert.equal(c.timeout, 30);
    assert.equal(c.backoffFactor, 1);
    assert.equal(c.compressionThreshold, 1024);
    assert.equal(c.enableEvents, true);
    assert.equal(c.enableMetrics, true);
    assert.equal(c.maxEventBytes, 65536);
    assert.equal(c.maxBodyBytes, 262144);
    // The reference's 5 failures and 60 s, with a first window of 5 s that doubles up to them (circuit-breaker.ts).
    assert.deepEqual(c.breaker, { failureThreshold: 5, recoveryTimeoutMs: 60000, initialRecoveryTimeoutMs: 5000 });
    assert.equal(c.signatureMode, 'uncompressed');
  });

  it('reads every GUARD_AGENT_* variable, and explicit options win over env', () => {
    const env = {
      GUARD_AGENT_API_KEY: KEY, GUARD_AGENT_ENDPOINT: 'http://127.0.0.1:9/', GUARD_AGENT_PROJECT_ID: 'proj_1',
      GUARD_AGENT_BUFFER_SIZE: '50', GUARD_AGENT_FLUSH_INTERVAL: '2.5', GUARD_AGENT_ENABLE_METRICS: 'false',
      GUARD_AGENT_SENSITIVE_HEADERS: 'Authorization, X-Token', GUARD_AGENT_BREAKER_FAILURE_THRESHOLD: '9',
      GUARD_AGENT_SIGNATURE_MODE: 'wire', GUARD_AGENT_REDIS_URL: 'redis://127.0.0.1:6379',
    };
    const c = resolveConfig({ bufferSize: 70 }, { env });
    assert.equal(c.apiKey, KEY);
    assert.equal(c.endpoint, 'http://127.0.0.1:9');
    assert.equal(c.projectId, 'proj_1');
    assert.equal(c.bufferSize, 70);
    assert.equal(c.flushInterval, 2.5);
    assert.equal(c.enableMetrics, false);
    assert.deepEqual(c.sensitiveHeaders, ['authorization', 'x-token']);
    assert.equal(c.breaker.failureThreshold, 9);
    assert.equal(c.signatureMode, 'wire');
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
    // every field but the code-only hook has an env var
    for (const [field, spec] of Object.entries(CONFIG_FIELDS)) if (field !== 'onError') assert.match(spec.env, /^GUARD_AGENT_[A-Z_]+$/, field);
  });

  it('throws one GuardAgentConfigError listing every problem, each naming its field', () => {
    assert.throws(
      () => resolveConfig({ apiKey: 'short', endpoint: 'ftp://x', bufferSize: 0, retryAttempts: -1, dynamicRuleInterval: 10, breaker: { failureThreshold: 0 }, bufferOverflowPolicy: 'explode' as never }, { env: {} }),
      (err: unknown) => {
        assert.ok(err instanceof GuardAgentConfigError);
        const fields = err.problems.map((p) => p.field).sort();
        assert.deepEqual(fields, ['apiKey', 'breaker.failureThreshold', 'bufferOverflowPolicy', 'bufferSize', 'dynamicRuleInterval', 'endpoint', 'retryAttempts'].sort());
        assert.match(err.message, /Endpoint URL must use http or https scheme/);
        return true;
      },
    );
    assert.throws(() => resolveConfig({}, { env: {} }), /apiKey: is required/);
    assert.throws(() => resolveConfig({ apiKey: KEY }, { env: { GUARD_AGENT_TIMEOUT: 'soon' } }), /timeout \(GUARD_AGENT_TIMEOUT\): expected a number/);
    assert.throws(() => resolveConfig({ apiKey: KEY, endpoint: '' }, { env: {} }), /Endpoint URL cannot be empty/);
    assert.throws(() => resolveConfig({ apiKey: KEY, endpoint: 'api.example.com' }, { env: {} }), /valid URL with scheme and domain/);
  });

  it('checks projectEncryptionKey at configuration time, naming the field and never quoting the key', () => {
    const key = Buffer.alloc(32, 7).toString('base64url') + '=';
    assert.equal(resolveConfig({ apiKey: KEY, projectEncryptionKey: key }, { env: {} }).projectEncryptionKey, key);
    // Wrapped or pasted with a newline: the same key bytes, as Python's decoder reads it.
    assert.doesNotThrow(() => resolveConfig({ apiKey: KEY, projectEncryptionKey: `${key.slice(0, 20)}\n${key.slice(20)}` }, { env: {} }));
    const problem = (projectEncryptionKey: string, env: Record<string, string> = {}) => {
      try {
        resolveConfig({ apiKey: KEY, ...(projectEncryptionKey === '<env>' ? {} : { projectEncryptionKey }) }, { env });
      } catch (err) {
        assert.ok(err instanceof GuardAgentConfigError);
        const p = err.problems.find((x) => x.field.startsWith('projectEncryptionKey'));
        assert.ok(p, err.message);
        return p.message;
      }
      return null;
    };
    assert.match(problem('') ?? '', /Project key cannot be empty/, 'an explicit empty option does not silently turn encryption off');
    assert.equal(problem('<env>', { GUARD_AGENT_PROJECT_ENCRYPTION_KEY: '' }), null, 'an empty env var means unset');
    const standard = Buffer.alloc(32, 251).toString('base64');
    assert.match(problem(standard) ?? '', /URL-safe base64 \('-' and '_', not '\+' and '\/'\)/);
    assert.ok(!(problem(standard) ?? '').includes(standard));
    assert.match(problem(Buffer.alloc(16, 1).toString('base64url')) ?? '', /decodes to 16 bytes, expected 32/);
    assert.match(problem('<env>', { GUARD_AGENT_PROJECT_ENCRYPTION_KEY: 'not base64!' }) ?? '', /expected URL-safe base64/);
  });

  it('refuses an endpoint with a query, a fragment or credentials, naming the field and never quoting it', () => {
    // The API paths are appended to the endpoint: after '?' or '#' every batch would go to the wrong path (and be dropped on a 404).
    for (const endpoint of ['https://guard.example.com/?region=eu', 'https://guard.example.com#x', 'https://guard.example.com/?']) {
      assert.throws(() => resolveConfig({ apiKey: KEY, endpoint }, { env: {} }), /endpoint: Endpoint must not carry a query string or fragment/, endpoint);
    }
    assert.throws(
      () => resolveConfig({ apiKey: KEY, endpoint: 'https://alice:pa55word@guard.example.com' }, { env: {} }),
      (e: Error) => /endpoint: Endpoint must not carry credentials/.test(e.message) && !e.message.includes('pa55word'),
    );
    // A base path stays allowed (a backend behind a prefix).
    assert.equal(resolveConfig({ apiKey: KEY, endpoint: 'https://gw.example.com/guard' }, { env: {} }).endpoint, 'https://gw.example.com/guard');
  });

  it('never echoes a secret in an error', () => {
    const secret = 'super-secret-signing-value';
    assert.throws(() => resolveConfig({ apiKey: KEY, signatureMode: secret as never }, { env: {} }), (e: Error) => !e.message.includes(KEY));
    assert.throws(() => resolveConfig({ apiKey: 123 as never, payloadSigningSecret: 5 as never }, { env: {} }), (e: Error) => !e.message.includes('123'));
  });

  it('a redisUrl that is no URL (a port typo) is a GuardAgentConfigError naming redisUrl, without the password, at construction too', () => {
    const url = 'redis://app:redis-pass-3@127.0.0.1:63790x/0';
    for (const build of [() => resolveConfig({ apiKey: KEY, redisUrl: url }, { env: {} }), () => new GuardAgentHandler({ apiKey: KEY, redisUrl: url }, { env: {}, stopBeforeExit: false })]) {
      // Before, ioredis's URL parse threw at construction: a TypeError 'Invalid URL' whose `input` (printed by util.inspect and by a crash) is the whole URL.
      assert.throws(build, (e: Error) => {
        assert.ok(e instanceof GuardAgentConfigError, inspect(e));
        assert.match(e.message, /redisUrl: /);
        assert.ok(!inspect(e, { showHidden: true, depth: 10 }).includes('redis-pass-3'), inspect(e));
        return true;
      });
    }
  });

  it('prints without its secrets: util.inspect and JSON.stringify hide the keys and the Redis passwords, the values stay usable', () => {
    const encKey = Buffer.alloc(32, 7).toString('base64url');
    const c = resolveConfig(
      { apiKey: KEY, payloadSigningSecret: 'sign-secret-value', projectEncryptionKey: encKey, redisUrl: 'redis://app:redis-pass-1@127.0.0.1:6379/2', projectId: 'p' },
      { env: {} },
    );
    const cluster = resolveConfig({ apiKey: KEY, redisClusterNodes: ['redis://:cluster-pass-2@10.0.0.1:7000', 'redis://:cluster-pass-2@10.0.0.2:7000'] }, { env: {} });
    const secrets = [KEY, 'sign-secret-value', encKey, 'redis-pass-1', 'cluster-pass-2'];
    for (const [how, text] of [
      ['inspect', inspect(c, { depth: 5 })],
      ['JSON', JSON.stringify(c)],
      ['inspect (cluster)', inspect(cluster, { depth: 5 })],
      ['JSON (cluster)', JSON.stringify(cluster)],
      ['inspect (merged)', inspect(mergeConfig(c, { flushInterval: 3 }), { depth: 5 })],
    ] as const) {
      for (const s of secrets) assert.ok(!text.includes(s), `${how} shows a secret: ${text}`);
    }
    const shown = JSON.parse(JSON.stringify(c)) as Record<string, unknown>;
    assert.equal(shown.apiKey, '[REDACTED]');
    assert.equal(shown.redisUrl, 'redis://app:[REDACTED]@127.0.0.1:6379/2', 'the Redis URL still says where it points');
    assert.equal(shown.projectId, 'p');
    assert.match(inspect(c), /flushInterval: 30/);
    // Only the printed form changes: the agent reads the real values.
    assert.equal(c.apiKey, KEY);
    assert.equal(c.redisUrl, 'redis://app:redis-pass-1@127.0.0.1:6379/2');
    assert.deepEqual(Object.keys(c), Object.keys(resolveConfig({ apiKey: KEY }, { env: {} })), 'no enumerable key added');
  });

  it('reports unknown keys with a suggestion (warning by default, error when strict)', () => {
    const lines: string[] = [];
    diag.setLogger({ error: (m) => lines.push(m), warn: (m) => lines.push(m), info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
    try {
      const c = resolveConfig({ apiKey: KEY, guard_core_versoin: '3.15.0', projct_id: 'p' } as never, { env: {} });
      assert.deepEqual([...(c as { unknownKeys?: string[] }).unknownKeys!], ['guard_core_versoin', 'projct_id']);
      assert.ok(lines.some((l) => l.includes('guard_core_versoin (did you mean "guardCoreVersion"?)')));
    } finally {
      diag.disable();
    }
    assert.throws(() => resolveConfig({ apiKey: KEY, flushIntervall: 3 } as never, { env: {}, strict: true }), /flushIntervall: unknown option \(did you mean "flushInterval"\?\)/);
  });

  it('accepts snake_case keys as the Python config spells them, and strips /api/v1', () => {
    const c = resolveConfig({ api_key: KEY, project_id: 'p', endpoint: 'https://x.example/api/v1/' } as never, { env: {} });
    assert.equal(c.projectId, 'p');
    assert.equal(c.endpoint, 'https://x.example');
  });

  it('mergeConfig validates partial updates and keeps the rest', () => {
    const base = resolveConfig({ apiKey: KEY, projectId: 'p' }, { env: {} });
    const next = mergeConfig(base, { flushInterval: 5, breaker: { recoveryTimeoutMs: 10 } });
    assert.equal(next.flushInterval, 5);
    assert.equal(next.projectId, 'p');
    assert.deepEqual(next.breaker, { failureThreshold: 5, recoveryTimeoutMs: 10, initialRecoveryTimeoutMs: 5000 });
    assert.throws(() => mergeConfig(base, { timeout: 0 }), /timeout/);
  });

  it('mergeConfig: a field given as undefined keeps its current value (as resolveConfig ignores it), at the top level and nested', () => {
    const base = resolveConfig({ apiKey: KEY, projectId: 'p', flushInterval: 7, redisUrl: 'redis://127.0.0.1:6379', breaker: { failureThreshold: 9 } }, { env: {} });
    const next = mergeConfig(base, { projectId: undefined, flushInterval: undefined, redisUrl: undefined, apiKey: undefined, breaker: { failureThreshold: undefined } });
    assert.equal(next.projectId, 'p');
    assert.equal(next.flushInterval, 7);
    assert.equal(next.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(next.apiKey, KEY);
    assert.equal(next.breaker.failureThreshold, 9);
    // null still clears a nullable field.
    assert.equal(mergeConfig(base, { projectId: null }).projectId, null);
    // snake_case keys, as resolveConfig takes them, nested ones included.
    const snake = mergeConfig(base, { flush_interval: 3, breaker: { recovery_timeout_ms: 10 }, rate_limit: { max_calls: 5 }, queue: { max_entries: 4 } } as never);
    assert.equal(snake.flushInterval, 3);
    assert.deepEqual(snake.breaker, { failureThreshold: 9, recoveryTimeoutMs: 10, initialRecoveryTimeoutMs: 5000 });
    assert.deepEqual(snake.rateLimit, { maxCalls: 5, windowMs: 60_000 });
    assert.equal(snake.queue.maxEntries, 4);
  });

  it('describes every option for the README table', () => {
    const rows = describeConfig();
    const nested = Object.values(NESTED_FIELDS).reduce((n, g) => n + Object.keys(g).length, 0);
    assert.equal(rows.length, Object.keys(CONFIG_FIELDS).length + nested);
    assert.ok(rows.every((r) => r.description.length > 10));
    assert.ok(Object.keys(DEFAULT_CONFIG).every((k) => rows.some((r) => r.option === k || r.option.startsWith(k + '.'))));
  });

  describe('redisClusterNodes', () => {
    const SECRET = 'Sup3r-S3cret-PW';

    /** The problems of a config that must not resolve, with the whole error message checked for the password. */
    function problemsOf(input: Record<string, unknown>, env: Record<string, string> = {}): { field: string; message: string }[] {
      try {
        resolveConfig({ apiKey: KEY, ...input }, { env });
      } catch (err) {
        assert.ok(err instanceof GuardAgentConfigError, String(err));
        assert.ok(!err.message.includes(SECRET), `no password in: ${err.message}`);
        assert.ok(!err.message.includes(encodeURIComponent(SECRET)), `no encoded password in: ${err.message}`);
        return err.problems;
      }
      assert.fail('expected a GuardAgentConfigError');
    }

    it('defaults to no cluster, and the env list keeps its case (passwords and host names), trimmed', () => {
      assert.deepEqual(resolveConfig({ apiKey: KEY }, { env: {} }).redisClusterNodes, []);
      const env = {
        GUARD_AGENT_REDIS_CLUSTER_NODES: ` redis://App:${SECRET}@Node-A.Example:7000 ,redis://App:${SECRET}@Node-B.Example:7001,, `,
        GUARD_AGENT_SENSITIVE_HEADERS: 'X-Token',
      };
      const c = resolveConfig({ apiKey: KEY }, { env });
      assert.deepEqual(c.redisClusterNodes, [`redis://App:${SECRET}@Node-A.Example:7000`, `redis://App:${SECRET}@Node-B.Example:7001`]);
      assert.deepEqual(c.sensitiveHeaders, ['x-token'], 'other lists are still lowercased');
      const fromCode = resolveConfig({ apiKey: KEY, redisClusterNodes: [`rediss://Ops:${SECRET}@10.0.0.1:6380`] }, { env });
      assert.deepEqual(fromCode.redisClusterNodes, [`rediss://Ops:${SECRET}@10.0.0.1:6380`], 'code wins over env, case kept');
    });

    it('names the entry of every bad seed node URL', () => {
      const urls = [
        `redis://app:${SECRET}@10.0.0.1:7000`,
        `http://app:${SECRET}@10.0.0.2:7001`,
        `redis://app:${SECRET}@:99999`,
        'redis:///',
        `redis://app:${SECRET}@10.0.0.3:7002/3`,
      ];
      const problems = problemsOf({ redisClusterNodes: [...urls, 42] });
      assert.deepEqual(problems.map((p) => p.field), ['redisClusterNodes']);
      assert.match(problems[0].message, /expected an array of strings/);

      const fields = problemsOf({ redisClusterNodes: urls });
      assert.deepEqual(
        fields.map((p) => [p.field, p.message]),
        [
          ['redisClusterNodes[1]', 'must start with redis:// or rediss://'],
          ['redisClusterNodes[2]', 'must be a URL like redis://[user[:password]@]host:port'],
          ['redisClusterNodes[3]', 'must name a host (redis://[user[:password]@]host:port)'],
          ['redisClusterNodes[4]', 'must not name a database: a Redis Cluster has database 0 only'],
        ],
      );
    });

    it('requires one scheme and one set of credentials for all seed nodes', () => {
      const problems = problemsOf({
        redisClusterNodes: [`redis://10.0.0.1:7000`, `rediss://app:${SECRET}@10.0.0.2:7001`, `redis://app:other-${SECRET}@10.0.0.3:7002`, 'redis://10.0.0.4:7003'],
      });
      assert.deepEqual(problems.map((p) => p.field), ['redisClusterNodes[1]', 'redisClusterNodes[2]']);
      assert.match(problems[0].message, /uses rediss:\/\/ but redisClusterNodes\[0\] uses redis:\/\/: every seed node must use the same scheme/);
      assert.match(problems[1].message, /has other credentials than redisClusterNodes\[1\]/);
    });

    it('refuses redisUrl and redisClusterNodes together, naming both', () => {
      const problems = problemsOf({ redisUrl: `redis://:${SECRET}@127.0.0.1:6379`, redisClusterNodes: [`redis://:${SECRET}@127.0.0.1:7000`] });
      assert.equal(problems.length, 1);
      assert.equal(problems[0].field, 'redisClusterNodes');
      assert.match(problems[0].message, /redisUrl/);
      // From the environment too, and a bad entry there is named the same way.
      const fromEnv = problemsOf({}, { GUARD_AGENT_REDIS_URL: 'redis://127.0.0.1:6379', GUARD_AGENT_REDIS_CLUSTER_NODES: `redis://:${SECRET}@127.0.0.1:7000,ftp://:${SECRET}@h:1` });
      assert.deepEqual(fromEnv.map((p) => p.field).sort(), ['redisClusterNodes', 'redisClusterNodes[1]']);
      // mergeConfig (updateConfig) checks the same rule.
      const base = resolveConfig({ apiKey: KEY, redisUrl: 'redis://127.0.0.1:6379' }, { env: {} });
      assert.throws(() => mergeConfig(base, { redisClusterNodes: ['redis://127.0.0.1:7000'] }), /redisClusterNodes: cannot be used together with redisUrl/);
    });

    it('hands the cluster client what validation accepted: hosts, ports, decoded credentials, TLS', () => {
      const seeds = parseClusterNodes([`rediss://App:${encodeURIComponent('p@ss:wörd')}@Node-A.Example:7000`, 'rediss://[::1]:7001', 'rediss://node-c.example']);
      assert.deepEqual(seeds, {
        nodes: [{ host: 'Node-A.Example', port: 7000 }, { host: '::1', port: 7001 }, { host: 'node-c.example', port: 6379 }],
        tls: true,
        username: 'App',
        password: 'p@ss:wörd',
      });
      assert.throws(
        () => parseClusterNodes(['redis://h:1', `redis://u:${SECRET}@h:2/5`]),
        (err: unknown) => err instanceof GuardAgentValidationError && err.field === 'redisClusterNodes[1]' && !err.message.includes(SECRET),
      );
    });
  });
});
