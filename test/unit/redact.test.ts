import assert from 'node:assert/strict';
import { REDACTED, redactKeys } from '../../src/handler/redact.js';
import { newCodecStats } from '../../src/models/json-safe.js';

const SENSITIVE = new Set(['authorization', 'cookie', 'x-api-key']);

describe('redactKeys (sensitive metadata keys)', () => {
  it('redacts at any depth, case-insensitively, and inside arrays of objects (a list of header objects)', () => {
    const meta = {
      Authorization: 'Bearer top',
      request: { headers: { Cookie: 'sid=1', accept: '*/*' } },
      hops: [{ 'X-API-Key': 'k1', via: 'edge' }, 'plain', [{ cookie: 'c2' }], null, 7],
    };
    const out = redactKeys(meta, SENSITIVE);
    assert.deepEqual(out, {
      Authorization: REDACTED,
      request: { headers: { Cookie: REDACTED, accept: '*/*' } },
      hops: [{ 'X-API-Key': REDACTED, via: 'edge' }, 'plain', [{ cookie: REDACTED }], null, 7],
    });
    // The caller's object is never changed.
    assert.equal(meta.hops[0] && (meta.hops[0] as Record<string, unknown>)['X-API-Key'], 'k1');
    assert.equal(meta.request.headers.Cookie, 'sid=1');
    assert.ok(!JSON.stringify(out).includes('k1') && !JSON.stringify(out).includes('c2') && !JSON.stringify(out).includes('top'));
  });

  it('returns the same object, copying nothing, when no key matches', () => {
    const meta = { a: 1, list: [{ b: 2 }, [3]], when: new Date(0), nested: { c: 'x' } };
    assert.equal(redactKeys(meta, SENSITIVE), meta);
    assert.equal(redactKeys(meta, new Set()), meta);
  });

  it('redacts cyclic data through its JSON form: the back reference cannot reach the secret', () => {
    const stats = newCodecStats();
    const meta: Record<string, unknown> = { list: [{ authorization: 'Bearer cyc' }] };
    meta.self = meta;
    const out = redactKeys(meta, SENSITIVE, stats);
    const text = JSON.stringify(out);
    assert.ok(!text.includes('Bearer cyc'), text);
    assert.deepEqual((out.list as Record<string, unknown>[])[0], { authorization: REDACTED });
    assert.equal(out.self, '[Circular]');
    assert.equal(stats.unencodable, 1);
  });
});
