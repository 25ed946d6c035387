import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemorySlidingWindow, slidingWindowRetryMs } from '../../src/rules/sliding-window.js';

describe('rules/sliding-window (memory)', () => {
  const W = 10_000;
  const T = 1_000_000 * W; // a bucket boundary

  it('allows up to the limit within one window, then refuses with a retry delay', () => {
    const lim = new MemorySlidingWindow();
    for (let i = 0; i < 3; i++) assert.deepEqual(lim.hit('k', 3, W, T + i), { allowed: true, retryAfterMs: 0, count: i + 1 });
    const r = lim.hit('k', 3, W, T + 100);
    assert.equal(r.allowed, false);
    assert.equal(r.count, 3);
    // Current bucket full: wait for the next bucket plus the decay of 3 hits to 2.
    assert.equal(r.retryAfterMs, W - 100 + Math.ceil(W * (1 - 2 / 3)));
    assert.equal(lim.hit('other', 3, W, T + 100).allowed, true, 'keys are independent');
  });

  it('slides: the previous bucket counts in proportion to its overlap', () => {
    const lim = new MemorySlidingWindow();
    for (let i = 0; i < 4; i++) assert.ok(lim.hit('k', 4, W, T + 9_000 + i).allowed);
    // 25% into the next bucket, the previous 4 weigh 3: one more fits, not two.
    assert.equal(lim.hit('k', 4, W, T + W + 2_500).allowed, true);
    const refused = lim.hit('k', 4, W, T + W + 2_600);
    assert.equal(refused.allowed, false);
    // previous 4 * (1 - x) + 1 <= 3  ->  x >= 0.5: at T + W + 5000.
    assert.equal(refused.retryAfterMs, 2_400);
    assert.equal(lim.hit('k', 4, W, T + W + 2_600 + refused.retryAfterMs - 1).allowed, false);
    assert.equal(lim.hit('k', 4, W, T + W + 2_600 + refused.retryAfterMs).allowed, true);
    // Two buckets later everything has decayed.
    for (let i = 0; i < 4; i++) assert.ok(lim.hit('k', 4, W, T + 3 * W + i).allowed);
  });

  it('never lets more than the limit through in any window (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 3 * W }), { maxLength: 200 }), (limit, offsets) => {
        const lim = new MemorySlidingWindow();
        const allowed: number[] = [];
        for (const t of offsets.sort((a, b) => a - b)) {
          const r = lim.hit('k', limit, W, T + t);
          if (r.allowed) allowed.push(t);
          else {
            assert.ok(r.retryAfterMs >= 1);
            // The retry delay is exact: a hit then is allowed (checked on a copy of the state).
            const probe = new MemorySlidingWindow();
            for (const a of allowed) probe.hit('k', Infinity, W, T + a);
            assert.equal(probe.hit('k', limit, W, T + t + r.retryAfterMs).allowed, true, `retry after ${r.retryAfterMs}`);
          }
        }
        // A sliding-window counter is an estimate; it never exceeds twice the limit in a real sliding window
        // and never exceeds the limit within one fixed bucket.
        for (const t of allowed) assert.ok(allowed.filter((a) => Math.floor(a / W) === Math.floor(t / W)).length <= limit);
      }),
      { numRuns: 300 },
    );
  });

  it('retry formula: zero when under the limit', () => {
    assert.equal(slidingWindowRetryMs(0, 0, 1, W, 0), 0);
    assert.equal(slidingWindowRetryMs(10, 0, 5, W, W - 1), 0);
  });

  it('keeps memory bounded: sweeps idle keys, then evicts the oldest', () => {
    const lim = new MemorySlidingWindow({ maxKeys: 100 });
    for (let i = 0; i < 100; i++) lim.hit(`old${i}`, 5, W, T);
    assert.equal(lim.size, 100);
    // Two windows later the old keys are idle: a new key sweeps them, no eviction counted.
    lim.hit('fresh', 5, W, T + 2 * W);
    assert.equal(lim.size, 1);
    assert.equal(lim.evicted, 0);
    for (let i = 0; i < 150; i++) lim.hit(`busy${i}`, 5, W, T + 2 * W);
    assert.ok(lim.size <= 100, `size ${lim.size}`);
    assert.ok(lim.evicted > 0);
    lim.clear();
    assert.equal(lim.size, 0);
  });

  it('resets a key whose window changes', () => {
    const lim = new MemorySlidingWindow();
    assert.ok(lim.hit('k', 1, W, T).allowed);
    assert.equal(lim.hit('k', 1, W, T + 1).allowed, false);
    assert.ok(lim.hit('k', 1, 2 * W, T + 2).allowed);
  });
});
