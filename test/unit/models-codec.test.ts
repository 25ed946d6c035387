import assert from 'node:assert/strict';
import {
  SecurityEvent,
  SecurityMetric,
  encodeEvent,
  encodeMetric,
  encodeBatchBody,
  encodeBatchBodyBytes,
  encodeStatus,
  encodeEncryptedPlaintext,
  KNOWN_EVENT_TYPES,
  METRIC_TYPES,
  newCodecStats,
  TRUNCATION_MARKER_KEY,
  MARKERS,
} from '../../src/models/index.js';
import { GuardAgentValidationError } from '../../src/errors.js';
import { CUT_SUFFIX, cutToJsonBytes, jsonStringBytes } from '../../src/models/json-bytes.js';
import fc from 'fast-check';
import { GOLDEN } from '../helpers/golden.js';

/** Compares a wire object with a golden one field for field; timestamps as instants (ms precision). */
function assertSameWire(actual: Record<string, unknown>, expected: Record<string, unknown>, timeKeys: string[]) {
  assert.deepEqual(Object.keys(actual), Object.keys(expected), 'same keys in the same order');
  for (const k of Object.keys(expected)) {
    if (timeKeys.includes(k)) {
      const e = new Date(String(expected[k]).replace(' ', 'T')).getTime();
      assert.equal(new Date(String(actual[k])).getTime(), Math.floor(e), `${k} instant`);
      assert.match(String(actual[k]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, `${k} is RFC 3339 UTC`);
    } else {
      assert.deepEqual(actual[k], expected[k], k);
    }
  }
}

describe('models and wire codec', () => {
  it('exports all 39 known event types and the 7 metric types', () => {
    assert.equal(KNOWN_EVENT_TYPES.length, 39);
    assert.equal(new Set(KNOWN_EVENT_TYPES).size, 39);
    for (const t of ['ip_banned', 'csp_violation', 'ip_ban_failed', 'rate_limit_script_reloaded', 'pattern_anomaly_timeout', 'pattern_anomaly_statistical_anomaly', 'route_unresolved']) {
      assert.ok((KNOWN_EVENT_TYPES as readonly string[]).includes(t), t);
    }
    assert.deepEqual([...METRIC_TYPES], ['request_count', 'response_time', 'error_rate', 'bandwidth_usage', 'threat_level', 'block_rate', 'cache_hit_rate']);
  });

  it('encodes golden payload A (events batch) field for field', () => {
    const golden = GOLDEN.eventsBatch;
    const g = golden.events[0];
    // Built from the wire form (snake_case input) ...
    const fromWire = new SecurityEvent(g);
    // ... and from the camelCase form @guardcore/core sends.
    const fromCamel = new SecurityEvent({
      idempotencyKey: g.idempotency_key, timestamp: new Date('2026-09-02T14:03:11.482Z'), eventType: 'rate_limited',
      ipAddress: '198.51.100.23', country: 'DE', userAgent: 'curl/8.5.0', actionTaken: 'request_blocked', reason: 'Rate limit exceeded',
      endpoint: '/api/login', method: 'POST', statusCode: 429, metadata: { limit: 10, window: 60 },
    });
    for (const ev of [fromWire, fromCamel]) {
      const body = encodeBatchBody({
        projectId: 'proj_7Qk2', kind: 'events', items: [encodeEvent(ev)], batchId: golden.batch_id,
        createdAt: new Date('2026-09-02T14:03:12.007Z').getTime(), agentVersion: '2.8.1', guardVersion: '7.4.1', guardCoreVersion: null,
      });
      const parsed = JSON.parse(body);
      assert.equal(parsed.guard_core_version, null, '2.9+ field present after guard_version');
      delete parsed.guard_core_version;
      assertSameWire({ ...parsed, events: golden.events }, golden, ['created_at']);
      assertSameWire(parsed.events[0], g, ['timestamp']);
      assert.equal(body, JSON.stringify(JSON.parse(body)), 'compact JSON');
    }
  });

  it('encodes golden payload B (metrics batch) field for field', () => {
    const golden = GOLDEN.metricsBatch;
    const items = golden.metrics.map((m: Record<string, unknown>) => encodeMetric(new SecurityMetric(m)));
    const parsed = JSON.parse(encodeBatchBody({
      projectId: 'proj_7Qk2', kind: 'metrics', items, batchId: golden.batch_id, createdAt: new Date('2026-09-02T14:03:12.010Z').getTime(),
      agentVersion: '2.8.1', guardVersion: '7.4.1', guardCoreVersion: '3.15.0',
    }));
    assert.equal(parsed.guard_core_version, '3.15.0');
    delete parsed.guard_core_version;
    assert.deepEqual(parsed.events, []);
    parsed.metrics.forEach((m: Record<string, unknown>, i: number) => assertSameWire(m, golden.metrics[i], ['timestamp']));
    assertSameWire({ ...parsed, metrics: golden.metrics }, golden, ['created_at']);
  });

  it('the batch body written as bytes equals the UTF-8 of the string form', () => {
    const items = [
      encodeEvent(new SecurityEvent({ eventType: 'rate_limited', ipAddress: '203.0.113.9', reason: 'ünïcödé, 中文, emoji 🛡️' })),
      // A lone surrogate: both forms must write it as U+FFFD (3 bytes).
      '{"reason":"lone \ud800 surrogate","raw":"' + String.fromCharCode(0xdc00) + '"}',
      '{"plain":"ascii"}',
    ];
    const envelope = { projectId: 'proj_ü', batchId: '1778580000123-1a2b3c4d', createdAt: Date.UTC(2026, 8, 2, 14, 3, 12, 7), agentVersion: '1.0.0', guardVersion: null, guardCoreVersion: '3.15.0' };
    for (const kind of ['events', 'metrics'] as const) {
      for (const list of [items, items.slice(2), []]) {
        const b = { ...envelope, kind, items: list };
        const bytes = encodeBatchBodyBytes(b);
        assert.deepEqual(bytes, Buffer.from(encodeBatchBody(b), 'utf8'), `${kind}, ${list.length} item(s)`);
        assert.equal(JSON.parse(bytes.toString('utf8'))[kind].length, list.length);
      }
    }
  });

  it('encodes golden payload C (status) field for field', () => {
    const g = GOLDEN.status;
    const parsed = JSON.parse(encodeStatus({
      timestamp: new Date(g.timestamp.replace(' ', 'T')), status: 'degraded', uptime: 300.04, eventsSent: 180, eventsFailed: 40,
      bufferSize: 12, lastFlush: new Date(g.last_flush.replace(' ', 'T')), errors: ['High failure rate: 18.2%'],
    }));
    assertSameWire(parsed, g, ['timestamp', 'last_flush']);
  });

  it('encrypted plaintext carries only events and metrics', () => {
    assert.equal(encodeEncryptedPlaintext('metrics', ['{"a":1}']), '{"events":[],"metrics":[{"a":1}]}');
    assert.equal(encodeEncryptedPlaintext('events', ['{"a":1}', '{"b":2}']), '{"events":[{"a":1},{"b":2}],"metrics":[]}');
  });

  it('accepts the seed spellings, keeps extra keys at the top level, and defaults timestamp and idempotency key', () => {
    const before = Date.now();
    const ev = new SecurityEvent({ event_type: 'ip_banned', source_ip: '10.0.0.1', description: 'too many', requestId: 'r-1', tenant: { id: 7 } });
    assert.equal(ev.ipAddress, '10.0.0.1');
    assert.equal(ev.reason, 'too many');
    assert.ok(ev.timestamp.getTime() >= before && ev.timestamp.getTime() <= Date.now());
    assert.match(ev.idempotencyKey, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(new SecurityEvent({ eventType: 'x' }).idempotencyKey, new SecurityEvent({ eventType: 'x' }).idempotencyKey);
    const wire = JSON.parse(encodeEvent(ev));
    assert.equal(wire.request_id, undefined);
    assert.equal(wire.requestId, 'r-1');
    assert.deepEqual(wire.tenant, { id: 7 });
    assert.equal(Object.keys(wire).indexOf('requestId'), Object.keys(wire).indexOf('metadata') + 1, 'extras follow metadata');
    const camel = new SecurityEvent({ eventType: 'ip_banned', sourceIp: '10.0.0.2', ipAddress: undefined });
    assert.equal(camel.ipAddress, '10.0.0.2');
    assert.equal(new SecurityEvent({ eventType: 'behavioral_violation', ipAddress: 'system' }).ipAddress, 'system');
  });

  it('round-trips through the wire form (decode = construct from snake_case)', () => {
    const ev = new SecurityEvent({
      eventType: 'penetration_attempt', ipAddress: '2001:db8::1', country: 'FR', userAgent: 'sqlmap/1.7', actionTaken: 'logged',
      reason: 'SQLi', endpoint: '/q', method: 'GET', statusCode: 403, responseTime: 0.012, decoratorType: 'd', ruleType: 'r',
      patternMatched: "' OR 1=1", handlerName: 'h', metadata: { nested: { a: [1, 'x', null] } }, custom: true,
    });
    const back = new SecurityEvent(JSON.parse(encodeEvent(ev)));
    assert.deepEqual({ ...back }, { ...ev });
  });

  it('timestamps: Date, ISO, Python str() form and epoch seconds/millis', () => {
    const t = '2026-05-12T10:00:00.123Z';
    for (const input of [new Date(t), t, '2026-05-12 10:00:00.123+00:00', Date.parse(t), Date.parse(t) / 1000]) {
      assert.equal(new SecurityEvent({ eventType: 'x', timestamp: input }).timestamp.toISOString(), t);
    }
  });

  it('timestamps without an offset (Python naive datetimes, ISO or str() form) are UTC on a host in any time zone', () => {
    const tz = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      for (const input of ['2026-05-12T10:00:00.123', '2026-05-12 10:00:00.123000']) {
        assert.equal(new SecurityEvent({ eventType: 'x', timestamp: input }).timestamp.toISOString(), '2026-05-12T10:00:00.123Z', input);
        assert.equal(new SecurityMetric({ metricType: 'request_count', value: 1, timestamp: input }).timestamp.toISOString(), '2026-05-12T10:00:00.123Z', input);
      }
      assert.equal(new SecurityEvent({ eventType: 'x', timestamp: '2026-05-12T10:00:00-04:00' }).timestamp.toISOString(), '2026-05-12T14:00:00.000Z', 'an offset is kept');
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('timestamp text that is not ISO 8601 is refused, naming the field, not guessed by the Date parser (in the host time zone)', () => {
    const tz = process.env.TZ;
    process.env.TZ = 'Asia/Tokyo';
    try {
      // V8 read '1' as 2001-01-01 and '12' as 2001-12-01, and 'March 7 2020 10:00' as 10:00 in Tokyo (01:00Z).
      for (const input of ['1', '12', 'March 7 2020 10:00', '7/3/2020 10:00', 'Sat, 07 Mar 2020 10:00:00']) {
        assert.throws(() => new SecurityEvent({ eventType: 'x', timestamp: input }), /timestamp: expected a Date, an ISO 8601 string/, input);
        assert.throws(() => new SecurityMetric({ metricType: 'request_count', value: 1, timestamp: input }), /timestamp: /, input);
      }
      for (const [input, iso] of [
        ['2020-03-07', '2020-03-07T00:00:00.000Z'],
        ['2020-03-07T10:00:00+09:00', '2020-03-07T01:00:00.000Z'],
        ['2020-03-07t10:00:00z', '2020-03-07T10:00:00.000Z'],
      ]) {
        assert.equal(new SecurityEvent({ eventType: 'x', timestamp: input }).timestamp.toISOString(), iso, input);
      }
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('timestamps outside years 1-9999 UTC (the backend datetime range) are refused, naming the field; the bounds themselves are accepted', () => {
    const first = '0001-01-01T00:00:00.000Z';
    const last = '9999-12-31T23:59:59.999Z';
    for (const t of [first, last]) {
      assert.equal(new SecurityEvent({ eventType: 'x', timestamp: t }).timestamp.toISOString(), t);
      assert.equal(new SecurityMetric({ metricType: 'request_count', value: 1, timestamp: new Date(t) }).timestamp.toISOString(), t);
    }
    const microseconds = Date.now() * 1000; // an epoch in µs read as ms: year ~57,000
    const outside: unknown[] = [
      microseconds,
      new Date(Date.parse(last) + 1),
      new Date(Date.parse(first) - 1),
      '0000-06-01T00:00:00Z',
      '+010000-01-01T00:00:00.000Z',
      '-000001-01-01T00:00:00.000Z',
      new Date(8.64e15),
    ];
    for (const timestamp of outside) {
      for (const make of [() => new SecurityEvent({ eventType: 'x', timestamp }), () => new SecurityMetric({ metricType: 'request_count', value: 1, timestamp })]) {
        assert.throws(make, (e: unknown) => {
          assert.ok(e instanceof GuardAgentValidationError);
          assert.equal(e.field, 'timestamp', String(timestamp));
          assert.match(e.message, /timestamp: must fall within years 1-9999 UTC/);
          return true;
        });
      }
    }
    assert.throws(() => new SecurityEvent({ eventType: 'x', timestamp: microseconds }), /epoch numbers are read as seconds below 1e11, else milliseconds/);
  });

  it('invalid fields throw GuardAgentValidationError naming each field', () => {
    assert.throws(() => new SecurityEvent({ ipAddress: 1 }), (err: unknown) => {
      assert.ok(err instanceof GuardAgentValidationError);
      assert.deepEqual(err.problems.map((p) => p.field), ['eventType', 'ipAddress']);
      return true;
    });
    for (const [input, field] of [
      [{ eventType: 'x', statusCode: 'abc' }, 'statusCode'],
      // Past 2^53 an integer is imprecise, and from 1e21 JSON writes it 1e+21, which the backend's int refuses (422).
      [{ eventType: 'x', statusCode: 1e21 }, 'statusCode'],
      [{ eventType: 'x', statusCode: '9007199254740993' }, 'statusCode'],
      [{ eventType: 'x', responseTime: Number.NaN }, 'responseTime'],
      [{ eventType: 'x', metadata: 'nope' }, 'metadata'],
      [{ eventType: 'x', idempotencyKey: 'not-a-uuid' }, 'idempotencyKey'],
      [{ eventType: 'x', timestamp: 'yesterday' }, 'timestamp'],
      [{ eventType: '' }, 'eventType'],
    ] as const) {
      assert.throws(() => new SecurityEvent(input as Record<string, unknown>), (e: GuardAgentValidationError) => e.field === field && e.message.includes(field));
    }
    assert.throws(() => new SecurityMetric({ metricType: 'requests', value: 1 }), (e: GuardAgentValidationError) => e.field === 'metricType' && /request_count/.test(e.message));
    assert.throws(() => new SecurityMetric({ metric_type: 'request_count' }), (e: GuardAgentValidationError) => e.field === 'value');
    assert.throws(() => new SecurityMetric({ metric_type: 'request_count', value: 1, tags: { a: {} } }), (e: GuardAgentValidationError) => e.field === 'tags.a');
    // More tags than MAX_METRIC_TAGS: refused at once, naming tags, without reading them all (an app passing a whole object).
    const many = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, 'v']));
    const t0 = process.hrtime.bigint();
    assert.throws(() => new SecurityMetric({ metricType: 'request_count', value: 1, tags: many }), (e: GuardAgentValidationError) => e.field === 'tags' && /at most 64 tags/.test(e.message));
    assert.ok(Number(process.hrtime.bigint() - t0) / 1e6 < 100, 'refused without converting 100,000 tags');
    assert.equal(Object.keys(new SecurityMetric({ metricType: 'request_count', value: 1, tags: Object.fromEntries(Object.entries(many).slice(0, 64)) }).tags).length, 64);
  });

  it('metrics: camelCase and snake_case input, tags stringified', () => {
    const m = new SecurityMetric({ metricType: 'response_time', value: 3, tags: { status: 200, cached: true } });
    assert.deepEqual(m.tags, { status: '200', cached: 'true' });
    const wire = JSON.parse(encodeMetric(m));
    assert.deepEqual(Object.keys(wire), ['timestamp', 'metric_type', 'value', 'endpoint', 'tags']);
    assert.equal(wire.value, 3);
  });

  it('unencodable metadata becomes markers and is counted, never thrown', () => {
    const stats = newCodecStats();
    const cyc: Record<string, unknown> = { a: 1 };
    cyc.self = cyc;
    const ev = new SecurityEvent({ eventType: 'x', metadata: { cyc, big: 10n, fn: () => 1, sym: Symbol('s'), inf: Infinity, list: [1n, () => 2], date: new Date(0), shared: [cyc.a, cyc.a] } });
    const wire = JSON.parse(encodeEvent(ev, { stats }));
    assert.equal(wire.metadata.cyc.self, MARKERS.circular);
    assert.equal(wire.metadata.big, '[BigInt: 10]');
    assert.equal(wire.metadata.fn, MARKERS.function);
    assert.equal(wire.metadata.sym, MARKERS.symbol);
    assert.equal(wire.metadata.inf, '[Number: Infinity]');
    assert.deepEqual(wire.metadata.list, ['[BigInt: 1]', MARKERS.function]);
    assert.equal(wire.metadata.date, '1970-01-01T00:00:00.000Z');
    assert.equal(stats.unencodable, 7);
    // extra keys get the same treatment
    const ev2 = new SecurityEvent({ eventType: 'x', weird: 5n });
    assert.equal(JSON.parse(encodeEvent(ev2, { stats })).weird, '[BigInt: 5]');
  });

  it('truncates the metadata of an event larger than maxEventBytes, with a marker', () => {
    const stats = newCodecStats();
    const ev = new SecurityEvent({ eventType: 'x', reason: 'keep me', metadata: { blob: 'x'.repeat(100_000), small: 1 } });
    const json = encodeEvent(ev, { maxEventBytes: 64 * 1024, stats });
    assert.ok(Buffer.byteLength(json) <= 64 * 1024);
    const wire = JSON.parse(json);
    assert.equal(wire.reason, 'keep me');
    assert.equal(wire.metadata[TRUNCATION_MARKER_KEY], true);
    assert.deepEqual(wire.metadata.keys, ['blob', 'small']);
    assert.ok(wire.metadata.original_bytes > 100_000);
    assert.equal(stats.truncated, 1);
    // huge strings outside metadata are capped too
    const ev2 = new SecurityEvent({ eventType: 'x', reason: 'r'.repeat(200_000), userAgent: 'u'.repeat(200_000) });
    assert.ok(Buffer.byteLength(encodeEvent(ev2, { maxEventBytes: 8192 })) <= 8192);
  });

  it('cuts every free-text field by UTF-8 bytes of its JSON form, so an event of any size fits maxEventBytes and is still delivered', () => {
    const huge = {
      eventType: 'e'.repeat(100_000),
      ipAddress: 'i'.repeat(100_000),
      country: '\u0001'.repeat(100_000), // each escapes to 6 bytes
      userAgent: '中'.repeat(100_000), // 3 bytes each
      actionTaken: '"'.repeat(100_000), // 2 bytes each
      reason: '😀'.repeat(100_000), // a surrogate pair, 4 bytes
      endpoint: '\ud800'.repeat(100_000), // lone surrogates escape to 6 bytes
      method: 'm'.repeat(300_000),
      decoratorType: 'd'.repeat(300_000),
      ruleType: 'r'.repeat(300_000),
      patternMatched: 'p'.repeat(300_000),
      handlerName: 'h'.repeat(300_000),
    };
    const fields = Object.keys(huge) as (keyof typeof huge)[];
    for (const max of [1024, 4096, 65_536]) {
      const stats = newCodecStats();
      const json = encodeEvent(new SecurityEvent({ ...huge, metadata: { a: 1 }, extra_key: 'x'.repeat(100_000) }), { maxEventBytes: max, stats });
      assert.ok(Buffer.byteLength(json) <= max, `${Buffer.byteLength(json)} bytes over a ${max}-byte cap`);
      assert.ok(Buffer.byteLength(json) > max - 64, 'the cap is used, not wasted');
      assert.equal(stats.truncated, 1);
      const wire = JSON.parse(json);
      for (const f of fields) {
        const value = wire[f.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())] as string;
        assert.ok(value.endsWith(CUT_SUFFIX), `${f} is cut and marked`);
        assert.ok(huge[f].startsWith(value.slice(0, -CUT_SUFFIX.length)), `${f} keeps its beginning`);
      }
      assert.equal(wire.metadata[TRUNCATION_MARKER_KEY], true);
      assert.deepEqual(wire[TRUNCATION_MARKER_KEY + '_extra'], ['extra_key']);
    }
    // One huge field among short ones: the short ones stay whole, the long one takes what is left.
    const one = new SecurityEvent({ eventType: 'ip_banned', ipAddress: '203.0.113.9', reason: 'banned', method: 'POST', handlerName: 'h'.repeat(300_000) });
    const wire = JSON.parse(encodeEvent(one, { maxEventBytes: 65_536 }));
    assert.deepEqual([wire.event_type, wire.ip_address, wire.reason, wire.method], ['ip_banned', '203.0.113.9', 'banned', 'POST']);
    assert.ok(wire.handler_name.length > 60_000 && wire.handler_name.endsWith(CUT_SUFFIX));
  });

  it('truncated events fit the cap for any strings and caps (property)', () => {
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 3000 }), fc.string({ unit: 'grapheme', maxLength: 3000 }), fc.constantFrom('\u0000'.repeat(4000), '\udc00'.repeat(3000), '"\\'.repeat(3000)));
    fc.assert(
      fc.property(fc.array(fc.option(text, { nil: null }), { minLength: 12, maxLength: 12 }), fc.dictionary(text, text, { maxKeys: 30 }), fc.integer({ min: 1024, max: 16_384 }), (v, meta, max) => {
        const ev = new SecurityEvent({
          eventType: v[0] || 'x', ipAddress: v[1] ?? '', country: v[2], userAgent: v[3], actionTaken: v[4] ?? '', reason: v[5] ?? '',
          endpoint: v[6], method: v[7], decoratorType: v[8], ruleType: v[9], patternMatched: v[10], handlerName: v[11], metadata: meta,
        });
        const json = encodeEvent(ev, { maxEventBytes: max });
        assert.ok(Buffer.byteLength(json) <= max, `${Buffer.byteLength(json)} > ${max}`);
        JSON.parse(json);
      }),
      { numRuns: 150 },
    );
  });

  it('jsonStringBytes is the UTF-8 size of the JSON form; cutToJsonBytes keeps a prefix within the budget, never splitting a pair', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string()), fc.integer({ min: 0, max: 60 }), (s, budget) => {
        assert.equal(jsonStringBytes(s), Buffer.byteLength(JSON.stringify(s)) - 2);
        const cut = cutToJsonBytes(s, budget);
        assert.ok(jsonStringBytes(cut) <= budget || cut === s);
        if (cut === s) return;
        const kept = cut.endsWith(CUT_SUFFIX) ? cut.slice(0, -CUT_SUFFIX.length) : cut;
        assert.ok(s.startsWith(kept));
        const last = kept.charCodeAt(kept.length - 1);
        if (last >= 0xd800 && last <= 0xdbff) assert.ok(!(s.charCodeAt(kept.length) >= 0xdc00 && s.charCodeAt(kept.length) <= 0xdfff), 'pair split');
      }),
      { numRuns: 500 },
    );
  });
});
