/**
 * `guard-agent demo` run for real, as a user runs it: a child process of
 * this test, which itself starts the dev backend, the OTLP receiver and the
 * example app (a grandchild). Checks the summary it prints, its exit codes,
 * and that no app process outlives it, after a normal end and after Ctrl-C.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = new URL('../../', import.meta.url).pathname;

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startDemo(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'demo', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Whether a process with this pid exists (a zombie would count: the demo must reap its child). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Direct children of `pid`, from ps. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

async function waitForText(read: () => string, re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(read());
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; output so far:\n${read()}`);
    await sleep(50);
  }
}

function num(text: string, re: RegExp): number {
  const m = re.exec(text);
  assert.ok(m, `expected ${re} in:\n${text}`);
  return Number(m[1]);
}

describe('guard-agent demo (the real command, as a child process)', function () {
  this.timeout(45_000);
  const runs: Run[] = [];
  afterEach(() => {
    for (const r of runs.splice(0)) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  });

  it('runs the whole pipeline, prints both sides with numbers > 0 and the delivery check, exits 0 and leaves no app behind', async () => {
    const run = startDemo(['--duration', '3s', '--rate', '30']);
    runs.push(run);
    const { code, signal } = await run.exit;
    const out = run.stdout();
    assert.equal(signal, null);
    assert.equal(code, 0, `demo failed:\n${out}\n${run.stderr()}`);

    const appPid = num(out, /^example app\s+http:\/\/127\.0\.0\.1:\d+\s+\(pid (\d+)/m);
    assert.equal(alive(appPid), false, `the example app (pid ${appPid}) outlived the demo`);

    // Side by side: the guard backend's numbers, then the OTLP receiver's.
    const events = /^security events\s+(\d+) unique \((\d+) received\)\s+(\d+) guard log records$/m.exec(out);
    assert.ok(events, out);
    const [unique, received, guardLogs] = events.slice(1).map(Number);
    assert.ok(unique > 0 && received >= unique, out);
    assert.equal(guardLogs, unique, 'every guard event is a log record at the OTLP receiver too');
    for (const type of ['authentication_failed', 'access_denied', 'rate_limited', 'penetration_attempt', 'user_agent_blocked']) {
      const row = new RegExp(`^  ${type}\\s+(\\d+)\\s+(\\d+)$`, 'm').exec(out);
      assert.ok(row, `no row for ${type}:\n${out}`);
      assert.ok(Number(row[1]) > 0, `${type}: none at the backend`);
      assert.equal(row[1], row[2], `${type}: backend and OTLP receiver differ`);
    }
    const metrics = /^metrics\s+(\d+) records\s+(\d+) points$/m.exec(out);
    assert.ok(metrics && Number(metrics[1]) > 0 && Number(metrics[2]) > 0, out);
    assert.match(out, /^\s+request_count \d+\s+guard\.\S+ \d+$/m);
    assert.ok(num(out, /^heartbeats\s+(\d+)/m) > 0, out);
    const spans = /^spans\s+-\s+(\d+) \((\d+) guard\.security_event span events\)$/m.exec(out);
    assert.ok(spans && Number(spans[1]) > 0 && Number(spans[2]) > 0, out);

    assert.match(out, /^check: every guard event reached both \((\d+) at the guard backend, \1 at the OTLP receiver, \1 expected from the traffic\)$/m);
    assert.match(out, /^live page: http:\/\/127\.0\.0\.1:\d+\//m);
    // Not a terminal: plain progress lines on stderr, no carriage returns or escape codes.
    assert.match(run.stderr(), /^traffic: 90\/90 sent · 200 \d+/m);
    assert.ok(!run.stderr().includes('\r') && !run.stderr().includes('\u001b['), 'no terminal control codes');
  });

  it('Ctrl-C mid-traffic: exits 130 within a few seconds, no stack trace, the app child is gone', async () => {
    const run = startDemo(['--duration', '20s', '--rate', '30']);
    runs.push(run);
    const appPid = Number((await waitForText(run.stdout, /^example app\s+\S+\s+\(pid (\d+)/m, 30_000))[1]);
    await waitForText(run.stderr, /^traffic: \d+\/600 sent/m, 10_000); // the traffic is running
    assert.equal(alive(appPid), true);
    const children = childrenOf(run.child.pid!);
    assert.ok(children.includes(appPid), `the app (pid ${appPid}) is a direct child of the demo (children: ${children.join(',')})`);

    const sentAt = Date.now();
    run.child.kill('SIGINT');
    const { code } = await run.exit;
    const took = Date.now() - sentAt;
    assert.equal(code, 130, run.stdout() + run.stderr());
    assert.ok(took < 5000, `took ${took} ms to stop`);
    for (const pid of children) assert.equal(alive(pid), false, `child ${pid} outlived the demo`);
    assert.doesNotMatch(run.stderr(), /^\s+at /m, 'no stack trace');
    assert.match(run.stderr(), /interrupted; everything it started is stopped/);
    assert.doesNotMatch(run.stdout(), /^check/m, 'no summary after Ctrl-C');
  });

  it('Ctrl-C while the app is still starting: exits 130 and kills the starting app', async () => {
    const run = startDemo(['--duration', '20s']);
    runs.push(run);
    await waitForText(run.stdout, /^starting the example app/m, 15_000);
    // The app child exists as soon as the line is printed (spawned right after it).
    let children: number[] = [];
    const deadline = Date.now() + 5000;
    while (children.length === 0 && Date.now() < deadline) {
      children = childrenOf(run.child.pid!);
      if (!children.length) await sleep(20);
    }
    assert.ok(children.length > 0, 'the app child was spawned');
    assert.doesNotMatch(run.stdout(), /^example app\s/m, 'still starting');
    run.child.kill('SIGINT');
    const { code } = await run.exit;
    assert.equal(code, 130, run.stdout() + run.stderr());
    for (const pid of children) assert.equal(alive(pid), false, `child ${pid} outlived the demo`);
    assert.doesNotMatch(run.stderr(), /^\s+at /m);
  });
});
