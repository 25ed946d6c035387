import assert from 'node:assert/strict';
import { TraceFlags, type SpanContext } from '@opentelemetry/api';
import fc from 'fast-check';
import { encodeEvent } from '../../src/models/codec.js';
import { newCodecStats } from '../../src/models/json-safe.js';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { SecurityEvent } from '../../src/models/index.js';
import { EVENT_ATTRIBUTES as A, logRecordToSecurityEvent, securityEventToLogRecord, type LogRecordLike } from '../../src/otel/event-mapping.js';
import { encodeGuardRecordInto } from '../../src/otel/record-encoder.js';

const MAX = 65_536;

/** The general way: the record back to a SecurityEvent, then the codec. */
function slow(rec: LogRecordLike, maxEventBytes = MAX): string {
  return encodeEvent(logRecordToSecurityEvent(rec), { maxEventBytes });
}

function fast(rec: LogRecordLike, maxEventBytes = MAX): { ok: boolean; json?: string; key?: string } {
  const items: string[] = [];
  const keys: string[] = [];
  const ok = encodeGuardRecordInto(rec, maxEventBytes, items, keys);
  assert.equal(items.length, ok ? 1 : 0);
  return ok ? { ok, json: items[0], key: keys[0] } : { ok };
}

/** The record as the SDK hands it to an exporter: attributes, hrTime from the timestamp, maybe a span context. */
function asReadable(ev: SecurityEvent, spanContext?: SpanContext): LogRecordLike {
  const rec = securityEventToLogRecord(ev);
  const ms = ev.timestamp.getTime();
  return { hrTime: [Math.floor(ms / 1000), (ms % 1000) * 1e6], eventName: rec.eventName, body: rec.body, attributes: { ...rec.attributes }, ...(spanContext ? { spanContext } : {}) };
}

// Strings with what JSON escapes: quotes, backslashes, control characters, lone and paired surrogates, non-ASCII.
const tricky = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom('', '"', '\\', '\n\t\u0000\u001f', '\ud800', 'a\udc00b', '😀', 'é', '\u007f', '</script>', '\u2028\u2029'),
);
const optTricky = fc.option(tricky, { nil: null });
const jsonValue = fc.jsonValue({ maxDepth: 3 });
const metadata = fc.option(fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('trace_id', 'span_id')), jsonValue, { maxKeys: 5 }), { nil: undefined });
const spanContext = fc.option(
  fc.record({
    traceId: fc.oneof(fc.stringMatching(/^[0-9a-f]{32}$/), fc.constant('0'.repeat(32))),
    spanId: fc.stringMatching(/^[0-9a-f]{16}$/),
    traceFlags: fc.constant(TraceFlags.SAMPLED),
  }),
  { nil: undefined },
);

const eventInput = fc.record({
  idempotencyKey: fc.uuid(),
  // Within the backend's datetime range (years 1-9999); the model refuses anything else.
  timestamp: fc.oneof(
    fc.date({ min: new Date('1971-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true }),
    fc.date({ min: new Date('0001-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }),
  ),
  eventType: tricky.filter((s) => s.length > 0),
  ipAddress: tricky,
  country: optTricky,
  userAgent: optTricky,
  actionTaken: tricky,
  reason: tricky,
  endpoint: optTricky,
  method: optTricky,
  statusCode: fc.option(fc.integer({ min: -1000, max: 100_000 }), { nil: null }),
  responseTime: fc.option(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(-0)), { nil: null }),
  decoratorType: optTricky,
  ruleType: optTricky,
  patternMatched: optTricky,
  handlerName: optTricky,
  metadata,
});

describe('record-encoder (exporter fast path)', () => {
  it('gives byte for byte what the general way gives, for every record it accepts', () => {
    let accepted = 0;
    fc.assert(
      fc.property(eventInput, spanContext, (input, sc) => {
        const ev = new SecurityEvent(input);
        const rec = asReadable(ev, sc);
        const f = fast(rec);
        if (!f.ok) return;
        accepted++;
        assert.equal(f.json, slow(rec));
        assert.equal(f.key, ev.idempotencyKey);
      }),
      { numRuns: 600 },
    );
    // Handler-shaped records without extra keys are its whole point: nearly all must take it.
    assert.ok(accepted > 500, `only ${accepted} of 600 records took the fast path`);
  });

  it('leaves records it does not take to the general way, appending nothing', () => {
    const ev = new SecurityEvent({ eventType: 'ip_banned', reason: 'r', metadata: { a: 1 } });
    const base = asReadable(ev);
    const variants: LogRecordLike[] = [
      { ...base, attributes: { ...base.attributes, [A.extra]: '{"x":1}' } },
      { ...base, attributes: { ...base.attributes, 'some.other': 'x' } },
      { ...base, attributes: { ...base.attributes, [A.idempotencyKey]: ev.idempotencyKey.toUpperCase() } },
      { ...base, attributes: { ...base.attributes, [A.statusCode]: 4.5 } },
      { ...base, attributes: { ...base.attributes, [A.statusCode]: 1e21 } },
      { ...base, attributes: { ...base.attributes, [A.country]: 7 } },
      { ...base, attributes: { ...base.attributes, [A.metadata]: '[1]' } },
      { ...base, attributes: { ...base.attributes, [A.metadata]: 'not json' } },
      // A plain logger's JSON string, and maps JSON would not carry as they are: the general way reads and marks them.
      { ...base, attributes: { ...base.attributes, [A.metadata]: '{"a":1}' } },
      { ...base, attributes: { ...base.attributes, [A.metadata]: [1] } },
      { ...base, attributes: { ...base.attributes, [A.metadata]: { a: NaN } } },
      { ...base, attributes: { ...base.attributes, [A.metadata]: { a: { b: new Uint8Array([1]) } } } },
      { ...base, hrTime: undefined },
      // Outside years 1-9999 (a plain logger's µs epoch): the general way stamps it now and counts it.
      { ...base, hrTime: [Date.now(), 0] as [number, number] },
      { ...base, hrTime: [-62_135_596_801, 0] as [number, number] },
    ];
    for (const rec of variants) assert.equal(fast(rec).ok, false);
  });

  it('leaves an event over maxEventBytes to the general way (which truncates and counts)', () => {
    const ev = new SecurityEvent({ eventType: 'ip_banned', reason: 'r', metadata: { blob: 'x'.repeat(5000) } });
    const rec = asReadable(ev);
    assert.equal(fast(rec, 1000).ok, false);
    assert.equal(fast(rec, 10_000).json, slow(rec, 10_000));
    // A huge string outside the metadata: the general way cuts it to fit, in bytes.
    const long = asReadable(new SecurityEvent({ eventType: 'ip_banned', reason: 'r', handlerName: '\u0001'.repeat(20_000) }));
    assert.equal(fast(long, 4096).ok, false);
    assert.ok(Buffer.byteLength(slow(long, 4096)) <= 4096);
    assert.equal(fast(long, 200_000).json, slow(long, 200_000));
  });
});

describe('metadata as a map attribute (emit) and its wire JSON (export)', () => {
  /** Emits through a real LoggerProvider (the installed SDK line) and returns the record the exporter gets. */
  async function viaSdk(rec: Parameters<ReturnType<LoggerProvider['getLogger']>['emit']>[0], after?: () => void): Promise<LogRecordLike> {
    const exporter = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
    provider.getLogger('t').emit(rec);
    after?.();
    await provider.forceFlush();
    const [out] = exporter.getFinishedLogRecords();
    await provider.shutdown();
    return out;
  }

  it('a plain map is emitted as is, copied by the SDK at emit (later mutation changes nothing), and exported as the codec writes it', async () => {
    const meta = { attempts: 3, nested: { list: ['a', 1, true, null], deep: { x: -0.5 } }, empty: {} };
    const ev = new SecurityEvent({ eventType: 'ip_banned', reason: 'r', metadata: meta });
    const expected = encodeEvent(ev);
    const rec = securityEventToLogRecord(ev);
    assert.equal(rec.attributes[A.metadata], meta, 'no copy on our side');
    const out = await viaSdk(rec as never, () => {
      meta.attempts = 99;
      meta.nested.list.push('b');
      meta.nested.deep.x = 7;
    });
    assert.deepEqual(out.attributes[A.metadata], { attempts: 3, nested: { list: ['a', 1, true, null], deep: { x: -0.5 } }, empty: {} });
    assert.equal(fast(out).json, expected);
    assert.equal(slow(out), expected);
  });

  it('a JSON string from a plain logger is read the general way, to the same bytes as the map', async () => {
    const ev = new SecurityEvent({ eventType: 'ip_banned', reason: 'r', metadata: { a: 1, b: [2, { c: 'd' }] } });
    const rec = securityEventToLogRecord(ev);
    const asString = await viaSdk({ ...rec, attributes: { ...rec.attributes, [A.metadata]: JSON.stringify(ev.metadata) } } as never);
    assert.equal(typeof asString.attributes[A.metadata], 'string');
    assert.equal(fast(asString).ok, false);
    assert.equal(slow(asString), encodeEvent(ev));
    assert.equal(fast(await viaSdk(rec as never)).json, encodeEvent(ev));
  });

  it('Dates, BigInt, cycles, functions and NaN become a plain tree: markers counted, wire JSON as the codec writes it, not dropped by the SDK', async () => {
    const odd: Record<string, unknown> = { when: new Date('2026-01-02T03:04:05.678Z'), big: 10n, fn: () => 1, nan: NaN, ok: 'x', arr: [new Date(0), undefined] };
    odd.self = odd;
    const ev = new SecurityEvent({ eventType: 'ip_banned', reason: 'r', metadata: odd, extra_key: { at: new Date(1000), n: 1n } });
    const codecStats = newCodecStats();
    const expected = encodeEvent(ev, { stats: codecStats });
    const stats = newCodecStats();
    const rec = securityEventToLogRecord(ev, stats);
    assert.deepEqual(stats, codecStats, 'counted as the codec counts');
    assert.equal(stats.unencodable, 5);
    assert.deepEqual(rec.attributes[A.metadata], {
      when: '2026-01-02T03:04:05.678Z', big: '[BigInt: 10]', fn: '[Function]', nan: '[Number: NaN]', ok: 'x', arr: ['1970-01-01T00:00:00.000Z', null], self: '[Circular]',
    });
    assert.deepEqual(rec.attributes[A.extra], { extra_key: { at: '1970-01-01T00:00:01.000Z', n: '[BigInt: 1]' } });
    const out = await viaSdk(rec as never);
    assert.deepEqual(out.attributes[A.metadata], rec.attributes[A.metadata], 'the SDK kept the whole attribute');
    assert.equal(slow(out), expected);
  });

  it('a "__proto__" key survives: such metadata stays a JSON string, which the general way reads', async () => {
    const meta = JSON.parse('{"__proto__":{"polluted":true},"when":"x","d":"2026"}') as Record<string, unknown>;
    meta.d = new Date('2026-01-01T00:00:00.000Z');
    const ev = new SecurityEvent({ eventType: 'ip_banned', reason: 'r', metadata: meta });
    const rec = securityEventToLogRecord(ev);
    assert.equal(typeof rec.attributes[A.metadata], 'string');
    const out = await viaSdk(rec as never);
    assert.equal(slow(out), encodeEvent(ev));
    assert.match(slow(out), /"__proto__":\{"polluted":true\}/);
  });
});
