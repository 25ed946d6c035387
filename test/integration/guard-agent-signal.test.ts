/**
 * guardAgent({ otlp, installSignalHandlers: true }) in a real child process
 * with NodeSDK: on SIGTERM the hook exits the process once the agent stopped,
 * so NodeSDK's shutdown never runs. What the OTLP fan-out held must reach the
 * collector as well as the guard backend (a real dev backend and a real OTLP
 * receiver).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DevBackend } from '../../src/dev-backend/index.js';
import { GUARD_EVENT_NAME } from '../../src/otel/event-mapping.js';
import { OtlpReceiver } from '../helpers/otlp-receiver.js';

const KEY = 'signal-test-key-0123456789';
const CHILD = fileURLToPath(new URL('../fixtures/signal-otlp-app.ts', import.meta.url));

describe('guardAgent() with installSignalHandlers and OTLP fan-out, SIGTERM', function () {
  this.timeout(60_000);
  let backend: DevBackend;
  let receiver: OtlpReceiver;
  before(async () => {
    backend = new DevBackend({ apiKeys: [KEY] });
    await backend.start();
    receiver = new OtlpReceiver();
    await receiver.start();
  });
  after(async () => {
    await backend.stop();
    await receiver.stop();
  });

  it('flushes the OTLP logs, metrics and spans too before the process exits', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, backend.url, KEY, receiver.url, '5'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 143, err);

    assert.equal(backend.events.length, 6, 'the guard backend got the 5 authentication_failed events and the one sent in the span');
    const guardLogs = receiver.logs.filter((l) => l.eventName === GUARD_EVENT_NAME);
    assert.equal(guardLogs.length, 6, 'the OTLP receiver got the same 6 guard records');
    assert.equal(receiver.points('guard.request.count').reduce((n, p) => n + Number(p.value), 0), 5, 'and the request count');
    const span = receiver.spans.find((s) => s.name === 'ban');
    assert.ok(span, 'and the span');
    assert.equal(span.events.filter((e) => e.name === GUARD_EVENT_NAME).length, 1);
  });
});
