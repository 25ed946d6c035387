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

/** Socket addresses whose normalised form is remembered; past this the memory is emptied and refilled. */
export const ADDRESS_CACHE_SIZE = 4096;
const addressCache = new Map<string, string>();

/**
 * `normalizeAddress` for socket peer addresses, remembered: a keep-alive
 * client sends many requests from one address, and the same few addresses
 * (proxies, load balancers) often front every request. A Map lookup instead
 * of a regex and `isIP` per request; bounded (ADDRESS_CACHE_SIZE).
 */
function normalizeSocketAddress(raw: string | undefined): string {
  if (raw === undefined) return '';
  let a = addressCache.get(raw);
  if (a === undefined) {
    a = normalizeAddress(raw);
    if (addressCache.size >= ADDRESS_CACHE_SIZE) addressCache.clear();
    addressCache.set(raw, a);
  }
  return a;
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

/** The normalised peer address, kept on the socket itself: fixed for the connection's life. */
const SOCKET_ADDRESS = Symbol('guard-agent-otel.clientAddress');

type AddressedSocket = NonNullable<RequestAddressSource['socket']> & { [SOCKET_ADDRESS]?: string };

/**
 * The socket's normalised peer address, worked out once per connection (a
 * keep-alive client sends many requests). Call it while the connection is
 * open for an address that is needed later: a closed socket has none.
 */
export function socketAddressOf(socket: AddressedSocket | null | undefined): string {
  if (socket === null || socket === undefined) return '';
  let a = socket[SOCKET_ADDRESS];
  if (a === undefined) {
    const raw = socket.remoteAddress;
    a = normalizeSocketAddress(raw ?? undefined);
    // Before the socket is connected (or after it closed) there is no address yet: do not remember that.
    if (raw !== undefined && Object.isExtensible(socket)) socket[SOCKET_ADDRESS] = a;
  }
  return a;
}

/** The client IP for a request behind `trustedProxyDepth` trusted proxies (see the file comment). */
export function clientIp(req: RequestAddressSource, trustedProxyDepth = 0): string {
  const socketAddress = socketAddressOf(req.socket as AddressedSocket | null | undefined);
  const depth = Number.isInteger(trustedProxyDepth) && trustedProxyDepth > 0 ? trustedProxyDepth : 0;
  if (depth === 0) return socketAddress;
  const chain = forwardedChain(req.headers['x-forwarded-for']);
  if (chain.length === 0) return socketAddress;
  const index = Math.max(0, chain.length - depth);
  return normalizeAddress(chain[index]) || socketAddress;
}
