import assert from 'node:assert/strict';
import fc from 'fast-check';
import { clientIp, forwardedChain, normalizeAddress } from '../../src/otel/client-ip.js';
import { MAX_ROUTE_KEY_LENGTH, MAX_ROUTE_SEGMENTS, isIdSegment, normalizePath, pathOf, routeKey } from '../../src/otel/route-key.js';

describe('route keys', () => {
  it('uses the framework template when the request carries one', () => {
    assert.equal(routeKey({ url: '/users/42?x=1', route: { path: '/users/:userId' } }), '/users/:userId');
    assert.equal(routeKey({ url: '/api/users/42', route: { path: '/users/:userId' }, baseUrl: '/api' }), '/api/users/:userId');
    assert.equal(routeKey({ url: '/api', route: { path: '/' }, baseUrl: '/api' }), '/api');
    // A RegExp route path is not a usable key: fall back to the normalised path.
    assert.equal(routeKey({ url: '/files/123', route: { path: /^\/files/ } }), '/files/:id');
  });

  it("a router mount path carrying ids (Express's baseUrl is the matched path, not the pattern) is collapsed too", () => {
    // app.use('/users/:userId', router) then router.get('/posts/:postId'): baseUrl is '/users/42', one series per user before.
    assert.equal(routeKey({ url: '/posts/9', originalUrl: '/users/42/posts/9', route: { path: '/posts/:postId' }, baseUrl: '/users/42' }), '/users/:id/posts/:postId');
    const keys = new Set<string>();
    for (let i = 0; i < 1000; i++) keys.add(routeKey({ url: '/', route: { path: '/' }, baseUrl: `/orgs/${crypto.randomUUID()}/projects/${i}` }));
    assert.deepEqual([...keys], ['/orgs/:id/projects/:id']);
    assert.equal(routeKey({ url: '/x', route: { path: '/x' }, baseUrl: '/api/v2' }), '/api/v2/x', 'plain words stay');
  });

  it('collapses numbers, uuids, hex ids and long tokens to :id', () => {
    assert.equal(normalizePath('/users/42/orders/7'), '/users/:id/orders/:id');
    assert.equal(normalizePath('/o/3f2b8c1e-9a4d-4b7e-8c2f-1a2b3c4d5e6f'), '/o/:id');
    assert.equal(normalizePath('/doc/5f0c6e1b2a3d4c5b6a7f8e9d'), '/doc/:id');
    assert.equal(normalizePath('/t/' + 'A'.repeat(40)), '/t/:id');
    assert.equal(normalizePath('/v1/items'), '/v1/items');
    assert.equal(normalizePath('/orders/ord_8472919'), '/orders/:id');
    assert.equal(normalizePath('/'), '/');
    assert.equal(normalizePath('/a/'), '/a/');
  });

  it('keeps words that contain a digit or two', () => {
    for (const word of ['v1', 'v2', 'oauth2', 'health', 'api', 'ipv6-config', 'top10']) assert.equal(isIdSegment(word), false, word);
  });

  it('strips query, fragment and absolute-form origins', () => {
    assert.equal(pathOf('/a/b?c=1#x'), '/a/b');
    assert.equal(pathOf('http://example.com/a?b'), '/a');
    assert.equal(pathOf('http://example.com'), '/');
    assert.equal(pathOf(undefined), '/');
  });

  it('bounds depth and length whatever the path', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 40 }), { maxLength: 30 }), (segments) => {
        const key = normalizePath('/' + segments.join('/'));
        assert.ok(key.length <= MAX_ROUTE_KEY_LENGTH);
        assert.ok(key.split('/').length - 1 <= MAX_ROUTE_SEGMENTS + 1);
        assert.ok(key.startsWith('/'));
      }),
    );
  });

  it('bounds cardinality: 10,000 distinct id paths give one key', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 10_000; i++) keys.add(routeKey({ url: `/users/${i * 7919}/posts/${crypto.randomUUID()}?page=${i}` }));
    assert.deepEqual([...keys], ['/users/:id/posts/:id']);
  });
});

describe('client IP behind trusted proxies', () => {
  const req = (remote: string | undefined, xff?: string | string[]) => ({
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
    socket: { remoteAddress: remote },
  });

  it('depth 0 ignores X-Forwarded-For entirely (spoofing has no effect)', () => {
    assert.equal(clientIp(req('10.0.0.5', '1.2.3.4'), 0), '10.0.0.5');
    assert.equal(clientIp(req('10.0.0.5', ['1.2.3.4', '5.6.7.8'])), '10.0.0.5');
  });

  it('depth n takes the n-th entry from the right', () => {
    const spoofed = '6.6.6.6, 203.0.113.9, 198.51.100.2';
    assert.equal(clientIp(req('10.0.0.1', spoofed), 1), '198.51.100.2');
    assert.equal(clientIp(req('10.0.0.1', spoofed), 2), '203.0.113.9');
    assert.equal(clientIp(req('10.0.0.1', spoofed), 3), '6.6.6.6');
    // Several header lines are one list, in order.
    assert.equal(clientIp(req('10.0.0.1', ['6.6.6.6', '203.0.113.9']), 1), '203.0.113.9');
  });

  it('a chain shorter than the depth yields its leftmost entry; none yields the socket', () => {
    assert.equal(clientIp(req('10.0.0.1', '203.0.113.9'), 3), '203.0.113.9');
    assert.equal(clientIp(req('10.0.0.1'), 2), '10.0.0.1');
    assert.equal(clientIp(req('10.0.0.1', ' , '), 1), '10.0.0.1');
  });

  it('never returns a non-address: the socket address is used instead', () => {
    assert.equal(clientIp(req('10.0.0.1', '1.2.3.4, <script>'), 1), '10.0.0.1');
    assert.equal(clientIp(req('10.0.0.1', 'unknown'), 1), '10.0.0.1');
    assert.equal(clientIp(req(undefined, 'unknown'), 1), '');
  });

  it('normalises ports, brackets, zones and IPv4-mapped IPv6', () => {
    assert.equal(normalizeAddress('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(normalizeAddress('1.2.3.4:5678'), '1.2.3.4');
    assert.equal(normalizeAddress('[2001:DB8::1]:443'), '2001:db8::1');
    assert.equal(normalizeAddress('fe80::1%eth0'), 'fe80::1');
    assert.equal(normalizeAddress('2001:db8::1'), '2001:db8::1');
    assert.equal(normalizeAddress('999.1.1.1'), '');
    assert.deepEqual(forwardedChain(['a, b', ' c ']), ['a', 'b', 'c']);
    assert.equal(clientIp(req('::ffff:10.1.2.3')), '10.1.2.3');
  });
});
