/**
 * The example app as a child process: started with `node --import tsx`,
 * ready when it prints `listening on <url>`, stopped with SIGTERM (the app
 * flushes the guard agent and the SDK on it) and SIGKILL after a grace
 * period. While the child runs, an `exit` hook of this process kills it, so
 * however the demo ends (even `process.exit`), no app is left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface AppProcessOptions {
  /** The app's script (TypeScript, run through tsx). */
  script: string;
  args?: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** How long the app may take to print its `listening on` line. */
  readyTimeoutMs?: number;
  signal?: AbortSignal;
}

const READY = /listening on (http:\/\/\S+)/;
const DELIVERY = /^guard agent: .*delivered.*$/m;
const TAIL_CHARS = 4000;

export class AppProcess {
  private output = '';
  private readonly exitPromise: Promise<number | null>;
  private exitCode: number | null | undefined;
  private readonly killOnExit = (): void => {
    this.child.kill('SIGKILL');
  };

  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
  ) {
    const append = (d: Buffer): void => {
      this.output = (this.output + d.toString('utf8')).slice(-TAIL_CHARS);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    process.on('exit', this.killOnExit);
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, sig) => {
        process.removeListener('exit', this.killOnExit);
        this.exitCode = code ?? (sig ? null : 0);
        resolve(this.exitCode);
      });
    });
  }

  /** Spawns the app and resolves with it and its URL once it listens; kills it on failure or abort. */
  static async start(options: AppProcessOptions): Promise<{ app: AppProcess; url: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', options.script, ...(options.args ?? [])], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', reject);
    });
    const app = new AppProcess(child, pid);
    try {
      const url = await app.waitUntilListening(options.readyTimeoutMs ?? 30_000, options.signal);
      return { app, url };
    } catch (err) {
      await app.stop(0);
      throw err;
    }
  }

  get exited(): boolean {
    return this.exitCode !== undefined;
  }

  /** The app's closing `guard agent: N security events ... delivered` line, once it has printed it. */
  deliveryLine(): string | undefined {
    return DELIVERY.exec(this.output)?.[0];
  }

  /** The last few KB the app wrote (stdout and stderr), for error messages. */
  outputTail(): string {
    return this.output.trim();
  }

  /**
   * SIGTERM, then SIGKILL if the app has not exited after `graceMs`.
   * Resolves with the exit code (null when killed by a signal).
   */
  async stop(graceMs = 10_000): Promise<number | null> {
    if (this.exited) return this.exitCode ?? null;
    this.child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
    if (graceMs > 0) {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      timer.unref();
      const code = await this.exitPromise;
      clearTimeout(timer);
      return code;
    }
    return this.exitPromise;
  }

  private waitUntilListening(timeoutMs: number, signal: AbortSignal | undefined): Promise<string> {
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.child.stdout?.removeListener('data', onData);
        signal?.removeEventListener('abort', onAbort);
      };
      const onData = (): void => {
        const m = READY.exec(this.output);
        if (m) {
          cleanup();
          resolve(m[1]);
        }
      };
      const onAbort = (): void => {
        cleanup();
        reject(new Error('aborted while the app was starting'));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`the app did not print "listening on" within ${timeoutMs} ms${this.tailForError()}`));
      }, timeoutMs);
      this.child.stdout?.on('data', onData);
      signal?.addEventListener('abort', onAbort, { once: true });
      void this.exitPromise.then((code) => {
        cleanup();
        reject(new Error(`the app exited (code ${String(code)}) before listening${this.tailForError()}`));
      });
      if (signal?.aborted) onAbort();
      onData();
    });
  }

  private tailForError(): string {
    const tail = this.outputTail();
    return tail ? `; its output:\n${tail.split('\n').slice(-15).join('\n')}` : '';
  }
}
