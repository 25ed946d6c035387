/**
 * `guard-agent dev-backend`: runs the local guard backend in the foreground,
 * prints one line per received batch, and stops cleanly on SIGINT/SIGTERM.
 */
import { DevBackend, DEFAULT_DEV_API_KEY, parseFaultSpec } from '../dev-backend/index.js';
import type { AcceptedBatch } from '../dev-backend/index.js';
import { parseArgs } from 'node:util';

export async function runDevBackend(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, strict: true, options: {
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      'api-key': { type: 'string', multiple: true },
      'project-id': { type: 'string' },
      rules: { type: 'string' },
      record: { type: 'string' },
      fault: { type: 'string', multiple: true },
      'signing-secret': { type: 'string' },
      'encryption-key': { type: 'string' },
    } });
  } catch (err) {
    process.stderr.write(`guard-agent dev-backend: ${(err as Error).message}\n`);
    return 2;
  }
  const values = parsed.values;
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`guard-agent dev-backend: --port must be a port number, got ${JSON.stringify(values.port)}\n`);
    return 2;
  }
  let faults;
  try {
    faults = (values.fault ?? []).flatMap((spec: string) => parseFaultSpec(spec));
  } catch (err) {
    process.stderr.write(`guard-agent dev-backend: --fault: ${(err as Error).message}\n`);
    return 2;
  }
  const loopback = isLoopbackHost(values.host ?? '127.0.0.1');
  const backend = new DevBackend({
    apiKeys: values['api-key'] ?? [DEFAULT_DEV_API_KEY],
    projectId: values['project-id'],
    rules: values.rules,
    recordFile: values.record,
    signingSecret: values['signing-secret'],
    encryptionKey: values['encryption-key'],
    // The fault/control API has no auth: only serve it on loopback.
    controlApi: loopback,
  });
  for (const f of faults) backend.faults.push(f);
  backend.on('batch', (b: AcceptedBatch) => process.stdout.write(formatBatchLine(b) + '\n'));
  backend.on('status', ({ status }) => process.stdout.write(`${time()} status   ${String(status.status)} uptime=${String(status.uptime)}s events_sent=${String(status.events_sent)}\n`));
  const { url } = await backend.start({ port, host: values.host });
  if (!loopback) {
    // The live page and /api/v1/rules have no login: say so before anyone else can read the events.
    process.stderr.write(
      `guard-agent dev-backend: listening on ${String(values.host)}, not loopback: anyone who reaches this port can read the live page ` +
        `(the events, their IPs and user agents) and the rules; the control API is off. It is a development tool, not a backend to expose.\n`,
    );
  }
  process.stdout.write(`guard dev backend listening on ${url}\n  live page: ${url}/\n  API key: ${values['api-key'] ? '(as given)' : DEFAULT_DEV_API_KEY}\n  try:     GUARD_AGENT_ENDPOINT=${url} GUARD_AGENT_API_KEY=<key> guard-agent smoke --endpoint ${url}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await backend.stop();
  process.stdout.write('guard dev backend stopped\n');
  return 0;
}

/** 'localhost', ::1 and all of 127.0.0.0/8 (also IPv4-mapped). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function time(): string {
  return new Date().toISOString().slice(11, 23);
}

/** One line per batch: when, which route, how many items (new vs duplicate), size and encoding. */
export function formatBatchLine(b: AcceptedBatch): string {
  const r = b.record;
  const kind = r.path.endsWith('/metrics') ? 'metrics' : r.path.endsWith('/encrypted') ? 'encrypted' : 'events';
  const types = new Map<string, number>();
  for (const e of b.events) types.set(String(e.event_type), (types.get(String(e.event_type)) ?? 0) + 1);
  for (const m of b.metrics) types.set(String(m.metric_type), (types.get(String(m.metric_type)) ?? 0) + 1);
  const summary = [...types].map(([t, n]) => `${t}=${n}`).join(' ');
  return `${time()} ${kind.padEnd(8)} batch=${r.batchId ?? '-'} items=${r.itemCount} dup=${b.duplicates} bytes=${r.rawBytes}${r.gzip ? ' gzip' : ''} ${summary}`;
}
