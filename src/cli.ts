/**
 * The `guard-agent` command. Each subcommand is a small async function that
 * returns an exit code; `main` only parses and dispatches, so the CLI is
 * testable in-process and from the built `bin/guard-agent.js`.
 */
import { VERSION } from './version.js';

const HELP = `guard-agent ${VERSION}: the guard agent for Node.js, built the OpenTelemetry way

Usage:
  guard-agent <command> [options]

Commands:
  dev-backend   Run a local guard backend (the five API endpoints) for trying the agent
                  --port N            port to listen on (default 8080; 0 = any free port)
                  --host H            address to bind (default 127.0.0.1)
                  --api-key KEY       accepted X-API-Key (default dev-api-key-0123456789; repeatable)
                  --project-id ID     require this X-Project-ID
                  --rules FILE        serve GET /api/v1/rules from this JSON file (reloaded on change)
                  --record FILE       append every accepted batch and status as JSON lines
                  --fault SPEC        inject faults, e.g. 503x3,429:ra=2,reset,delay=500,down=30s
                  --signing-secret S  require X-Payload-Signature (HMAC-SHA256)
                  --encryption-key K  accept /api/v1/events/encrypted (urlsafe base64, 32 bytes)
  smoke         Send a few security events and metrics to a backend and report what it accepted
                  --endpoint URL      backend base URL (default: start a dev backend in-process)
                  --api-key KEY       API key (default: GUARD_AGENT_API_KEY or the dev key)
                  --count N           events to send (default 20)
  demo          The whole pipeline in one command: a dev backend, an OTLP receiver and the
                Express example app (NodeSDK + guard agent + OTLP fan-out), scripted traffic
                (normal, 401, 403, 429, attack-looking), then what reached each side
                  --duration D        how long the traffic runs (default 15s; e.g. 20s, 1m)
                  --rate N            requests per second (default 40)
                  --port-base N       backend on N, OTLP receiver on N+1, app on N+2 (default: free ports)
                  --keep-open         keep the backend and its live page up until Ctrl-C

Options:
  -h, --help      show this help
  -v, --version   print the version
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(VERSION + '\n');
    return 0;
  }
  switch (command) {
    case 'dev-backend':
      return (await import('./cli/dev-backend-command.js')).runDevBackend(rest);
    case 'smoke':
      return (await import('./cli/smoke-command.js')).runSmoke(rest);
    case 'demo':
      return (await import('./cli/demo-command.js')).runDemoCommand(rest);
    default:
      process.stderr.write(`guard-agent: unknown command "${command}"\n\n${HELP}`);
      return 2;
  }
}

/**
 * Runs a command as a process: its code becomes the exit code, a throw exits
 * 1 with its message. A command whose promise never settles (the event loop
 * emptied under it: nothing left to wait on) exits 1 too, saying so, where
 * Node alone would exit 0 having done nothing.
 */
export function runCli(argv: string[], run: (argv: string[]) => Promise<number> = main): void {
  let settled = false;
  const onBeforeExit = (): void => {
    if (settled) return;
    settled = true;
    process.stderr.write('guard-agent: the command stopped before it finished (nothing was left for it to wait on)\n');
    process.exitCode = 1;
  };
  process.once('beforeExit', onBeforeExit);
  const end = (code: number): void => {
    if (settled) return;
    settled = true;
    process.off('beforeExit', onBeforeExit);
    process.exitCode = code;
  };
  run(argv).then(
    (code) => end(typeof code === 'number' ? code : 0),
    (err: unknown) => {
      process.stderr.write(`guard-agent: ${err instanceof Error ? err.message : String(err)}\n`);
      end(1);
    },
  );
}

// Run when executed directly (`node --import tsx src/cli.ts ...`).
const invokedPath = process.argv[1] ?? '';
if (/[\\/]cli\.(ts|js)$/.test(invokedPath) && !invokedPath.includes('node_modules')) runCli(process.argv.slice(2));
