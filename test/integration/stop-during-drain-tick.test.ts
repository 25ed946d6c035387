/**
 * flushBuffer() and stop() while the drainer's timer tick is replaying a queued batch to a
 * backend that answers late: stop keeps its deadline. The tick's send has no
 * deadline of its own (only the per-request timeout), so the last drain must
 * not wait for it unbounded (before: stop(1500) took the whole 8 s).
 */
import assert from 'node:assert/strict';
import { DevBackend } from '../../src/dev-backend/index.js';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { until } from '../helpers/until.js';

const KEY = 'stop-drain-tick-key-0123456789';

describe('stop() while a drainer tick is sending', function () {
  this.timeout(30_000);
  let backend: DevBackend;
  let handler: GuardAgentHandler | undefined;

  before(async () => {
    backend = new DevBackend({ apiKeys: [KEY] });
    await backend.start();
  });
  afterEach(async () => {
    await handler?.stop(1000);
    handler = undefined;
    backend.faults.clear();
    backend.reset();
  });
  after(async () => {
    await backend.stop();
  });

  it('flushBuffer and stop resolve by their deadlines though the tick waits on an 8 s answer', async () => {
    handler = new GuardAgentHandler(
      { apiKey: KEY, endpoint: backend.url, flushInterval: 0.1, retryAttempts: 0, timeout: 20, breaker: { failureThreshold: 100, recoveryTimeoutMs: 100 } },
      { env: {}, drainIntervalMs: 100, stopBeforeExit: false },
    );
    // Down while the events are exported: they go to the fallback queue.
    backend.faults.push({ kind: 'status', status: 503, times: Infinity });
    await handler.start();
    for (let i = 0; i < 3; i++) await handler.sendEvent({ eventType: 'ip_banned', ipAddress: '198.51.100.7', reason: `tick ${i}` });
    await until('the events queued', () => handler!.getStats().queue.depthItems >= 3, 5000);
    // The backend comes back slow: the next tick's send waits 8 s for its answer.
    backend.faults.clear();
    backend.faults.push({ kind: 'delay', ms: 8000, times: Infinity });
    const replayed = handler.pipeline.drainer.getStats().replayed;
    await until('a tick sending', () => handler!.pipeline.drainer.getStats().replayed > replayed, 5000);

    let started = Date.now();
    await handler.flushBuffer(1000);
    const flushTook = Date.now() - started;
    assert.ok(flushTook < 2000, `flushBuffer(1000) took ${flushTook} ms`);

    started = Date.now();
    await handler.stop(1500);
    const took = Date.now() - started;
    handler = undefined;
    assert.ok(took < 2500, `stop(1500) took ${took} ms`);
  });
});
