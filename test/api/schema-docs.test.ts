// `kubectl explain` is only a usable reference if every field is described.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1JSONSchemaProps } from '@kubernetes/client-node';
import { loadCrds } from '../harness/crds.ts';

function undocumented(schema: V1JSONSchemaProps, path: string, out: string[]): string[] {
  if (path.split('.').length > 1 && !path.endsWith('.metadata') && !schema.description?.trim()) out.push(path);
  for (const [name, sub] of Object.entries(schema.properties ?? {})) undocumented(sub, `${path}.${name}`, out);
  if (schema.items && !Array.isArray(schema.items)) undocumented(schema.items as V1JSONSchemaProps, `${path}[]`, out);
  return out;
}

for (const crd of loadCrds()) {
  const kind = crd.spec.names.kind;
  test(`${kind}: every property has a description`, () => {
    for (const version of crd.spec.versions) {
      const schema = version.schema!.openAPIV3Schema!;
      assert.ok(schema.description, `${kind} has no top-level description`);
      assert.deepEqual(undocumented(schema, kind, []), []);
    }
  });
  test(`${kind}: short names, category and printer columns`, () => {
    assert.ok(crd.spec.names.categories?.includes('recording'));
    assert.equal(crd.spec.names.shortNames?.length, 1);
    const columns = crd.spec.versions[0]!.additionalPrinterColumns!.map((c) => c.name);
    if (kind === 'Recording') {
      for (const c of ['Phase', 'Call Type', 'Call', 'Duration', 'Size', 'Age']) assert.ok(columns.includes(c), `missing column ${c}`);
    }
    assert.ok(crd.spec.versions[0]!.subresources?.status, 'status subresource');
  });
}
