// The CRDs in crds/ (and the Helm chart's crds/) and the TypeScript types are generated from crds/src; this fails when someone edits
// one without regenerating the other.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderAll, repoRoot } from '../../scripts/api-codegen.ts';

test('generated CRDs and types are up to date with crds/src (run `npm run generate`)', async () => {
  const files = await renderAll();
  assert.ok(files.length >= 5, 'expected two CRDs, their copies in the Helm chart and the types file');
  for (const file of files) {
    const onDisk = readFileSync(join(repoRoot, file.path), 'utf8');
    assert.equal(onDisk, file.content, `${file.path} is stale: run npm run generate`);
  }
});
