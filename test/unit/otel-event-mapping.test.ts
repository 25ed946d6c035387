import assert from 'node:assert/strict';
import { context, trace } from '@opentelemetry/api';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { SecurityEvent } from '../../src/models/index.js';
import {
  EVENT_ATTRIBUTES,
  GUARD_EVENT_NAME,
  isGuardRecord,
  logRecordToSecurityEvent,
  newEventMappingStats,
  securityEventToLogRecord,
  severityOf,
} from '../../src/otel/event-mapping.js';

/** An event with every field set, nested metadata and extra keys. */
function fullEvent(): SecurityEvent {
  return new SecurityEvent({
    idempotencyKey: '0b7c6a1e-4f7d-4a53-9d7e-6c1f2a3b4c5d',
    timestamp: new Date('2026-11-12T10:11:12.345Z'),
    eventType: 'penetration_attempt',
    ipAddress: '203.0.113.7',
    country: 'DE',
    userAgent: 'curl/8.5.0',
    actionTaken: 'blocked',
    reason: 'SQL injection in query',
    endpoint: '/api/login',
    method: 'POST',
    statusCode: 403,
    responseTime: 0.0123,
    decoratorType: 'require_auth',
    ruleType: 'sqli',
    patternMatched: "' OR 1=1 --",
    handlerName: 'loginHandler',
    metadata: { headers: { 'x-forwarded-for': ['203.0.113.7', '10.0.0.1'] }, score: 0.93, tags: ['a', 'b'], nested: { deep: { n: null, t: true } } },
    tenant: 'acme',
    request_id: 'req-42',
    extra_obj: { k: [1, 2, 3] },
  });
}

function newProvider(): { provider: LoggerProvider; exporter: InMemoryLogRecordExporter } {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
  return { provider, exporter };
}

/** SecurityEvent fields as plain data for deep comparison. */
function plain(ev: SecurityEvent): Record<string, unknown> {
  return { ...ev, timestamp: ev.timestamp.toISOString() };
}

describe('otel event mapping', () => {
  it('round-trips every field through a real LoggerProvider', async () => {
    const { provider, exporter } = newProvider();
    const ev = fullEvent();
    provider.getLogger('test').emit(securityEventToLogRecord(ev));
    await provider.forceFlush();
    const [rec] = exporter.getFinishedLogRecords();
    assert.ok(isGuardRecord(rec));
    const stats = newEventMappingStats();
    const back = logRecordToSecurityEvent(rec, stats);
    assert.deepEqual(plain(back), plain(ev));
    assert.equal(stats.malformedFields, 0);
    await provider.shutdown();
  });

  it('round-trips a minimal event (empty strings and nulls)', async () => {
    const { provider, exporter } = newProvider();
    const ev = new SecurityEvent({ eventType: 'ip_unbanned', timestamp: new Date('2026-01-01T00:00:00.001Z') });
    provider.getLogger('test').emit(securityEventToLogRecord(ev));
    await provider.forceFlush();
    const back = logRecordToSecurityEvent(exporter.getFinishedLogRecords()[0]);
    assert.deepEqual(plain(back), plain(ev));
    await provider.shutdown();
  });

  it('uses semantic convention attributes and sets eventName and event.name', () => {
    const rec = securityEventToLogRecord(fullEvent());
    assert.equal(rec.eventName, GUARD_EVENT_NAME);
    assert.equal(rec.attributes['event.name'], GUARD_EVENT_NAME);
    assert.equal(rec.attributes['client.address'], '203.0.113.7');
    assert.equal(rec.attributes['http.request.method'], 'POST');
    assert.equal(rec.attributes['url.path'], '/api/login');
    assert.equal(rec.attributes['user_agent.original'], 'curl/8.5.0');
    assert.equal(rec.attributes['http.response.status_code'], 403);
    assert.equal(rec.attributes['guard.event_type'], 'penetration_attempt');
    // Plain metadata and extra keys ride as maps (an OTLP backend gets a kvlist), not copied here: the SDK copies at emit.
    assert.deepEqual(rec.attributes['guard.metadata'], fullEvent().metadata);
    assert.deepEqual(rec.attributes['guard.extra'], { tenant: 'acme', request_id: 'req-42', extra_obj: { k: [1, 2, 3] } });
    for (const [k, v] of Object.entries(rec.attributes)) {
      if (k === 'guard.metadata' || k === 'guard.extra') continue;
      assert.ok(['string', 'number', 'boolean'].includes(typeof v), `${k}: a primitive`);
    }
    assert.equal(rec.severityText, 'WARN');
    assert.equal(rec.severityNumber, 13);
  });

  it('adds trace_id and span_id of the span active at emit', async () => {
    const { provider, exporter } = newProvider();
    const tracer = new BasicTracerProvider().getTracer('t');
    const span = tracer.startSpan('request');
    const ev = fullEvent();
    provider.getLogger('test').emit({ ...securityEventToLogRecord(ev), context: trace.setSpan(context.active(), span) });
    span.end();
    await provider.forceFlush();
    const back = logRecordToSecurityEvent(exporter.getFinishedLogRecords()[0]);
    assert.equal(back.metadata.trace_id, span.spanContext().traceId);
    assert.equal(back.metadata.span_id, span.spanContext().spanId);
    const { trace_id: _t, span_id: _s, ...rest } = back.metadata;
    back.metadata = rest;
    assert.deepEqual(plain(back), plain(ev));
    await provider.shutdown();
  });

  it('maps severities from the event type', () => {
    const table: Array<[string, number, string]> = [
      ['ip_banned', 13, 'WARN'],
      ['ip_blocked', 13, 'WARN'],
      ['rate_limited', 13, 'WARN'],
      ['penetration_attempt', 13, 'WARN'],
      ['country_blocked', 13, 'WARN'],
      ['redis_error', 17, 'ERROR'],
      ['geo_lookup_failed', 17, 'ERROR'],
      ['detection_engine_callback_error', 17, 'ERROR'],
      ['ip_unbanned', 9, 'INFO'],
      ['pattern_added', 9, 'INFO'],
      ['dynamic_rule_updated', 9, 'INFO'],
      ['security_headers_applied', 9, 'INFO'],
      ['something_new_from_an_emitter', 13, 'WARN'],
    ];
    for (const [type, n, text] of table) {
      assert.deepEqual(severityOf(type), { severityNumber: n, severityText: text }, type);
    }
  });

  it('recognises guard records and lets other records pass by', async () => {
    const { provider, exporter } = newProvider();
    const logger = provider.getLogger('test');
    logger.emit({ body: 'GET / 200', attributes: { 'http.request.method': 'GET' } });
    logger.emit({ eventName: 'app.login', attributes: { user: 'x' } });
    logger.emit({ eventName: GUARD_EVENT_NAME, body: 'plain logger event', attributes: { 'guard.event_type': 'ip_banned' } });
    logger.emit({ body: 'attribute only', attributes: { 'event.name': GUARD_EVENT_NAME } });
    logger.emit({ body: 'type only', attributes: { 'guard.event_type': 'rate_limited' } });
    await provider.forceFlush();
    const flags = exporter.getFinishedLogRecords().map((r) => isGuardRecord(r));
    assert.deepEqual(flags, [false, false, true, true, true]);
    await provider.shutdown();
  });

  it('reads a plain logger record: body as reason, unknown attributes kept in metadata', async () => {
    const { provider, exporter } = newProvider();
    provider.getLogger('test').emit({
      eventName: GUARD_EVENT_NAME,
      body: 'too many requests',
      attributes: { 'guard.event_type': 'rate_limited', 'client.address': '198.51.100.1', 'app.tenant': 'acme' },
    });
    await provider.forceFlush();
    const stats = newEventMappingStats();
    const ev = logRecordToSecurityEvent(exporter.getFinishedLogRecords()[0], stats);
    assert.equal(ev.eventType, 'rate_limited');
    assert.equal(ev.reason, 'too many requests');
    assert.equal(ev.ipAddress, '198.51.100.1');
    assert.equal(ev.metadata['app.tenant'], 'acme');
    assert.equal(stats.malformedFields, 0);
    await provider.shutdown();
  });

  it('never throws on a malformed record: bad fields coerced or dropped, and counted', () => {
    const rec = {
      hrTime: ['x', 1],
      attributes: {
        [EVENT_ATTRIBUTES.eventType]: 42,
        [EVENT_ATTRIBUTES.statusCode]: 'abc',
        [EVENT_ATTRIBUTES.responseTime]: '0.25',
        [EVENT_ATTRIBUTES.metadata]: '{not json',
        [EVENT_ATTRIBUTES.extra]: '[1,2]',
        [EVENT_ATTRIBUTES.idempotencyKey]: 'not-a-uuid',
        [EVENT_ATTRIBUTES.ipAddress]: ['1.2.3.4'],
        [EVENT_ATTRIBUTES.country]: true,
      },
    } as unknown as ReadableLogRecord;
    const stats = newEventMappingStats();
    const ev = logRecordToSecurityEvent(rec, stats);
    assert.equal(ev.eventType, '42');
    assert.equal(ev.statusCode, null);
    assert.equal(ev.responseTime, 0.25);
    assert.equal(ev.ipAddress, '');
    assert.equal(ev.country, 'true');
    assert.match(ev.idempotencyKey, /^[0-9a-f-]{36}$/);
    assert.ok(Math.abs(ev.timestamp.getTime() - Date.now()) < 5000, 'a missing timestamp becomes now');
    assert.equal(stats.malformedFields, 9);
  });

  it('a plain logger record with a timestamp outside years 1-9999 is stamped now and counted, never passed to the backend', async () => {
    const { provider, exporter } = newProvider();
    const logger = provider.getLogger('test');
    // An epoch in microseconds where the SDK takes milliseconds (year ~57,000), and one before year 1.
    logger.emit({ eventName: GUARD_EVENT_NAME, body: 'future', timestamp: Date.now() * 1000, attributes: { 'guard.event_type': 'ip_banned' } });
    logger.emit({ eventName: GUARD_EVENT_NAME, body: 'past', timestamp: new Date('-000500-01-01T00:00:00Z'), attributes: { 'guard.event_type': 'ip_banned' } });
    await provider.forceFlush();
    for (const rec of exporter.getFinishedLogRecords()) {
      const stats = newEventMappingStats();
      const ev = logRecordToSecurityEvent(rec, stats);
      assert.ok(Math.abs(ev.timestamp.getTime() - Date.now()) < 5000, `${String(rec.body)}: stamped now, got ${ev.timestamp.toISOString()}`);
      assert.equal(stats.malformedFields, 1);
    }
    await provider.shutdown();
  });

  it('a status code past 2^53 (1e21, which JSON writes as 1e+21 and the backend refuses) is dropped and counted; the rest of the record is kept', () => {
    const stats = newEventMappingStats();
    const ev = logRecordToSecurityEvent(
      { eventName: GUARD_EVENT_NAME, hrTime: [1_700_000_000, 0], attributes: { [EVENT_ATTRIBUTES.eventType]: 'ip_banned', [EVENT_ATTRIBUTES.ipAddress]: '198.51.100.7', [EVENT_ATTRIBUTES.statusCode]: 1e21 } },
      stats,
    );
    assert.equal(ev.statusCode, null);
    assert.equal(ev.ipAddress, '198.51.100.7');
    assert.equal(ev.eventType, 'ip_banned');
    assert.equal(stats.malformedFields, 1);
  });

  it('fills in an event type for a record that only carries the event name', () => {
    const stats = newEventMappingStats();
    const ev = logRecordToSecurityEvent({ eventName: GUARD_EVENT_NAME, hrTime: [1_700_000_000, 5_000_000], attributes: {} }, stats);
    assert.equal(ev.eventType, 'unknown');
    assert.equal(ev.timestamp.toISOString(), '2023-11-14T22:13:20.005Z');
    assert.equal(stats.malformedFields, 1);
  });
});
