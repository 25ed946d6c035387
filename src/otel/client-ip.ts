/**
 * The client address of a request, given how many reverse proxies in front of
 * the app are trusted. `X-Forwarded-For` is written by the client first and
 * each proxy appends the address it received the request from, so only the
 * entries added by trusted proxies, counted from the right, can be believed:
 *
 *   depth 0: the socket's peer address; the header is ignored (anyone can send it).
 *   depth n: the n-th entry from the right of X-Forwarded-For (n = 1 behind one
 *            load balancer). When the header has fewer entries, the leftmost
 *            one (the farthest the trusted chain can vouch for).
 *
 * An entry that is not an IP address is never returned: the socket address is
 * used instead, as if the header were absent.
 */
import { isIP } from 'node:net';

/** The parts of a Node request this needs (IncomingMessage fits). */
export interface RequestAddressSource {
  headers: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string | undefined } | null;
}

/** Normalises one address: brackets and ports removed, IPv4-mapped IPv6 unwrapped. Empty when invalid. */
export function normalizeAddress(raw: string | undefined): string {
  if (raw === undefined) return '';
  let a = raw.trim();
  if (a.startsWith('[')) {
    const close = a.indexOf(']');
    a = close === -1 ? '' : a.slice(1, close); // "[::1]:8080" -> "::1"
  } else if (a.indexOf(':') !== -1 && a.indexOf(':') === a.lastIndexOf(':') && a.indexOf('.') !== -1) {
    a = a.slice(0, a.indexOf(':')); // "1.2.3.4:5678" -> "1.2.3.4"
  }
  const zone = a.indexOf('%'); // fe80::1%eth0
  if (zone !== -1) a = a.slice(0, zone);
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(a)) a = a.slice(7);
  return isIP(a) === 0 ? '' : a.toLowerCase();
}

/** The entries of every X-Forwarded-For header line, in order, left to right. */
export function forwardedChain(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const lines = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const line of lines) {
    for (const part of line.split(',')) {
      const entry = part.trim();
      if (entry.length > 0) out.push(entry);
    }
  }
  return out;
}

/** The client IP for a request behind `trustedProxyDepth` trusted proxies (see the file comment). */
export function clientIp(req: RequestAddressSource, trustedProxyDepth = 0): string {
  const socketAddress = normalizeAddress(req.socket?.remoteAddress ?? undefined);
  const depth = Number.isInteger(trustedProxyDepth) && trustedProxyDepth > 0 ? trustedProxyDepth : 0;
  if (depth === 0) return socketAddress;
  const chain = forwardedChain(req.headers['x-forwarded-for']);
  if (chain.length === 0) return socketAddress;
  const index = Math.max(0, chain.length - depth);
  return normalizeAddress(chain[index]) || socketAddress;
}
