import assert from 'node:assert/strict';
import { rejectedItemIndices } from '../../src/transport/rejected-items.js';

const body = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('rejectedItemIndices (which items a 422 names)', () => {
  it('reads the item indices of a FastAPI detail list, sorted and once each', () => {
    const detail = [
      { type: 'datetime_from_date_parsing', loc: ['body', 'events', 7, 'timestamp'], msg: 'Input should be a valid datetime' },
      { type: 'string_type', loc: ['body', 'events', 2, 'event_type'], msg: 'Input should be a valid string' },
      { type: 'string_type', loc: ['body', 'events', 7, 'reason'], msg: 'Input should be a valid string' },
    ];
    assert.deepEqual(rejectedItemIndices(body({ detail }), 'events', 10), [2, 7]);
    assert.deepEqual(rejectedItemIndices(body({ detail: [{ loc: ['body', 'metrics', 1, 'metric_type'] }] }), 'metrics', 2), [1]);
  });

  it('returns null when it cannot say which items: the caller then drops the batch whole', () => {
    for (const [b, n] of [
      [Buffer.from('not json'), 3],
      [body({ detail: 'Unprocessable' }), 3],
      [body({ detail: [] }), 3],
      [body({ detail: [{ loc: ['body', 'project_id'] }] }), 3], // an envelope field
      [body({ detail: [{ loc: ['body', 'events', 1] }, { msg: 'no loc' }] }), 3],
      [body({ detail: [{ loc: ['body', 'events', 5, 'timestamp'] }] }), 3], // out of range
      [body({ detail: [{ loc: ['body', 'events', '1', 'timestamp'] }] }), 3],
      [body({ detail: [{ loc: ['body', 'metrics', 0, 'value'] }] }), 3], // the other kind
      [Buffer.alloc(0), 3],
    ] as const) {
      assert.equal(rejectedItemIndices(b, 'events', n), null, b.toString());
    }
  });
});
