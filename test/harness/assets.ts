// Finds the external programs the harness runs. Follows envtest's convention: KUBEBUILDER_ASSETS names a
// directory with ready kube-apiserver, etcd and kubectl binaries; otherwise the cache that
// scripts/build-go-tools.sh fills is used.
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, repoRoot } from './paths.ts';
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

export function kubernetesBinary(name: 'kube-apiserver' | 'kube-controller-manager' | 'kubectl' | 'etcd' | 'kube-scheduler' | 'kubelet' | 'kube-proxy'): string {
  const hint = process.env.KUBEBUILDER_ASSETS ? `KUBEBUILDER_ASSETS=${process.env.KUBEBUILDER_ASSETS} must contain ${name}` : buildHint;
  return executable(join(kubernetesAssetsDir(), name), hint);
}

export function minioBinary(): string {
  return executable(join(cacheDir, 'bin', `minio-${pinnedVersions().MINIO_VERSION}`, 'minio'), buildHint);
}

/** fsouza/fake-gcs-server, a Google Cloud Storage emulator (JSON, XML and resumable upload APIs). */
export function fakeGcsServerBinary(): string {
  return executable(join(cacheDir, 'bin', `fake-gcs-server-${pinnedVersions().FAKE_GCS_SERVER_VERSION}`, 'fake-gcs-server'), buildHint);
}

export function helmBinary(): string {
  return executable(join(cacheDir, 'bin', `helm-${pinnedVersions().HELM_VERSION}`, 'helm'), buildHint);
}

export function kubeconformBinary(): string {
  return executable(join(cacheDir, 'bin', `kubeconform-${pinnedVersions().KUBECONFORM_VERSION}`, 'kubeconform'), buildHint);
}

/** test/tools/chart-check, built by scripts/build-go-tools.sh under a hash of its sources (the same hash here). */
export function chartCheckBinary(): string {
  return goToolBinary('chart-check');
}

/** test/tools/seccomp-default: prints containerd's RuntimeDefault seccomp profile (built like chart-check). */
export function seccompDefaultBinary(): string {
  return goToolBinary('seccomp-default');
}

/** test/tools/pause: the Pod sandbox's process, for the pause image of the test node (test/harness/pause-image.ts). */
export function pauseBinary(): string {
  return goToolBinary('pause');
}

/** A Go tool of test/tools, built by scripts/build-go-tools.sh under a hash of its sources (the same hash here). */
function goToolBinary(name: string): string {
  const src = join(repoRoot, 'test', 'tools', name);
  const files = ['go.mod', 'go.sum', ...readdirSync(src).filter((f) => f.endsWith('.go')).sort()];
  const hash = createHash('sha256').update(Buffer.concat(files.map((f) => readFileSync(join(src, f))))).digest('hex').slice(0, 16);
  return executable(join(cacheDir, 'bin', `${name}-${hash}`, name), buildHint);
}

/** The CRD folders scripts/build-go-tools.sh took from the Prometheus operator's and Argo CD's modules and generated for Flux. */
export function thirdPartyCrdDirs(): string[] {
  const v = pinnedVersions();
  const dirs = [`github.com_prometheus-operator_prometheus-operator@${v.PROMETHEUS_OPERATOR_VERSION}`, `github.com_argoproj_argo-cd_v3@${v.ARGOCD_VERSION}`, `fluxcd@${v.FLUX_HELM_API_VERSION}-${v.FLUX_SOURCE_API_VERSION}`].map((d) => join(cacheDir, 'crds', d));
  for (const d of dirs) if (!existsSync(d)) throw new Error(`${d} is missing; ${buildHint}`);
  return dirs;
}
