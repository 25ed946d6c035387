/**
 * `guard-agent smoke` as a user runs it: a child process that must end,
 * with an exit code saying whether the backend accepted everything, also
 * when the configuration is refused after its in-process dev backend started.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { DevBackend, parseFaultSpec } from '../../src/dev-backend/index.js';

const ROOT = new URL('../../', import.meta.url).pathname;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; kills it and resolves with code null if it has not exited within `timeoutMs`. */
function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 15_000): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const k of Object.keys(childEnv)) if (k.startsWith('GUARD_AGENT_') && !(k in env)) delete childEnv[k];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: null, stdout, stderr });
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('guard-agent smoke (CLI)', function () {
  this.timeout(40_000);

  it('against its own dev backend: delivers everything and exits 0', async () => {
    const r = await runCli(['smoke', '--count', '5']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /events: {2}5\/5 delivered/);
  });

  it("against a dev backend with the README's faults (503x3,429:ra=2,reset): waits out the retries, prints what was accepted and exits with it", async () => {
    const backend = new DevBackend({ apiKeys: ['smoke-fault-key-0123456789'] });
    await backend.start();
    try {
      for (const f of parseFaultSpec('503x3,429:ra=2,reset')) backend.faults.push(f);
      const r = await runCli(['smoke', '--endpoint', backend.url, '--api-key', 'smoke-fault-key-0123456789', '--count', '5'], {}, 30_000);
      // Before, the transport's unref'd backoff timer was all that was left: the process exited 0 mid-retry, printing nothing.
      assert.match(r.stdout, /events: {2}0\/5 delivered \(retry_later\)/, `the events met 503 three times (1 + retryAttempts 2): ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /metrics: 2\/2 delivered \(delivered\)/, 'the metrics waited out the 429 (Retry-After 2 s) and the reset');
      assert.equal(r.code, 1, 'not everything was accepted');
      assert.equal(backend.metrics.length, 2);
    } finally {
      await backend.stop();
    }
  });

  it('a configuration the agent refuses (a short API key, a bad GUARD_AGENT_* value) ends the command with the field named, instead of hanging on the dev backend it started', async () => {
    const short = await runCli(['smoke', '--api-key', 'short']);
    assert.notEqual(short.code, null, 'the command exited');
    assert.equal(short.code, 1);
    assert.match(short.stderr, /apiKey: must be at least 10 characters/);
    const badEnv = await runCli(['smoke'], { GUARD_AGENT_FLUSH_INTERVAL: 'soon' });
    assert.equal(badEnv.code, 1);
    assert.match(badEnv.stderr, /flushInterval \(GUARD_AGENT_FLUSH_INTERVAL\): expected a number/);
  });
});
