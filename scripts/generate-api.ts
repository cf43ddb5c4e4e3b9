// `npm run generate`: writes the CRDs and TypeScript types derived from crds/src (see api-codegen.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderAll, repoRoot } from './api-codegen.ts';

for (const file of await renderAll()) {
  const target = join(repoRoot, file.path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, file.content);
  console.log(`wrote ${file.path}`);
}
