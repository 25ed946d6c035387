/** The package version; a test keeps it equal to package.json's. */
export const VERSION = '0.1.0';
/** Sent as `User-Agent` on every request (reference 3.2 uses `guard-agent/{version}`). */
export const USER_AGENT = `guard-agent-otel/${VERSION}`;
