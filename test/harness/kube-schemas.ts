// JSON schemas for kubeconform, made here because no schema can be downloaded on our machines: the
// built-in kinds from the test apiserver's own OpenAPI document (so they match the pinned Kubernetes
// version exactly), and CRD kinds from their openAPIV3Schema (ours, the Prometheus operator's, Argo CD's).
// Strict, as kubeconform's own "-strict" schema sets: an object with declared properties allows no others.
// Layout: <dir>/<group>/<kind>_<version>.json, with the built-in kinds' shared definitions in
// <dir>/_definitions.json; kubeconform reads it through schemaLocationTemplate.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KubeApi, fromKubeconfig } from '../../operator/src/runtime/kube-api.ts';
import { kubeconformBinary } from './assets.ts';

type Schema = { [key: string]: unknown };
const isSchema = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The location argument for `kubeconform -schema-location`. */
export const schemaLocationTemplate = (dir: string) => `${dir}/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`;

/** OpenAPI's Kubernetes dialect → plain JSON schema (draft 4), strict. */
function toJsonSchema(node: unknown, refPrefix: string): unknown {
  if (Array.isArray(node)) return node.map((n) => toJsonSchema(n, refPrefix));
  if (!isSchema(node)) return node;
  const out: Schema = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === '$ref' && typeof v === 'string') out.$ref = v.replace('#/definitions/', `${refPrefix}#/definitions/`);
    else if (k === 'properties' && isSchema(v)) out.properties = Object.fromEntries(Object.entries(v).map(([name, s]) => [name, toJsonSchema(s, refPrefix)]));
    else out[k] = toJsonSchema(v, refPrefix);
  }
  if (out.format === 'int-or-string' || out['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    delete out.format;
    out.oneOf = [{ type: 'string' }, { type: 'integer' }];
  }
  if (out.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  if (isSchema(out.properties) && out.additionalProperties === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true) out.additionalProperties = false;
  return out;
}

function write(dir: string, group: string, kind: string, version: string, schema: unknown): void {
  mkdirSync(join(dir, group), { recursive: true });
  writeFileSync(join(dir, group, `${kind.toLowerCase()}_${version}.json`), JSON.stringify(schema));
}

/** Every built-in kind the apiserver serves (from /openapi/v2), and every CRD in the given folders. */
export async function writeKubeconformSchemas(kubeconfigPath: string, dir: string, crdDirs: string[]): Promise<void> {
  const openapi = await new KubeApi(fromKubeconfig(kubeconfigPath)).get<{ definitions: Record<string, Schema> }>('/openapi/v2');
  const definitions = toJsonSchema(openapi.definitions, '') as Record<string, Schema>;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '_definitions.json'), JSON.stringify({ definitions }));
  for (const [name, definition] of Object.entries(openapi.definitions)) {
    for (const gvk of (definition['x-kubernetes-group-version-kind'] ?? []) as { group: string; version: string; kind: string }[]) {
      // kubeconform's {{ .Group }} of a core kind (apiVersion v1) is "v1".
      write(dir, gvk.group || gvk.version, gvk.kind, gvk.version, { $ref: `../_definitions.json#/definitions/${name}` });
    }
  }
  for (const crdDir of crdDirs) {
    for (const file of readdirSync(crdDir).filter((f) => f.endsWith('.yaml'))) {
      for (const doc of parseAllDocuments(readFileSync(join(crdDir, file), 'utf8'))) {
        const crd = doc.toJS() as { kind?: string; spec?: { group: string; names: { kind: string }; versions: { name: string; schema?: { openAPIV3Schema: Schema } }[] } } | null;
        if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
        for (const v of crd.spec.versions) {
          if (v.schema) write(dir, crd.spec.group, crd.spec.names.kind, v.name, toJsonSchema(v.schema.openAPIV3Schema, ''));
        }
      }
    }
  }
}

export interface KubeconformReport {
  exitCode: number | null;
  resources: { kind: string; name: string; status: string; msg: string }[];
  summary: { valid: number; invalid: number; errors: number; skipped: number };
}

/** `kubeconform -strict` over a multi-document manifest stream, with the schemas writeKubeconformSchemas wrote. */
export async function kubeconform(manifests: string, schemasDir: string): Promise<KubeconformReport> {
  const child = execFile(kubeconformBinary(), ['-strict', '-summary', '-output', 'json', '-schema-location', schemaLocationTemplate(schemasDir), '-'], { maxBuffer: 16 * 1024 * 1024 });
  child.stdin!.end(manifests);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exitCode = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { exitCode, ...(JSON.parse(out) as Omit<KubeconformReport, 'exitCode'>) };
}

/** How many objects a manifest stream holds (documents with a kind). */
export const objectCount = (manifests: string) => manifests.split(/^---\s*$/m).filter((d) => /^kind:/m.test(d)).length;
