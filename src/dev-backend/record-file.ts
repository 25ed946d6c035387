/**
 * The optional JSONL log of accepted batches and statuses. Appends are
 * synchronous so a line is on disk before the response is sent: a test (or a
 * person tailing the file) never sees an acknowledged batch missing.
 */
import { appendFileSync } from 'node:fs';
import { diag } from '@opentelemetry/api';

/** Header values never written to disk. */
const SECRET_HEADERS = new Set(['x-api-key', 'authorization', 'x-payload-signature']);

export function redactHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = SECRET_HEADERS.has(k) ? '[redacted]' : v;
  return out;
}

export class RecordFile {
  constructor(private readonly path: string) {}

  append(entry: object): void {
    try {
      appendFileSync(this.path, JSON.stringify(entry) + '\n');
    } catch (err) {
      diag.error(`dev-backend: cannot append to record file ${this.path}: ${(err as Error).message}`);
    }
  }
}
