// Installs the API into a cluster as the Helm chart defines it: the CRDs (waiting until the apiserver
// serves them), then the admission policy and the roles for recording users.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiextensionsV1Api, CustomObjectsApi, KubernetesObjectApi, loadAllYaml, loadYaml, type KubeConfig, type KubernetesObject, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { helmBinary } from './assets.ts';
import { pinnedVersions } from './versions.ts';
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

export const chartDir = join(repoRoot, 'charts', 'recording-operator');

/**
 * The Helm chart rendered as `helm install` would, with `values` (--set). By default without the
 * operator's Deployment and RBAC (the tests run the operator as a process) and without the CRDs
 * (installCrds installs crds/, the same generated schemas, and waits until they are served).
 */
export function renderChart(values: string[] = ['operator.deploy=false', 'crds.enabled=false'], namespace = 'recording-system'): KubernetesObject[] {
  const args = ['template', 'recording-operator', chartDir, '--namespace', namespace, '--kube-version', pinnedVersions().KUBERNETES_VERSION, ...values.flatMap((v) => ['--set', v])];
  // Templates switched off still leave a document (their comments); client-node's loader fails on those.
  const documents = execFileSync(helmBinary(), args, { encoding: 'utf8' }).split(/^---\s*$/m).filter((d) => /^kind:/m.test(d));
  return loadAllYaml(documents.join('\n---\n')) as KubernetesObject[];
}

/** Creates or replaces each object the chart renders besides the CRDs (admission policy, user roles). */
export async function installClusterManifests(kc: KubeConfig): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const object of renderChart()) {
    const existing = await api.read({ apiVersion: object.apiVersion!, kind: object.kind!, metadata: { name: object.metadata!.name! } }).catch(() => undefined);
    if (existing) await api.replace({ ...object, metadata: { ...object.metadata, resourceVersion: existing.metadata?.resourceVersion } });
    else await api.create(object);
  }
}

/**
 * The admission policy resolves a CRD's types a moment after the CRD is Established; until then writes to
 * Recordings fail with 503 "Resource kind ... not found". Waits with dry-run creates until one is admitted.
 */
export async function untilRecordingsAdmitted(kc: KubeConfig, timeoutMs = 30_000): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const body = { apiVersion: 'recording.dev/v1alpha1', kind: 'Recording', metadata: { name: 'admission-probe' }, spec: { callType: 'probe', callId: 'probe' } };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const code = await custom.createNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: 'default', plural: 'recordings', body, dryRun: 'All' }).then(() => 200, (err: { code?: number }) => err.code);
    if (code !== 503) return;
    if (Date.now() > deadline) throw new Error(`Recordings still not admitted ${timeoutMs} ms after the CRDs were installed (HTTP 503)`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The CRDs, established, and the chart's cluster-wide objects. */
export async function installApi(kc: KubeConfig): Promise<V1CustomResourceDefinition[]> {
  const crds = await installCrds(kc);
  await installClusterManifests(kc);
  await untilRecordingsAdmitted(kc);
  return crds;
}

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
