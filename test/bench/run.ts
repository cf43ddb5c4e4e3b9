// `npm run bench`: every *.bench.ts here, one after another (they measure CPU, so never in parallel).
// Each prints one JSON object per figure.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const only = process.argv[2];
for (const file of readdirSync(import.meta.dirname).filter((f) => f.endsWith('.bench.ts') && (!only || f.includes(only))).sort()) {
  execFileSync(process.execPath, [join(import.meta.dirname, file)], { stdio: 'inherit' });
}
