/**
 * A process that ends on its own without calling stop() (its event loop ran
 * empty) still delivers what the agent accepted: a real child process against
 * the real dev backend.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DevBackend } from '../../src/dev-backend/index.js';

const KEY = 'exit-test-key-0123456789';
const CHILD = fileURLToPath(new URL('../fixtures/exit-without-stop.ts', import.meta.url));

describe('a process that ends without stop()', function () {
  this.timeout(30_000);
  let backend: DevBackend;
  before(async () => {
    backend = new DevBackend({ apiKeys: [KEY] });
    await backend.start();
  });
  after(() => backend.stop());

  /** Runs the child to its end; returns what it printed. */
  async function runChild(...extra: string[]): Promise<unknown> {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, backend.url, KEY, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, err);
    return JSON.parse(out.trim());
  }

  it('delivers what the agent accepted before the process exits (beforeExit stops the agent)', async () => {
    assert.deepEqual(await runChild(), { accepted: 5 });
    // The child exits only after its stop() is done, so everything is at the backend already.
    assert.deepEqual(backend.events.map((e) => e.reason).sort(), ['at exit', 'exit 0', 'exit 1', 'exit 2', 'exit 3', 'exit 4'], "the app's own beforeExit listener ran before the agent stopped");
    const counted = backend.metrics.filter((m) => (m.tags as Record<string, string>).endpoint === '/exit').reduce((a, m) => a + Number(m.value), 0);
    assert.equal(counted, 3);
  });

  it('with stopBeforeExit: false the agent leaves the exit to the app (nothing is sent on its behalf)', async () => {
    backend.reset();
    assert.deepEqual(await runChild('opt-out'), { accepted: 5 });
    assert.equal(backend.events.length, 0, 'the app opted out: it calls stop() itself, or accepts the loss');
  });
});
