import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { entryMac, entryMacMatches, rulesShareKey } from '../../src/rules/shared-entry-mac.js';

const API_KEY = 'mac_test_key_0123456789';
const entry = { body: { rule_id: 'r', version: 3, ip_blacklist: ['203.0.113.0/24'], emergency_mode: false }, etag: '"abc"', fetchedAt: 1_700_000_000_000 };

describe('rules/shared-entry-mac', () => {
  it('derives the MAC key from the API key without being the API key', () => {
    const key = rulesShareKey(API_KEY);
    assert.equal(key.length, 32);
    assert.deepEqual(key, createHmac('sha256', API_KEY).update('guard-agent rules-share v1').digest());
    assert.ok(!key.toString('latin1').includes(API_KEY));
    assert.notDeepEqual(rulesShareKey(API_KEY + 'x'), key);
  });

  it('accepts the entry it signed, also after a JSON round trip (as through Redis)', () => {
    const key = rulesShareKey(API_KEY);
    const mac = entryMac(key, 'p1', entry);
    assert.match(mac, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(entryMacMatches(key, 'p1', entry, mac));
    const copy = JSON.parse(JSON.stringify({ ...entry, mac })) as typeof entry & { mac: string };
    assert.ok(entryMacMatches(key, 'p1', { body: copy.body, etag: copy.etag, fetchedAt: copy.fetchedAt }, copy.mac));
  });

  it('refuses a missing MAC, another key, another project, and any change to the body, ETag or fetchedAt', () => {
    const key = rulesShareKey(API_KEY);
    const mac = entryMac(key, 'p1', entry);
    for (const forged of [undefined, null, 42, '', 'x'.repeat(43), mac.slice(0, -1)]) assert.equal(entryMacMatches(key, 'p1', entry, forged), false, String(forged));
    assert.equal(entryMacMatches(rulesShareKey('another_key_0123456789'), 'p1', entry, mac), false, 'another key');
    assert.equal(entryMacMatches(key, 'p2', entry, mac), false, 'another project');
    assert.equal(entryMacMatches(key, 'p1', { ...entry, body: { ...entry.body, emergency_mode: true } }, mac), false, 'body');
    assert.equal(entryMacMatches(key, 'p1', { ...entry, body: { ...entry.body, version: 2 ** 53 - 1 } }, mac), false, 'version');
    assert.equal(entryMacMatches(key, 'p1', { ...entry, etag: '"other"' }, mac), false, 'etag');
    assert.equal(entryMacMatches(key, 'p1', { body: entry.body, fetchedAt: entry.fetchedAt }, mac), false, 'etag removed');
    assert.equal(entryMacMatches(key, 'p1', { ...entry, fetchedAt: entry.fetchedAt + 3_600_000 }, mac), false, 'fetchedAt');
  });
});
