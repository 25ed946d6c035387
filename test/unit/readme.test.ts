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
      // The exact row `node --import tsx scripts/config-table.ts` prints: regenerate the table when this fails.
      const line = `| \`${row.option}\` | \`${row.env}\` | \`${row.default}\` | ${row.description} |`;
      assert.ok(readme.includes(line), `README table row for ${row.option} is stale: run node --import tsx scripts/config-table.ts`);
      assert.ok(readme.includes('`' + row.option + '`'), `option ${row.option}`);
      if (row.env.startsWith('GUARD_AGENT_')) assert.ok(readme.includes('`' + row.env + '`'), `env ${row.env}`);
    }
  });
});
