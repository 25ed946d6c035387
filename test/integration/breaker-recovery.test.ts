/**
 * The breaker's growing window, end to end: a handler whose backend is down
 * long enough to open the breaker and fail a few probes delivers what it
 * queued within the current (short) window once the backend is back, not
 * after `recoveryTimeoutMs`. Real dev backend; the windows are scaled down
 * (300 ms doubling, capped at 30 s) so the test runs in seconds.
 */
import assert from 'node:assert/strict';
import { DevBackend, DEFAULT_DEV_API_KEY } from '../../src/dev-backend/index.js';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { until } from '../helpers/until.js';

describe('breaker recovery after an outage (real dev backend)', function () {
  this.timeout(20_000);
  let backend: DevBackend;
  let handler: GuardAgentHandler | undefined;

  beforeEach(async () => {
    backend = new DevBackend();
    await backend.start();
  });
  afterEach(async () => {
    await handler?.stop(2000);
    handler = undefined;
    await backend.stop();
  });

  it('delivers the queue within the current short window once the backend is back, not after recoveryTimeoutMs', async () => {
    handler = new GuardAgentHandler(
      {
        apiKey: DEFAULT_DEV_API_KEY,
        endpoint: backend.url,
        projectId: 'breaker-recovery',
        flushInterval: 0.1,
        retryAttempts: 0,
        breaker: { failureThreshold: 2, recoveryTimeoutMs: 30_000, initialRecoveryTimeoutMs: 300 },
      },
      { env: {}, drainIntervalMs: 50 },
    );
    await handler.start();
    backend.faults.push({ kind: 'down' });
    for (let i = 0; i < 10; i++) await handler.sendEvent({ eventType: 'ip_banned', ipAddress: '203.0.113.8', reason: `outage ${i}` });
    await handler.flushBuffer(2000);
    await until('the breaker open', () => handler!.getStats().transport.breakerState === 'OPEN', 3000);
    // Two requests opened it; two probes fail (at about 0.3 s and 0.9 s): the window is 1.2 s by then.
    await until('two failed probes', () => backend.batches.length >= 4, 5000);
    backend.faults.clear();
    // A fixed window would hold the queue for 30 s from here.
    await until('every queued event at the backend', () => backend.events.length === 10, 5000);
    assert.deepEqual(new Set(backend.events.map((e) => e.reason)), new Set(Array.from({ length: 10 }, (_, i) => `outage ${i}`)));
    // The backend stores the batch before its answer reaches the agent: the probe's success closes the breaker just after.
    await until('the breaker closed', () => handler!.getStats().transport.breakerState === 'CLOSED', 2000);
  });
});
