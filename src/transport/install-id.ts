import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { diag } from '@opentelemetry/api';

export interface ResolveInstallIdOptions {
  /** `config.installId`: wins when non-empty. */
  override?: string | null;
  /** Directory holding `.guard-agent/install-id`; defaults to the user's home. */
  homeDir?: string;
}

/** One id per process when nothing can be persisted, so every transport in the process agrees. */
let inMemoryId: string | null = null;

/**
 * The install id sent as `X-Agent-Install-Id` (reference 4.8). Persisted in
 * `~/.guard-agent/install-id` so it survives restarts; a read-only or missing
 * home (containers) falls back to an in-memory id with a warning instead of
 * breaking construction (reference 11.23). Never throws.
 */
export function resolveInstallId(opts: ResolveInstallIdOptions = {}): string {
  const override = opts.override?.trim();
  if (override) return override;

  let home: string | undefined = opts.homeDir;
  if (home === undefined) {
    try {
      home = homedir();
    } catch {
      home = undefined;
    }
  }
  if (!home) return fallback('no home directory');

  const dir = join(home, '.guard-agent');
  const file = join(dir, 'install-id');
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      diag.warn(`guard-agent install_id.read_failed: ${(err as Error).message}`);
    }
  }
  const id = randomUUID();
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, id + '\n', { encoding: 'utf8', mode: 0o600 });
    return id;
  } catch (err) {
    return fallback(`install_id.write_failed: ${(err as Error).message}`);
  }
}

function fallback(why: string): string {
  inMemoryId ??= randomUUID();
  diag.warn(`guard-agent: cannot persist the install id (${why}); using an in-memory id for this process`);
  return inMemoryId;
}
