// Installs the CRDs from crds/ into a cluster and waits until the apiserver serves them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiextensionsV1Api, loadYaml, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { repoRoot } from './paths.ts';

export function loadCrds(): V1CustomResourceDefinition[] {
  const dir = join(repoRoot, 'crds');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    // loadYaml maps JSON names (enum, default, x-kubernetes-validations) onto client-node's model names;
    // a plain parse would let its serializer drop them silently.
    .map((f) => loadYaml<V1CustomResourceDefinition>(readFileSync(join(dir, f), 'utf8')));
}

const isEstablished = (crd: V1CustomResourceDefinition) =>
  crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;

export async function installCrds(kc: KubeConfig, timeoutMs = 30_000): Promise<V1CustomResourceDefinition[]> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const installed: V1CustomResourceDefinition[] = [];
  for (const crd of loadCrds()) {
    const name = crd.metadata!.name!;
    const existing = await api.readCustomResourceDefinition({ name }).catch(() => undefined);
    if (existing) {
      await api.replaceCustomResourceDefinition({ name, body: { ...crd, metadata: { ...crd.metadata, resourceVersion: existing.metadata?.resourceVersion } } });
    } else {
      await api.createCustomResourceDefinition({ body: crd });
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const current = await api.readCustomResourceDefinition({ name });
      if (isEstablished(current)) {
        installed.push(current);
        break;
      }
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms: ${JSON.stringify(current.status?.conditions)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return installed;
}
