import assert from 'node:assert/strict';
import { TraceFlags, type SpanContext } from '@opentelemetry/api';
import fc from 'fast-check';
import { encodeEvent } from '../../src/models/codec.js';
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
  timestamp: fc.oneof(fc.date({ min: new Date('1971-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true }), fc.date({ noInvalidDate: true })),
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
      { ...base, attributes: { ...base.attributes, [A.country]: 7 } },
      { ...base, attributes: { ...base.attributes, [A.metadata]: '[1]' } },
      { ...base, attributes: { ...base.attributes, [A.metadata]: 'not json' } },
      { ...base, hrTime: undefined },
    ];
    for (const rec of variants) assert.equal(fast(rec).ok, false);
  });

  it('leaves an event over maxEventBytes to the general way (which truncates and counts)', () => {
    const ev = new SecurityEvent({ eventType: 'ip_banned', reason: 'r', metadata: { blob: 'x'.repeat(5000) } });
    const rec = asReadable(ev);
    assert.equal(fast(rec, 1000).ok, false);
    assert.equal(fast(rec, 10_000).json, slow(rec, 10_000));
  });
});
