/**
 * API key and project checks. Keys are compared through their SHA-256
 * digests with timingSafeEqual, so neither the length nor the content of an
 * accepted key leaks through response timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export class ApiKeyCheck {
  private readonly digests: Buffer[];

  constructor(
    apiKeys: readonly string[],
    private readonly projectId: string | undefined,
  ) {
    this.digests = apiKeys.map(digest);
  }

  /** True when the key is one of ours and, if a project is configured, the project matches. */
  allows(apiKey: string | undefined, projectId: string | undefined): boolean {
    if (apiKey === undefined || apiKey === '') return false;
    const given = digest(apiKey);
    let ok = false;
    for (const d of this.digests) ok = timingSafeEqual(d, given) || ok;
    if (this.projectId !== undefined && projectId !== this.projectId) return false;
    return ok;
  }
}
