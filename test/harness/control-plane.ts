// A real, isolated Kubernetes control plane for a test suite (as controller-runtime's envtest): etcd and
// kube-apiserver, plus kube-controller-manager where garbage collection and ServiceAccounts matter.
// Own ports, own data directory, own kubeconfig; stop() removes everything.
// With USE_EXISTING_CLUSTER=true nothing is started and the current kubeconfig is used instead.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { kubernetesBinary } from './assets.ts';
import { httpsGet } from './https.ts';
import { freePort, startProcess, waitUntil, type Supervised } from './processes.ts';
import { makeRunDir } from './run-dir.ts';

export interface ControlPlaneOptions {
  /** Also run kube-controller-manager (garbage collection, ServiceAccounts, namespace deletion). */
  controllerManager?: boolean;
  /**
   * A whole cluster's control plane, for a real node (test/harness/kubelet-node.ts): kube-controller-manager
   * runs all its default controllers (Deployments, ReplicaSets, EndpointSlices, node lifecycle, the root CA
   * ConfigMap, ...), kube-scheduler places Pods, and kube-apiserver listens on `address` so Pods reach it.
   */
  cluster?: { address: string };
}

/** The controllers the operator's tests rely on; a `cluster` runs all of a real cluster's defaults. */
const baseControllers = ['garbage-collector-controller', 'serviceaccount-controller', 'serviceaccount-token-controller', 'namespace-controller'];

/** Users the apiserver knows, by bearer token: `admin` is in system:masters; the others have no rights until RBAC grants them. */
export const testUsers = ['admin', 'alice', 'bob'] as const;
export type TestUser = (typeof testUsers)[number];

export interface ControlPlane {
  /** Path of a kubeconfig for the admin user. */
  kubeconfigPath: string;
  kubeConfig(user?: TestUser): KubeConfig;
  apiserverUrl: string;
  /** Restarts kube-apiserver in place (same port, same data), for failure tests. */
  restartApiserver(): Promise<void>;
  stopApiserver(): Promise<void>;
  startApiserver(): Promise<void>;
  /** Compacts etcd's history up to now: watches from older resourceVersions then get 410 Gone. */
  compactEtcd(): Promise<void>;
  stop(): Promise<void>;
  dir: string;
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  if (process.env.USE_EXISTING_CLUSTER === 'true') return existingCluster();

  const dir = makeRunDir('control-plane');
  const etcdPort = await freePort();
  const etcdPeerPort = await freePort();
  const apiPort = await freePort();
  const certDir = join(dir, 'certs');
  mkdirSync(certDir);

  const tokens = Object.fromEntries(testUsers.map((u) => [u, randomBytes(24).toString('hex')])) as Record<TestUser, string>;
  writeFileSync(
    join(dir, 'tokens.csv'),
    testUsers.map((u, i) => `${tokens[u]},${u},uid-${i}${u === 'admin' ? ',"system:masters"' : ''}`).join('\n') + '\n',
  );
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs1', format: 'pem' }));
  writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));

  const etcd = startProcess(
    'etcd',
    kubernetesBinary('etcd'),
    [
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
      '--unsafe-no-fsync', // test data: speed over durability, as envtest does
      '--log-level=warn',
    ],
    join(dir, 'etcd.log'),
  );
  await waitUntil('etcd health', async () => (await fetch(`http://127.0.0.1:${etcdPort}/health`)).ok, etcd, 30_000);

  const address = options.cluster?.address ?? '127.0.0.1';
  const apiserverUrl = `https://${address}:${apiPort}`;
  const apiserverArgs = [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    `--secure-port=${apiPort}`,
    `--bind-address=${address}`,
    `--advertise-address=${address}`,
    `--cert-dir=${certDir}`,
    `--token-auth-file=${join(dir, 'tokens.csv')}`,
    '--authorization-mode=RBAC',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${join(dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    '--allow-privileged=true',
    // Without kube-controller-manager no namespace gets its default ServiceAccount, which this admission
    // plugin insists on; with it, the plugin stays on as in a real cluster.
    ...(options.controllerManager || options.cluster ? [] : ['--disable-admission-plugins=ServiceAccount']),
    // Nodes are reached by address (logs, exec): there is no DNS for their names here.
    ...(options.cluster ? ['--kubelet-preferred-address-types=InternalIP'] : []),
  ];
  let apiserver: Supervised | undefined;
  const startApiserver = async () => {
    apiserver = startProcess('kube-apiserver', kubernetesBinary('kube-apiserver'), apiserverArgs, join(dir, 'kube-apiserver.log'));
    const proc = apiserver;
    await waitUntil(
      'kube-apiserver /readyz',
      async () => {
        const ca = readFileSync(join(certDir, 'apiserver.crt'), 'utf8');
        return (await httpsGet(`${apiserverUrl}/readyz`, ca, tokens.admin)).status === 200;
      },
      proc,
      90_000,
    );
  };
  const stopApiserver = async () => {
    await apiserver?.stop(10_000);
  };
  let controllerManager: Supervised | undefined;
  let scheduler: Supervised | undefined;
  try {
    await startApiserver();
  } catch (err) {
    await etcd.stop();
    throw err;
  }

  const ca = readFileSync(join(certDir, 'apiserver.crt'), 'utf8');
  const kubeconfigFor = (user: TestUser) =>
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server: apiserverUrl, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
      users: [{ name: user, user: { token: tokens[user] } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user, namespace: 'default' } }],
      'current-context': 'test',
    });
  for (const user of testUsers) writeFileSync(join(dir, `kubeconfig-${user}`), kubeconfigFor(user), { mode: 0o600 });
  const kubeconfigPath = join(dir, 'kubeconfig-admin');

  if (options.controllerManager || options.cluster) {
    controllerManager = startProcess(
      'kube-controller-manager',
      kubernetesBinary('kube-controller-manager'),
      [
        `--kubeconfig=${kubeconfigPath}`,
        '--leader-elect=false',
        '--secure-port=0',
        `--controllers=${options.cluster ? '*' : baseControllers.join(',')}`,
        `--service-account-private-key-file=${join(dir, 'sa.key')}`,
        `--root-ca-file=${join(certDir, 'apiserver.crt')}`,
        '--use-service-account-credentials=false',
      ],
      join(dir, 'kube-controller-manager.log'),
    );
  }
  if (options.cluster) {
    scheduler = startProcess(
      'kube-scheduler',
      kubernetesBinary('kube-scheduler'),
      [`--kubeconfig=${kubeconfigPath}`, '--leader-elect=false', '--secure-port=0'],
      join(dir, 'kube-scheduler.log'),
    );
  }

  return {
    dir,
    apiserverUrl,
    kubeconfigPath,
    kubeConfig(user: TestUser = 'admin') {
      const kc = new KubeConfig();
      kc.loadFromFile(join(dir, `kubeconfig-${user}`));
      return kc;
    },
    startApiserver,
    stopApiserver,
    async restartApiserver() {
      await stopApiserver();
      await startApiserver();
    },
    async compactEtcd() {
      // etcd's JSON gateway: read the current revision (any key will do), then compact up to it.
      const etcdApi = (path: string, body: unknown) => fetch(`http://127.0.0.1:${etcdPort}${path}`, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json() as Promise<{ header?: { revision?: string } }>);
      const revision = (await etcdApi('/v3/kv/range', { key: Buffer.from('/').toString('base64') })).header?.revision;
      await etcdApi('/v3/kv/compaction', { revision, physical: true });
    },
    async stop() {
      await scheduler?.stop();
      await controllerManager?.stop();
      await apiserver?.stop(10_000);
      await etcd.stop();
      if (process.env.KEEP_TEST_DIRS !== 'true') rmSync(dir, { recursive: true, force: true });
    },
  };
}

function existingCluster(): ControlPlane {
  const kubeconfigPath = process.env.KUBECONFIG ?? join(homedir(), '.kube', 'config');
  const unsupported = () => Promise.reject(new Error('not possible with USE_EXISTING_CLUSTER=true'));
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return {
    dir: '',
    kubeconfigPath,
    apiserverUrl: kc.getCurrentCluster()?.server ?? '',
    kubeConfig(user: TestUser = 'admin') {
      if (user !== 'admin') throw new Error(`user ${user} exists only in the harness's own control plane`);
      return kc;
    },
    startApiserver: unsupported,
    stopApiserver: unsupported,
    restartApiserver: unsupported,
    compactEtcd: unsupported,
    stop: () => Promise.resolve(),
  };
}
