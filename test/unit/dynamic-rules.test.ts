import assert from 'node:assert/strict';
import { parseDynamicRules, dynamicRulesToWire, defaultDynamicRules } from '../../src/models/index.js';
import { GuardAgentValidationError } from '../../src/errors.js';
import { GOLDEN } from '../helpers/golden.js';

describe('DynamicRules', () => {
  it('parses golden payload D from snake_case into the camelCase shape @guardcore/core validates', () => {
    const r = parseDynamicRules(GOLDEN.rules);
    assert.equal(r.ruleId, 'rs_42');
    assert.equal(r.version, 7);
    assert.equal(r.timestamp, '2026-09-02T13:55:00.000Z');
    assert.equal(r.ttl, 120);
    assert.deepEqual(r.ipBlacklist, ['203.0.113.9']);
    assert.deepEqual(r.endpointRateLimits, { '/api/login': [5, 60] });
    assert.deepEqual(r.blockedCloudProviders, ['AWS']);
    assert.equal(r.autoBanThreshold, 5);
    assert.equal(r.autoBanDuration, 900);
    assert.equal(r.enableRateLimitAutoBan, true);
    assert.equal(r.enableIpBanning, null);
    assert.equal(r.message, 'weekly push');
    assert.equal(r.expiresAt, null);
  });

  it('fills the model defaults for missing fields', () => {
    const r = parseDynamicRules({}, new Date('2026-01-01T00:00:00Z'));
    assert.deepEqual(r, defaultDynamicRules(new Date('2026-01-01T00:00:00Z')));
    assert.equal(r.ruleId, 'default-rule');
    assert.equal(r.version, 1);
    assert.equal(r.ttl, 300);
  });

  it('round-trips through the wire form', () => {
    const r = parseDynamicRules(GOLDEN.rules);
    assert.deepEqual(parseDynamicRules(dynamicRulesToWire(r)), r);
  });

  it('reads a numeric timestamp as pydantic 2 does: seconds up to 2e10, milliseconds beyond, numeric strings too', () => {
    const at = (v: unknown) => parseDynamicRules({ timestamp: v, expires_at: v });
    assert.equal(at(1_788_000_000).timestamp, '2026-08-29T10:40:00.000Z');
    assert.equal(at(1_788_000_000.5).expiresAt, '2026-08-29T10:40:00.500Z');
    assert.equal(at(1_788_000_000_000).timestamp, '2026-08-29T10:40:00.000Z', 'milliseconds, not the year 58629');
    assert.equal(at(2e10).timestamp, new Date(2e13).toISOString(), 'the bound itself is seconds');
    assert.equal(at(2e10 + 1).timestamp, new Date(2e10 + 1).toISOString());
    assert.equal(at('1788000000').expiresAt, '2026-08-29T10:40:00.000Z');
    assert.equal(at(' 1788000000000 ').timestamp, '2026-08-29T10:40:00.000Z');
    assert.equal(at('2026-08-29T10:40:00Z').timestamp, '2026-08-29T10:40:00.000Z', 'text dates unchanged');
    assert.throws(() => at(Number.NaN), /timestamp/);
  });

  it('names every bad field', () => {
    assert.throws(
      () => parseDynamicRules({ version: 'seven', ip_blacklist: 'x', endpoint_rate_limits: { '/a': [1] }, blocked_cloud_providers: [5], auto_ban_threshold: 0, emergency_mode: null }),
      (e: unknown) => {
        assert.ok(e instanceof GuardAgentValidationError);
        assert.deepEqual(e.problems.map((p) => p.field).sort(), ['autoBanThreshold', 'blockedCloudProviders', 'emergencyMode', 'endpointRateLimits./a', 'ipBlacklist', 'version'].sort());
        return true;
      },
    );
    assert.throws(() => parseDynamicRules([]), /rules: expected an object/);
  });
});
