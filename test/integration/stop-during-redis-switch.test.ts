/**
 * stop() while updateConfig({ redisUrl }) moves the fallback queue: once
 * both are done the app's process ends on its own (a real child process).
 * Before, the move went on after stop() and connected the rules client to
 * the new Redis, which nothing closed: the process never exited.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DevBackend } from '../../src/dev-backend/index.js';
import { freePort } from '../helpers/redis-server.js';

const KEY = 'stop-switch-key-0123456789';
const CHILD = fileURLToPath(new URL('../fixtures/stop-during-redis-switch.ts', import.meta.url));

describe('stop() during a Redis switch', function () {
  this.timeout(30_000);
  let backend: DevBackend;
  before(async () => {
    backend = new DevBackend({ apiKeys: [KEY] });
    await backend.start();
  });
  after(() => backend.stop());

  it('the process exits on its own afterwards', async () => {
    // Nothing listens there: the new queue waits out its connect timeout (2 s), so stop() comes mid-move.
    const to = `redis://127.0.0.1:${await freePort()}`;
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, backend.url, KEY, 'redis://127.0.0.1:6379', to], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null | 'running'>((resolve) => {
      const timer = setTimeout(() => resolve('running'), 12_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    if (code === 'running') child.kill('SIGKILL');
    assert.deepEqual({ code, printed: out.trim() }, { code: 0, printed: JSON.stringify({ stopped: true, stopMsUnder: true }) }, err);
  });
});
