/**
 * The ruleset served on `GET /api/v1/rules`: an object set in code or a JSON
 * file polled for changes. The body is serialised once per change and its
 * ETag is a hash of those exact bytes, so `If-None-Match` can answer 304.
 */
import { createHash } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { diag } from '@opentelemetry/api';

export interface ServedRules {
  body: string;
  etag: string;
  rules: object;
}

export class RulesSource {
  private current: ServedRules | null = null;
  private watched: { path: string; listener: (curr: Stats, prev: Stats) => void } | null = null;

  constructor(private readonly onChange: (rules: object | null) => void) {}

  get served(): ServedRules | null {
    return this.current;
  }

  set(rules: object | null): void {
    if (rules === null) {
      this.current = null;
    } else {
      const body = JSON.stringify(rules);
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      if (this.current?.etag === etag) return;
      this.current = { body, etag, rules: JSON.parse(body) as object };
    }
    this.onChange(this.current?.rules ?? null);
  }

  /** Loads `path` now and again whenever its mtime or size changes. A bad file keeps the last good rules. */
  watch(path: string, pollMs: number): void {
    this.unwatch();
    this.load(path);
    const listener = (curr: Stats, prev: Stats): void => {
      if (curr.mtimeMs === prev.mtimeMs && curr.size === prev.size) return;
      this.load(path);
    };
    const watcher = watchFile(path, { interval: pollMs, persistent: false }, listener);
    watcher.unref();
    this.watched = { path, listener };
  }

  unwatch(): void {
    if (this.watched) unwatchFile(this.watched.path, this.watched.listener);
    this.watched = null;
  }

  /** True when the `If-None-Match` header names the current ETag (weak or strong, or `*`). */
  static matches(ifNoneMatch: string | undefined, etag: string): boolean {
    if (ifNoneMatch === undefined) return false;
    return ifNoneMatch
      .split(',')
      .map((t) => t.trim().replace(/^W\//, ''))
      .some((t) => t === '*' || t === etag);
  }

  private load(path: string): void {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      diag.warn(`dev-backend: cannot read rules file ${path}: ${(err as Error).message}`);
      return;
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
      this.set(parsed);
    } catch (err) {
      diag.warn(`dev-backend: rules file ${path} is not a valid rules object, keeping the last good rules: ${(err as Error).message}`);
    }
  }
}
