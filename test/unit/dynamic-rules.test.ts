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

  it('names every bad field', () => {
    assert.throws(
      () => parseDynamicRules({ version: 'seven', ip_blacklist: 'x', endpoint_rate_limits: { '/a': [1] }, blocked_cloud_providers: ['DigitalOcean'], auto_ban_threshold: 0, emergency_mode: null }),
      (e: unknown) => {
        assert.ok(e instanceof GuardAgentValidationError);
        assert.deepEqual(e.problems.map((p) => p.field).sort(), ['autoBanThreshold', 'blockedCloudProviders', 'emergencyMode', 'endpointRateLimits./a', 'ipBlacklist', 'version'].sort());
        return true;
      },
    );
    assert.throws(() => parseDynamicRules([]), /rules: expected an object/);
  });
});
