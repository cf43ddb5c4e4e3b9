// The test environment itself: pinned binaries, envtest conventions, isolation and cleanup.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import { Client as MinioClient } from 'minio';
import { helmBinary, kubernetesBinary, minioBinary } from './assets.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { startMinio } from './minio.ts';
import { makeRunDir } from './run-dir.ts';
import { pinnedVersions } from './versions.ts';

const run = promisify(execFile);
const versions = pinnedVersions();

/** Pids of processes whose command line mentions `text`. */
async function pidsMentioning(text: string): Promise<number[]> {
  const { stdout } = await run('pgrep', ['-f', text]).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter(Boolean).map(Number).filter((pid) => pid !== process.pid);
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the built binaries report the pinned versions', async () => {
  assert.match((await run(kubernetesBinary('kube-apiserver'), ['--version'])).stdout, new RegExp(`Kubernetes ${versions.KUBERNETES_VERSION}$`, 'm'));
  assert.match((await run(kubernetesBinary('kube-controller-manager'), ['--version'])).stdout, new RegExp(`Kubernetes ${versions.KUBERNETES_VERSION}$`, 'm'));
  assert.match((await run(kubernetesBinary('kubectl'), ['version', '--client'])).stdout, new RegExp(`Client Version: ${versions.KUBERNETES_VERSION}`));
  assert.match((await run(kubernetesBinary('etcd'), ['--version'])).stdout, new RegExp(`etcd Version: ${versions.ETCD_VERSION.slice(1)}`));
  assert.match((await run(helmBinary(), ['version', '--short'])).stdout, new RegExp(`^${versions.HELM_VERSION}`));
  await run(minioBinary(), ['--version']);
});

test('KUBEBUILDER_ASSETS points the harness at ready binaries (envtest convention)', () => {
  const saved = process.env.KUBEBUILDER_ASSETS;
  try {
    const assets = mkdtempSync(join(tmpdir(), 'assets-'));
    symlinkSync(kubernetesBinary('kube-apiserver'), join(assets, 'kube-apiserver'));
    process.env.KUBEBUILDER_ASSETS = assets;
    assert.equal(kubernetesBinary('kube-apiserver'), join(assets, 'kube-apiserver'));
    assert.throws(() => kubernetesBinary('etcd'), /KUBEBUILDER_ASSETS=.* must contain etcd/);
  } finally {
    if (saved === undefined) delete process.env.KUBEBUILDER_ASSETS;
    else process.env.KUBEBUILDER_ASSETS = saved;
  }
});

describe('control plane', () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await startControlPlane();
  });
  after(async () => cp?.stop());

  test('RBAC is enforced: the admin may, an ordinary user may not', async () => {
    await cp.kubeConfig().makeApiClient(CoreV1Api).listNamespace();
    await assert.rejects(cp.kubeConfig('alice').makeApiClient(CoreV1Api).listNamespace(), (err: { code?: number }) => err.code === 403);
  });

  test('USE_EXISTING_CLUSTER=true runs against the current kubeconfig and starts nothing', async () => {
    const saved = { use: process.env.USE_EXISTING_CLUSTER, kubeconfig: process.env.KUBECONFIG };
    process.env.USE_EXISTING_CLUSTER = 'true';
    process.env.KUBECONFIG = cp.kubeconfigPath;
    try {
      const existing = await startControlPlane();
      assert.equal(existing.apiserverUrl, cp.apiserverUrl);
      await existing.kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'via-existing' } } });
      await existing.stop();
      const ns = await cp.kubeConfig().makeApiClient(CoreV1Api).readNamespace({ name: 'via-existing' });
      assert.equal(ns.metadata?.name, 'via-existing', 'the object landed in the running cluster, which is still up');
    } finally {
      if (saved.use === undefined) delete process.env.USE_EXISTING_CLUSTER;
      else process.env.USE_EXISTING_CLUSTER = saved.use;
      if (saved.kubeconfig === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved.kubeconfig;
    }
  });

  test('a restarted apiserver serves the same data on the same address', async () => {
    const core = cp.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'survives' }, data: { k: 'v' } } });
    await cp.restartApiserver();
    const cm = await cp.kubeConfig().makeApiClient(CoreV1Api).readNamespacedConfigMap({ namespace: 'default', name: 'survives' });
    assert.equal(cm.data?.k, 'v');
  });
});

test('two control planes run side by side, isolated', async () => {
  const [a, b] = await Promise.all([startControlPlane(), startControlPlane()]);
  try {
    assert.notEqual(a.apiserverUrl, b.apiserverUrl);
    await a.kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'only-in-a' } } });
    await assert.rejects(b.kubeConfig().makeApiClient(CoreV1Api).readNamespace({ name: 'only-in-a' }), (err: { code?: number }) => err.code === 404);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
  assert.equal(existsSync(a.dir), false, 'stop() removes the run directory');
  assert.deepEqual(await pidsMentioning(a.dir), [], 'stop() leaves no process behind');
});

test('a SIGKILLed test process leaves no etcd or apiserver behind, and its directory is reclaimed', async () => {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'hold-control-plane.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (out += chunk));
  await eventually('the child control plane', () => Promise.resolve(out.includes('\n')), 90_000);
  const { dir } = JSON.parse(out) as { dir: string };
  assert.equal((await pidsMentioning(dir)).length, 2, 'etcd and kube-apiserver run');
  child.kill('SIGKILL');
  await once(child, 'exit');
  await eventually('the orphans to die', async () => (await pidsMentioning(dir)).length === 0);
  assert.ok(existsSync(dir));
  makeRunDir('reclaim-check');
  assert.equal(existsSync(dir), false, 'a later run removes the directory of a dead owner');
});

test('MinIO: objects survive a stop and start on the same address', async () => {
  const minio = await startMinio();
  try {
    const client = new MinioClient({ endPoint: minio.host, port: minio.port, useSSL: false, accessKey: minio.accessKey, secretKey: minio.secretKey });
    await client.makeBucket('harness');
    await client.putObject('harness', 'hello.txt', Buffer.from('recorded'));
    await minio.stop();
    await assert.rejects(client.statObject('harness', 'hello.txt'));
    await minio.start();
    const stream = await client.getObject('harness', 'hello.txt');
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'recorded');
  } finally {
    await minio.destroy();
  }
});
