// parseFaultSpec, the FaultQueue's matching rules and the timestamp forms the dev backend accepts.
import assert from 'node:assert/strict';
import { FaultQueue, parseFaultSpec } from '../../src/dev-backend/index.js';
import { isAcceptedTimestamp } from '../../src/dev-backend/timestamp.js';

describe('dev-backend: parseFaultSpec', () => {
  const NOW = 1_800_000_000_000;

  it('parses every token form of the brief', () => {
    assert.deepEqual(parseFaultSpec('503x3,429:ra=2,429:ra=date+5,resetx2,delay=500,garbage,413max=10,down=30s,successfalse', NOW), [
      { kind: 'status', status: 503, times: 3 },
      { kind: 'status', status: 429, times: 1, headers: { 'Retry-After': '2' } },
      { kind: 'status', status: 429, times: 1, retryAfterDateSeconds: 5 },
      { kind: 'reset', times: 2 },
      { kind: 'delay', ms: 500, times: 1 },
      { kind: 'garbage', times: 1 },
      { kind: 'maxItems', max: 10 },
      { kind: 'down', untilMs: NOW + 30_000 },
      { kind: 'successFalse', times: 1 },
    ]);
  });

  it('accepts spaces, case, units, xinf, oversized sizes and a bare down', () => {
    assert.deepEqual(parseFaultSpec(' reset x2 , Delay=2s, 500xINF, oversized=1mb, oversized=512kbx2:200, down ', NOW), [
      { kind: 'reset', times: 2 },
      { kind: 'delay', ms: 2000, times: 1 },
      { kind: 'status', status: 500, times: Infinity },
      { kind: 'oversized', bytes: 1024 * 1024, times: 1 },
      { kind: 'oversized', bytes: 512 * 1024, times: 2, status: 200 },
      { kind: 'down' },
    ]);
    assert.deepEqual(parseFaultSpec('', NOW), []);
  });

  it('throws an Error naming the bad token', () => {
    assert.throws(() => parseFaultSpec('503x3,teapot,garbage'), /token "teapot"/);
    assert.throws(() => parseFaultSpec('999'), /token "999"/);
    assert.throws(() => parseFaultSpec('503x0'), /token "503x0"/);
    assert.throws(() => parseFaultSpec('429:ra=soon'), /token "429:ra=soon"/);
  });

  it('produces faults the FaultQueue accepts', () => {
    const q = new FaultQueue();
    q.push(parseFaultSpec('503x3,429:ra=date+5,resetx2,delay=500,garbage,oversized=1kb,413max=10,down=30s,successfalse'));
    assert.equal(q.size, 9);
  });
});

describe('dev-backend: FaultQueue', () => {
  it('takes one-shot faults in order and only for matching routes', () => {
    const q = new FaultQueue();
    q.push({ kind: 'status', status: 500, path: '/api/v1/metrics' }, { kind: 'garbage', times: 2 });
    assert.equal(q.take('GET', '/api/v1/rules'), undefined, 'rules GET is not an ingest route');
    assert.equal(q.take('POST', '/api/v1/events')?.kind, 'garbage');
    assert.equal(q.take('POST', '/api/v1/metrics')?.kind, 'status');
    assert.equal(q.take('POST', '/api/v1/status')?.kind, 'garbage');
    assert.equal(q.take('POST', '/api/v1/events'), undefined);
    assert.equal(q.size, 0);
  });

  it('down and maxItems are standing conditions, not consumed by take()', () => {
    const q = new FaultQueue();
    q.push({ kind: 'down', untilMs: 1000 }, { kind: 'maxItems', max: 5, times: 1 });
    assert.equal(q.take('POST', '/api/v1/events'), undefined);
    assert.equal(q.down('GET', '/api/v1/rules', 999)?.kind, 'down');
    assert.equal(q.down('GET', '/api/v1/rules', 1000), undefined, 'expired');
    assert.equal(q.overLimit('POST', '/api/v1/events', 5), undefined);
    assert.equal(q.overLimit('POST', '/api/v1/events', 6)?.max, 5);
    assert.equal(q.size, 0, 'maxItems with times 1 is used up by its one rejection');
  });
});

describe('dev-backend: accepted timestamps', () => {
  it('accepts the forms pydantic accepts in lax mode', () => {
    for (const ok of [
      '2026-05-12T10:00:00.123Z',
      '2026-05-12T10:00:00Z',
      '2026-05-12 10:00:00.123456+00:00',
      '2026-05-12 10:00:01+00:00',
      '2026-05-12 10:00:00',
      '2026-05-12T10:00',
      '2026-05-12',
      '2024-02-29T00:00:00-05:30',
      '1778580000',
      1778580000.25,
    ]) {
      assert.ok(isAcceptedTimestamp(ok), String(ok));
    }
  });

  it('rejects impossible or malformed values', () => {
    for (const bad of ['2026-02-30T00:00:00Z', '2026-13-01', '2026-05-12T24:00:00Z', 'yesterday', '', '2026-05-12T10:00:00 +00:00', null, true, {}]) {
      assert.ok(!isAcceptedTimestamp(bad), String(bad));
    }
  });
});
