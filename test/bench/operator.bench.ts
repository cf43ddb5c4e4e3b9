// Operator benchmarks (issue 4): 1,000 Recordings created at once; time until every one has its
// recorder Pod and INVOKED status, as a ratio against a bare client writing the same objects (the
// Recording, its Secret, its Pod, its labels and status) with the same concurrency; the operator's
// peak RSS. Pods are not run (no recorder needed for INVOKED).
import { execFileSync, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { CallType, Recording } from '@recording-operator/common/api/generated/types.ts';
import { desiredPod, secretName } from '../../operator/src/recording/desired-pod.ts';
import { effectiveSettings } from '../../operator/src/recording/effective-settings.ts';
import { callUrl } from '../../operator/src/recording/call-url.ts';
import { objectKey, recorderConfig } from '../../operator/src/recording/recorder-spec.ts';
import { startControlPlane } from '../harness/control-plane.ts';
import { installApi } from '../harness/crds.ts';
import { repoRoot } from '../harness/paths.ts';
import { freePort } from '../harness/processes.ts';
import { emit } from './figures.ts';

const count = Number(process.env.BENCH_RECORDINGS ?? 1000);
const concurrency = 16;
const group = 'recording.dev';
const version = 'v1alpha1';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
// The V8 settings the operator image runs with (operator/Dockerfile): without them V8 grows its heap
// lazily (peak RSS 384 MB with 1,000 Recordings before the operator had its own client; 144 MB with).
const operatorNodeOptions = process.env.OPERATOR_NODE_OPTIONS ?? '--max-semi-space-size=1 --max-old-space-size=96 --optimize-for-size';
const operatorNodeArgs = operatorNodeOptions.split(/\s+/).filter(Boolean);

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

async function inParallel(n: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) await task(next++);
  }));
}

const cp = await startControlPlane();
try {
  const kc = cp.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  await installApi(kc);
  for (const name of ['recording-system', 'bench-operator', 'bench-bare']) await core.createNamespace({ body: { metadata: { name } } });
  await core.createNamespacedSecret({ namespace: 'recording-system', body: { metadata: { name: 'storage' }, stringData: { accessKeyId: 'bench', secretAccessKey: 'bench-secret' } } });
  const callType: CallType = {
    apiVersion: `${group}/${version}`, kind: 'CallType', metadata: { name: 'bench' },
    spec: { recording: { quality: '720p' }, callUrlTemplate: 'https://meet.example.com/{callId}', storage: { endpoint: 'http://127.0.0.1:9', bucket: 'bench', forcePathStyle: true, secretRef: { name: 'storage' } } },
  };
  await custom.createClusterCustomObject({ group, version, plural: 'calltypes', body: callType });
  // Each phase has its own call ids: one active recording per call holds across namespaces.
  const recordingBody = (namespace: string, i: number): Recording => ({ apiVersion: `${group}/${version}`, kind: 'Recording', metadata: { name: `rec-${i}`, namespace }, spec: { callType: 'bench', callId: `${namespace}-${i}` } });

  const healthPort = await freePort();
  const operatorLog = openSync(join(cp.dir, 'operator.log'), 'w');
  // The operator as its image runs it: types stripped ahead of time (scripts/build-js.ts).
  const build = join(repoRoot, '.tmp', 'operator-build');
  execFileSync(process.execPath, ['--no-warnings', join(repoRoot, 'scripts', 'build-js.ts'), 'operator', build]);
  const operator = spawn(process.execPath, [...operatorNodeArgs, join(build, 'operator', 'src', 'main.js')], {
    stdio: ['ignore', operatorLog, operatorLog],
    env: { ...process.env, KUBECONFIG: cp.kubeconfigPath, OPERATOR_NAMESPACE: 'recording-system', HEALTH_PORT: String(healthPort), HEALTH_HOST: '127.0.0.1', LOG_LEVEL: process.env.BENCH_DEBUG ? 'debug' : 'warn' },
  });
  while (!(await fetch(`http://127.0.0.1:${healthPort}/readyz`).then((r) => r.ok, () => false))) await new Promise((r) => setTimeout(r, 100));
  const idleRssKiB = rssOf(operator.pid!);
  // Where the memory goes, sampled from the operator's own metrics while it works.
  const peak = { heapUsed: 0, external: 0 };
  const sampler = setInterval(() => {
    void fetch(`http://127.0.0.1:${healthPort}/metrics`).then((r) => r.text()).then((text) => {
      const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? 0);
      peak.heapUsed = Math.max(peak.heapUsed, value('nodejs_heap_size_used_bytes'));
      peak.external = Math.max(peak.external, value('nodejs_external_memory_bytes'));
    }, () => undefined);
  }, 1000);
  const operatorStart = performance.now();
  await inParallel(count, (i) => custom.createNamespacedCustomObject({ group, version, namespace: 'bench-operator', plural: 'recordings', body: recordingBody('bench-operator', i) }));
  for (;;) {
    const recordings = (await custom.listNamespacedCustomObject({ group, version, namespace: 'bench-operator', plural: 'recordings' })) as { items: Recording[] };
    const invoked = recordings.items.filter((r) => r.status?.phase === 'INVOKED' && r.status.podName).length;
    const pods = (await core.listNamespacedPod({ namespace: 'bench-operator' })).items.length;
    if (invoked === count && pods === count) break;
    if (process.env.BENCH_DEBUG) console.error({ invoked, pods, seconds: Math.round((performance.now() - operatorStart) / 1000) });
    await new Promise((r) => setTimeout(r, 200));
  }
  const operatorSeconds = (performance.now() - operatorStart) / 1000;
  clearInterval(sampler);
  const rssKiB = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${operator.pid}/status`, 'utf8'))?.[1]);
  operator.kill('SIGTERM');
  await new Promise((r) => operator.once('exit', r));

  // Then, with the operator gone, the bare client.
  // The bare client: what the operator writes per Recording, written directly.
  const bareStart = performance.now();
  await inParallel(count, async (i) => {
    const created = (await custom.createNamespacedCustomObject({ group, version, namespace: 'bench-bare', plural: 'recordings', body: recordingBody('bench-bare', i) })) as Recording;
    await custom.patchNamespacedCustomObject({ group, version, namespace: 'bench-bare', plural: 'recordings', name: created.metadata!.name!, body: { metadata: { labels: { 'recording.dev/call-type': 'bench', 'recording.dev/call-id': `bench-bare-${i}`, 'recording.dev/active': 'true' } } } }, mergePatch);
    await core.createNamespacedSecret({ namespace: 'bench-bare', body: { metadata: { name: secretName(created.metadata!.name!) }, stringData: { 'control-token': 'x'.repeat(64), 'storage-access-key-id': 'bench', 'storage-secret-access-key': 'bench-secret' } } });
    const settings = effectiveSettings(callType, created);
    const config = recorderConfig({ recording: created, settings, url: callUrl(callType, created, settings), endpoint: { type: 's3', endpoint: callType.spec.storage.endpoint!, region: 'us-east-1', bucket: callType.spec.storage.bucket!, forcePathStyle: true }, key: objectKey(created, 'bench', callType.spec.storage, settings), uploadRetryWindowSeconds: 600 });
    await core.createNamespacedPod({ namespace: 'bench-bare', body: desiredPod({ recording: created, callType, settings, config, image: 'recorder', gracePeriodSeconds: 180 }) });
    await custom.patchNamespacedCustomObjectStatus({ group, version, namespace: 'bench-bare', plural: 'recordings', name: created.metadata!.name!, body: { status: { phase: 'INVOKED', invokedTime: new Date().toISOString(), podName: `${created.metadata!.name!}-recorder` } } }, mergePatch);
  });
  const bareSeconds = (performance.now() - bareStart) / 1000;

  emit({ benchmark: 'operator.invoked_all', recordings: count, operator_seconds: Math.round(operatorSeconds * 100) / 100, bare_client_seconds: Math.round(bareSeconds * 100) / 100, value: Math.round((operatorSeconds / bareSeconds) * 100) / 100, unit: 'ratio', target: 1.5 });
  emit({ benchmark: 'operator.peak_rss', recordings: count, value: Math.round(rssKiB / 1024), unit: 'MB', target: 150, node_options: operatorNodeOptions, idle_rss_mb: Math.round(idleRssKiB / 1024), peak_heap_used_mb: Math.round(peak.heapUsed / 2 ** 20), peak_external_mb: Math.round(peak.external / 2 ** 20) });
} finally {
  await cp.stop();
}
