/**
 * Mocha global fixture: tests that do not kill or restart Redis share one at
 * 127.0.0.1:6379 (a session machine has it running). On a fresh machine
 * without it, start a throwaway `redis-server` there for the run and stop it
 * after, so `npm test` needs nothing but the binary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';

let started: ChildProcess | null = null;

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export async function mochaGlobalSetup(): Promise<void> {
  if (await ping(6379)) return;
  started = spawn('redis-server', ['--port', '6379', '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  started.once('error', (err) => {
    throw new Error(`tests need a redis-server binary (apt-get install redis-server): ${err.message}`);
  });
  for (let i = 0; i < 100; i++) {
    if (await ping(6379)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('could not start redis-server on 127.0.0.1:6379 for the tests');
}

export async function mochaGlobalTeardown(): Promise<void> {
  if (started) {
    started.kill('SIGTERM');
    started = null;
  }
}
