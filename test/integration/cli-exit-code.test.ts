/**
 * runCli, which both `bin/guard-agent.js` and `src/cli.ts` run a command
 * through, as a real child process: the exit code is the command's, a throw
 * is 1, and a command whose promise never settles is 1 with a message (Node
 * alone exits 0 when the event loop empties under a pending promise).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const ROOT = new URL('../../', import.meta.url).pathname;

function runWith(command: string): { status: number | null; stderr: string } {
  const script = `import('./src/cli.ts').then((m) => m.runCli(['x'], ${command}))`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 15_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('runCli exit codes (child processes)', function () {
  this.timeout(40_000);

  it("exits with the command's code", () => {
    assert.equal(runWith('async () => 0').status, 0);
    assert.equal(runWith('async () => 3').status, 3);
  });

  it('a command that throws exits 1 with its message', () => {
    const r = runWith("async () => { throw new Error('no backend at --endpoint') }");
    assert.equal(r.status, 1);
    assert.match(r.stderr, /guard-agent: no backend at --endpoint/);
  });

  it('a command whose promise never settles exits 1 and says so, not 0', () => {
    const r = runWith('() => new Promise(() => {})');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /stopped before it finished/);
  });

  it('a command that finishes after its timers keeps its own code', () => {
    const r = runWith('() => new Promise((resolve) => setTimeout(() => resolve(0), 200))');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
  });
});
