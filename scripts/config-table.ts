// Prints the README's configuration table from the single source of truth (src/config.ts).
import { describeConfig } from '../src/config.js';

console.log('| option | environment variable | default | what it does |');
console.log('|---|---|---|---|');
for (const r of describeConfig()) console.log(`| \`${r.option}\` | \`${r.env}\` | \`${r.default}\` | ${r.description} |`);
