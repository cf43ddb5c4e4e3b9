// The CRDs in crds/ (and their copies in the Helm chart's templates), the TypeScript types and the API
// reference in docs/api.md are generated from crds/src; this fails when someone edits one without
// regenerating the others.
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

test('docs/api.md documents every field of both kinds, with its limits', async () => {
  const reference = (await renderAll()).find((f) => f.path === 'docs/api.md')!.content;
  for (const row of ['`spec.callType` | string', '`spec.webhooks[].url` | string', '`spec.storage.secretRef.name`', '`status.output.sha256`', '`status.conditions[].type`', '`spec.recording.layout.options`']) {
    assert.ok(reference.includes(row), `docs/api.md has ${row}`);
  }
  assert.match(reference, /`spec.callType` \| string \| .* <br>\*\*required\*\*; max length 253/);
  assert.match(reference, /`spec.state` \| string \| .*one of: `Recording`, `Paused`, `Stopped`; default: `"Recording"`/);
});
