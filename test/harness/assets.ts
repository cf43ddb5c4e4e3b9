// Finds the external programs the harness runs. Follows envtest's convention: KUBEBUILDER_ASSETS names a
// directory with ready kube-apiserver, etcd and kubectl binaries; otherwise the cache that
// scripts/build-go-tools.sh fills is used.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from './paths.ts';
import { pinnedVersions } from './versions.ts';

function executable(path: string, hint: string): string {
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    throw new Error(`${path} is missing or not executable; ${hint}`);
  }
}

const buildHint = 'run `npm run setup` (scripts/setup.sh builds and caches it)';

export function kubernetesAssetsDir(): string {
  return process.env.KUBEBUILDER_ASSETS ?? join(cacheDir, 'kubebuilder-assets', pinnedVersions().KUBERNETES_VERSION);
}

export function kubernetesBinary(name: 'kube-apiserver' | 'kube-controller-manager' | 'kubectl' | 'etcd'): string {
  const hint = process.env.KUBEBUILDER_ASSETS ? `KUBEBUILDER_ASSETS=${process.env.KUBEBUILDER_ASSETS} must contain ${name}` : buildHint;
  return executable(join(kubernetesAssetsDir(), name), hint);
}

export function minioBinary(): string {
  return executable(join(cacheDir, 'bin', `minio-${pinnedVersions().MINIO_VERSION}`, 'minio'), buildHint);
}

export function helmBinary(): string {
  return executable(join(cacheDir, 'bin', `helm-${pinnedVersions().HELM_VERSION}`, 'helm'), buildHint);
}
