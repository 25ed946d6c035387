import assert from 'node:assert/strict';
import { jsonValuesExceed } from '../../src/models/json-nodes.js';

describe('models/json-nodes: jsonValuesExceed', () => {
  it('counts the values JSON writes: the object itself and each entry (flat objects take the fast path)', () => {
    const flat = { a: 1, b: 'x', c: null, d: true };
    assert.equal(jsonValuesExceed(flat, 5), false, '1 object + 4 values');
    assert.equal(jsonValuesExceed(flat, 4), true);
    assert.equal(jsonValuesExceed({}, 1), false);
    assert.equal(jsonValuesExceed({ a: { b: 1 } }, 3), false, 'nested: 3 values');
    assert.equal(jsonValuesExceed({ a: { b: 1 } }, 2), true);
    assert.equal(jsonValuesExceed([1, 2, [3]], 5), false);
    assert.equal(jsonValuesExceed([1, 2, [3]], 4), true);
  });

  it('counts a shared part at every place it appears, and stops at the limit on data that expands without bound', () => {
    let x: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 40; i++) x = { a: x, b: x };
    const t0 = process.hrtime.bigint();
    assert.equal(jsonValuesExceed(x, 65_536), true);
    assert.ok(Number(process.hrtime.bigint() - t0) / 1e6 < 1000, 'bounded by the limit, not by the 2^40 values');
    const shared = { s: 1 };
    assert.equal(jsonValuesExceed({ p: shared, q: shared }, 5), false, '1 + (1 + 1) * 2');
    assert.equal(jsonValuesExceed({ p: shared, q: shared }, 4), true);
  });

  it('counts a cycle as one value (the codec writes one marker) and own keys only', () => {
    const cyc: Record<string, unknown> = { a: 1 };
    cyc.self = cyc;
    assert.equal(jsonValuesExceed(cyc, 3), false);
    const proto = Object.create({ inherited: { deep: { deeper: 1 } } }) as Record<string, unknown>;
    proto.own = 1;
    assert.equal(jsonValuesExceed(proto, 2), false);
  });

  it('walks what a toJSON returns and the entries of Maps and Sets (the codec writes them), a Date or a Buffer being one value', () => {
    let x: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 40; i++) x = { a: x, b: x };
    assert.equal(jsonValuesExceed({ g: { toJSON: () => x } }, 65_536), true, 'toJSON property');
    assert.equal(jsonValuesExceed({ toJSON: () => x }, 65_536), true, 'the object itself has a toJSON (no fast path)');
    class Doc {
      toJSON(): unknown {
        return x;
      }
    }
    assert.equal(jsonValuesExceed(new Doc(), 65_536), true, 'a class toJSON');
    assert.equal(jsonValuesExceed({ g: new Map([['k', x]]) }, 65_536), true, 'Map entries');
    assert.equal(jsonValuesExceed({ g: new Set([x]) }, 65_536), true, 'Set items');
    assert.equal(jsonValuesExceed({ g: { toJSON: () => ({ a: 1, b: 2 }) } }, 4), false, 'the wrapper and what it returns are one value: 1 + 1 + 2');
    assert.equal(jsonValuesExceed({ g: { toJSON: () => ({ a: 1, b: 2 }) } }, 3), true);
    assert.equal(jsonValuesExceed({ g: { toJSON: () => { throw new Error('no'); } } }, 2), false, 'a throwing toJSON is one marker');
    assert.equal(jsonValuesExceed({ d: new Date(0), b: Buffer.alloc(1000), a: [] }, 4), false);
  });
});
