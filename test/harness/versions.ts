// The pinned versions in scripts/versions.env, which the build scripts source: one place to bump them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.ts';

export interface PinnedVersions {
  KUBERNETES_VERSION: string;
  ETCD_VERSION: string;
  MINIO_VERSION: string;
  FAKE_GCS_SERVER_VERSION: string;
  HELM_VERSION: string;
  KUBECONFORM_VERSION: string;
  PROMETHEUS_OPERATOR_VERSION: string;
  ARGOCD_VERSION: string;
  FLUX_HELM_API_VERSION: string;
  FLUX_SOURCE_API_VERSION: string;
}

export function pinnedVersions(): PinnedVersions {
  const text = readFileSync(join(repoRoot, 'scripts', 'versions.env'), 'utf8');
  const entries = text
    .split('\n')
    .map((line) => /^([A-Z_]+)=(\S+)$/.exec(line.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1], m[2]] as const);
  const versions = Object.fromEntries(entries) as Partial<PinnedVersions>;
  for (const key of ['KUBERNETES_VERSION', 'ETCD_VERSION', 'MINIO_VERSION', 'FAKE_GCS_SERVER_VERSION', 'HELM_VERSION', 'KUBECONFORM_VERSION', 'PROMETHEUS_OPERATOR_VERSION', 'ARGOCD_VERSION', 'FLUX_HELM_API_VERSION', 'FLUX_SOURCE_API_VERSION'] as const) {
    if (!versions[key]) throw new Error(`scripts/versions.env has no ${key}`);
  }
  return versions as PinnedVersions;
}
