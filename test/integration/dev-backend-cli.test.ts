/**
 * `guard-agent dev-backend` as a user starts it: a child process. The control
 * API (fault injection, no auth) is served on loopback only, and binding any
 * other address prints a warning that the live page is readable by anyone
 * who reaches the port.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { isLoopbackHost } from '../../src/cli/dev-backend-command.js';

const ROOT = new URL('../../', import.meta.url).pathname;

interface Started {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

/** Starts the CLI on a free port and resolves once it prints where it listens. */
async function startCli(host: string): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'dev-backend', '--port', '0', '--host', host], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`dev-backend exited (${String(code)}) before listening: ${err}`)));
  });
  return { child, url, stderr: () => err };
}

async function stop(s: Started): Promise<void> {
  if (s.child.exitCode !== null) return;
  s.child.kill('SIGTERM');
  await once(s.child, 'exit');
}

describe('guard-agent dev-backend (CLI)', function () {
  this.timeout(30_000);

  it('knows loopback hosts: localhost, ::1, all of 127/8, IPv4-mapped', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', '128.0.0.1', '127.0.0.1.evil.example', 'example.com']) assert.equal(isLoopbackHost(h), false, h);
  });

  it('on loopback: no warning, the live page and the control API are served', async () => {
    const s = await startCli('127.0.0.1');
    try {
      assert.equal((await fetch(`${s.url}/`)).status, 200);
      const r = await fetch(`${s.url}/__control/faults`, { method: 'POST', body: JSON.stringify({ spec: 'delay=1' }) });
      assert.ok(r.status < 300, `control API answered ${r.status}`);
      assert.doesNotMatch(s.stderr(), /not loopback/);
    } finally {
      await stop(s);
    }
  });

  it('on 0.0.0.0: warns on stderr that the live page is readable by anyone, and serves no control API', async () => {
    const s = await startCli('0.0.0.0');
    try {
      const local = s.url.replace('0.0.0.0', '127.0.0.1');
      assert.equal((await fetch(`${local}/`)).status, 200, 'the live page is still served');
      const r = await fetch(`${local}/__control/faults`, { method: 'POST', body: JSON.stringify({ spec: 'down=30s' }) });
      assert.equal(r.status, 404, 'no fault injection from the network');
      // The fault was not applied: events are still accepted.
      const events = await fetch(`${local}/api/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'dev-api-key-0123456789' },
        body: JSON.stringify({ project_id: 'default', events: [], metrics: [], batch_id: '1778580000123-1a2b3c4d', created_at: new Date().toISOString(), compressed: false, agent_version: 't', guard_version: null }),
      });
      assert.equal(events.status, 200);
      assert.match(s.stderr(), /0\.0\.0\.0, not loopback: anyone who reaches this port can read the live page/);
    } finally {
      await stop(s);
    }
  });
});
