import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describeConfig } from '../../src/config.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('opens with the two commands: the demo and the tests', () => {
    const head = readme.slice(0, 1200);
    assert.match(head, /npm run demo/);
    assert.match(head, /npm test/);
  });

  it('documents every config option with its environment variable and default', () => {
    for (const row of describeConfig()) {
      assert.ok(readme.includes('`' + row.option + '`'), `option ${row.option}`);
      if (row.env.startsWith('GUARD_AGENT_')) assert.ok(readme.includes('`' + row.env + '`'), `env ${row.env}`);
    }
  });
});
