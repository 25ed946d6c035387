/**
 * Removes secrets from text that may reach a log line or an error message.
 * The transport never puts them there itself, but a server (or a proxy) can
 * echo a header back in an error body, and that body is logged in summary.
 */
export class SecretRedactor {
  // A #private field: util.inspect of the transport must not print the secrets it redacts.
  #secrets: string[] = [];

  setSecrets(values: ReadonlyArray<string | null | undefined>): void {
    // Longest first, so a secret containing another is replaced whole. Very short
    // values are skipped: redacting "a" would mangle every message.
    this.#secrets = values.filter((v): v is string => typeof v === 'string' && v.length >= 4).sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.#secrets) {
      if (out.includes(s)) out = out.split(s).join('[REDACTED]');
    }
    return out;
  }
}

/** The endpoint as it may appear in logs: no user-info, no query string. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '[invalid url]';
  }
}
