import assert from 'node:assert/strict';
import { endpointLimitTable, endpointPathKey } from '../../src/rules/endpoint-path.js';

describe('rules/endpoint-path', () => {
  it('gives every spelling a router sends to one handler the same key', () => {
    for (const path of ['/login', '/login/', '/LOGIN', '/Login/', '//login', '/login//', '/%6Cogin', '/%6cOGIN/', '/login?next=/x', '/Login/#top', '/login/?a=1']) {
      assert.equal(endpointPathKey(path), '/login', path);
    }
    assert.equal(endpointPathKey('/api//v1///Users/'), '/api/v1/users');
  });

  it('keeps the root, reserved escapes and malformed escapes as they are', () => {
    assert.equal(endpointPathKey('/'), '/');
    assert.equal(endpointPathKey('//'), '/');
    assert.equal(endpointPathKey('/?x=1'), '/');
    // %2F is a character of the segment, not a separator: /a%2Fb is not /a/b.
    assert.equal(endpointPathKey('/a%2Fb'), '/a%2fb');
    assert.equal(endpointPathKey('/login%2F'), '/login%2f');
    assert.equal(endpointPathKey('/a%20b'), '/a%20b');
    // Unreserved escapes decode: - . _ ~ and alphanumerics.
    assert.equal(endpointPathKey('/%7Euser/%2D%2E%5F'), '/~user/-._');
    // A malformed escape stays (never throws, unlike decodeURIComponent); a valid one right after it still decodes.
    for (const [bad, key] of [['/x%', '/x%'], ['/X%4', '/x%4'], ['/x%ZZ', '/x%zz'], ['/x%%41', '/x%a'], ['/%E0%A4%A', '/%e0%a4%a']]) {
      assert.equal(endpointPathKey(bad), key, bad);
    }
  });

  it('returns a path that needs nothing as it is', () => {
    const path = '/api/v1/items';
    assert.equal(endpointPathKey(path), path);
  });

  it('keys the limits alike; when two rule keys normalise alike the stricter limit applies', () => {
    const table = endpointLimitTable({ '/Login/': [10, 60], '/login': [2, 60], '/LOGIN': [5, 1], '/Api/': [3, 10] });
    assert.deepEqual([...table.entries()], [
      ['/login', [2, 60]],
      ['/api', [3, 10]],
    ]);
  });
});
