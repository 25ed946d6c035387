import assert from 'node:assert/strict';
import { EventBuffer, type BufferSink } from '../../src/handler/event-buffer.js';
import { BufferFullError, GuardAgentValidationError } from '../../src/errors.js';
import type { SecurityEvent, SecurityMetric } from '../../src/models/index.js';

/** A sink that records what it gets and fails on demand (the buffer's own contract, not a project component). */
function recordingSink(failAfter = Infinity) {
  const got: { events: SecurityEvent[]; metrics: SecurityMetric[] } = { events: [], metrics: [] };
  let calls = 0;
  const sink: BufferSink = {
    sendEvent(e) {
      if (++calls > failAfter) throw new Error('sink down');
      got.events.push(e);
    },
    sendMetric(m) {
      got.metrics.push(m);
    },
  };
  return { sink, got, heal: () => (failAfter = Infinity) };
}

const ev = (n: number) => ({ eventType: 'ip_banned', ipAddress: `10.0.0.${n}`, metadata: { n } });

describe('EventBuffer (the seed API)', () => {
  it('buffers and flushes events and metrics to the sink', async () => {
    const { sink, got } = recordingSink();
    const b = new EventBuffer(sink, { bufferSize: 10, highWatermarkRatio: 1 });
    await b.addEvent(ev(1));
    await b.addMetric({ metricType: 'request_count', value: 1 });
    assert.equal(b.getStats().currentEventBufferSize, 1);
    assert.deepEqual(await b.flush(), { events: 1, metrics: 1 });
    assert.equal(got.events[0].ipAddress, '10.0.0.1');
    assert.equal(got.metrics[0].metricType, 'request_count');
    assert.equal(b.getStats().eventsFlushed, 1);
  });

  it('drop policy drops the oldest and counts it', async () => {
    const b = new EventBuffer(null, { bufferSize: 3 });
    for (let i = 0; i < 5; i++) await b.addEvent(ev(i));
    assert.equal(b.getStats().eventsDropped, 2);
    assert.ok(b.isFull('event'));
  });

  it('raise policy throws BufferFullError to the caller', async () => {
    const b = new EventBuffer(null, { bufferSize: 1, bufferOverflowPolicy: 'raise' });
    await b.addEvent(ev(1));
    await assert.rejects(b.addEvent(ev(2)), BufferFullError);
    assert.equal(b.getStats().eventsDropped, 0);
  });

  it('block policy waits for a flush to make room, bounded by its timeout', async () => {
    const { sink, got } = recordingSink();
    const b = new EventBuffer(sink, { bufferSize: 2, bufferOverflowPolicy: 'block', highWatermarkRatio: 1, blockTimeoutMs: 2000 });
    await b.addEvent(ev(1));
    await b.addEvent(ev(2));
    await b.addEvent(ev(3)); // triggers a flush and waits for room
    await b.flush();
    assert.equal(got.events.length, 3);
    const stuck = new EventBuffer(null, { bufferSize: 1, bufferOverflowPolicy: 'block', blockTimeoutMs: 50 });
    await stuck.addEvent(ev(1));
    const t = Date.now();
    await stuck.addEvent(ev(2));
    assert.ok(Date.now() - t < 1000);
    assert.equal(stuck.getStats().eventsDropped, 1);
  });

  it('a failed flush puts every unsent item back, in order (no seed bug 11.1)', async () => {
    const s = recordingSink(2);
    const b = new EventBuffer(s.sink, { bufferSize: 10, highWatermarkRatio: 1 });
    for (let i = 0; i < 5; i++) await b.addEvent(ev(i));
    assert.deepEqual(await b.flush(), { events: 2, metrics: 0 });
    assert.equal(b.getStats().currentEventBufferSize, 3);
    s.heal();
    await b.flush();
    assert.deepEqual(s.got.events.map((e) => e.metadata.n), [0, 1, 2, 3, 4]);
  });

  it('rejects invalid input with the field named', async () => {
    const b = new EventBuffer(null);
    await assert.rejects(b.addEvent({ ipAddress: '1.2.3.4' }), (e: GuardAgentValidationError) => e.field === 'eventType');
    await assert.rejects(b.addMetric({ metricType: 'nope', value: 1 }), (e: GuardAgentValidationError) => e.field === 'metricType');
  });

  it('clear empties both buffers and counts the discarded items', async () => {
    const b = new EventBuffer(null);
    await b.addEvent(ev(1));
    await b.addMetric({ metricType: 'request_count', value: 1 });
    assert.equal(b.clear(), 2);
    assert.equal(b.getStats().eventsDropped + b.getStats().metricsDropped, 2);
  });
});
