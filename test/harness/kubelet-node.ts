// A real Kubernetes node beside the harness's control plane: containerd and runc from Debian, Debian's CNI
// plugins (bridge + host-local), and kubelet and kube-proxy built from the Go module proxy at the control
// plane's version (scripts/build-go-tools.sh). The images of `npm run images` and a locally built pause
// image are imported into containerd, since no registry is reachable.
//
// What these machines need, found by trying (README "Real containers"):
// - cgroup v1 controllers: kubelet refuses v1 unless failCgroupV1 is false; cgroupfs driver, no systemd.
// - The VM denies negative oom_score_adj, which containerd gives sandboxes (-998): restrict_oom_score_adj.
// - kubelet rejects a loopback node IP, so the node lives on a bridge of its own (recop0, 10.88.0.1/16).
//   Pods get addresses on it from host-local, the control plane listens on 10.88.0.1, and kube-proxy
//   routes the `kubernetes` Service's ClusterIP there, so in-cluster clients work as in any cluster.
//
// Everything the node makes lives under its own directory (containerd's root and state, runc's state,
// kubelet's root, container logs, IPAM allocations, network namespaces), not under /var/lib, /var/log or
// /run, and is removed on stop; a run that died is cleaned up (containers killed, mounts undone) by the
// next one.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { kubernetesBinary } from './assets.ts';
import type { ControlPlane } from './control-plane.ts';
import { pauseImageArchive, pauseImageName } from './pause-image.ts';
import { freePort, startProcess, waitUntil, type Supervised } from './processes.ts';
import { ownerGone } from './run-dir.ts';

/** The node's network: a bridge with the node's address, the Pods' subnet around it. */
export const nodeNetwork = { bridge: 'recop0', address: '10.88.0.1', prefixLength: 16, podSubnet: '10.88.0.0/16', serviceSubnet: '10.0.0.0/24' } as const;

const nodesRoot = '/tmp/recording-operator-node';
const debianBinaries = ['/usr/bin/containerd', '/usr/bin/containerd-shim-runc-v2', '/usr/bin/ctr', '/usr/sbin/runc', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/lib/cni/loopback', '/usr/sbin/iptables'];

/** Why a real node cannot run here, or undefined when it can. */
export function kubeletNodeUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'a real node needs root (cgroups, mounts, network namespaces)';
  const missing = debianBinaries.find((b) => !existsSync(b));
  if (missing) return `${missing} is missing: run npm run setup`;
  try {
    kubernetesBinary('kubelet');
    kubernetesBinary('kube-proxy');
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

/**
 * Makes the node's bridge with its address (idempotent). The control plane must listen on that address
 * before the node starts, so this comes first.
 */
export function ensureNodeNetwork(): void {
  const { bridge, address, prefixLength } = nodeNetwork;
  if (spawnSync('ip', ['link', 'show', bridge]).status !== 0) execFileSync('ip', ['link', 'add', bridge, 'type', 'bridge']);
  if (!execFileSync('ip', ['-4', 'addr', 'show', 'dev', bridge], { encoding: 'utf8' }).includes(`${address}/`)) {
    execFileSync('ip', ['addr', 'add', `${address}/${prefixLength}`, 'dev', bridge]);
  }
  execFileSync('ip', ['link', 'set', bridge, 'up']);
}

export interface KubeletNode {
  name: string;
  dir: string;
  /** `ctr` against this node's containerd, in the CRI's namespace. */
  ctr(...args: string[]): string;
  /** SIGKILLs the main process of a Pod's container, as a crash or the OOM killer would. */
  killContainer(pod: V1Pod, container: string): void;
  /** Milliseconds each image took to import. */
  importMs: Record<string, number>;
  stop(): Promise<void>;
}

export interface KubeletNodeOptions {
  /** OCI archives to import (`npm run images` output). */
  images: string[];
  name?: string;
}

export async function startKubeletNode(cp: ControlPlane, options: KubeletNodeOptions): Promise<KubeletNode> {
  const reason = kubeletNodeUnavailable();
  if (reason) throw new Error(reason);
  ensureNodeNetwork();
  removeAbandonedNodes();
  mkdirSync(nodesRoot, { recursive: true });
  const dir = mkdtempSync(join(nodesRoot, 'node-'));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  const name = options.name ?? 'node-1';
  const socket = join(dir, 'containerd.sock');
  const processes: Supervised[] = [];
  const ctrArgs = (args: string[]) => ['--address', socket, '--namespace', 'k8s.io', ...args];
  const ctr = (...args: string[]) => execFileSync('ctr', ctrArgs(args), { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  /** The same, for clean-up: a task that is already gone is not an error. */
  const ctrIfAny = (...args: string[]) => spawnSync('ctr', ctrArgs(args), { stdio: 'ignore' });

  const stop = async () => {
    const [containerd, kubelet, kubeProxy] = [processes[0], processes[1], processes[2]];
    await kubeProxy?.stop();
    await kubelet?.stop();
    if (containerd && containerd.child.exitCode === null) {
      const tasks = ctr('tasks', 'ls', '-q').split('\n').filter(Boolean);
      for (const task of tasks) ctrIfAny('tasks', 'kill', '--signal', 'SIGKILL', task);
      for (const task of tasks) ctrIfAny('tasks', 'delete', '--force', task);
      await containerd.stop(10_000);
    }
    // kube-proxy's Service rules and the kubelet's canary chains, gone with the node.
    spawnSync(kubernetesBinary('kube-proxy'), ['--cleanup'], { stdio: 'ignore' });
    for (const iptables of ['iptables', 'ip6tables']) {
      for (const table of ['mangle', 'nat', 'filter']) spawnSync(iptables, ['-t', table, '-X', 'KUBE-KUBELET-CANARY'], { stdio: 'ignore' });
    }
    removeNodeDir(dir);
  };

  try {
    const cniDir = join(dir, 'cni');
    mkdirSync(cniDir);
    writeFileSync(join(cniDir, '10-pods.conflist'), JSON.stringify({
      cniVersion: '0.4.0',
      name: 'pods',
      plugins: [
        { type: 'bridge', bridge: nodeNetwork.bridge, isGateway: true, ipMasq: false, hairpinMode: true, ipam: { type: 'host-local', dataDir: join(dir, 'ipam'), ranges: [[{ subnet: nodeNetwork.podSubnet, gateway: nodeNetwork.address }]], routes: [{ dst: '0.0.0.0/0' }] } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }));
    writeFileSync(join(dir, 'containerd.toml'), containerdConfig(dir, cniDir));
    const containerd = startProcess('containerd', '/usr/bin/containerd', ['--config', join(dir, 'containerd.toml')], join(dir, 'containerd.log'));
    processes.push(containerd);
    await waitUntil('containerd', () => Promise.resolve(existsSync(socket) && spawnSync('ctr', ['--address', socket, 'version']).status === 0), containerd, 30_000);

    const importMs: Record<string, number> = {};
    for (const archive of [pauseImageArchive(), ...options.images]) {
      const started = Date.now();
      ctr('images', 'import', archive);
      importMs[archive] = Date.now() - started;
    }

    const kubeletPort = await freePort();
    const kubeletConfig = join(dir, 'kubelet.yaml');
    writeFileSync(kubeletConfig, stringify({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      containerRuntimeEndpoint: `unix://${socket}`,
      cgroupDriver: 'cgroupfs',
      failCgroupV1: false,
      failSwapOn: false,
      address: nodeNetwork.address,
      port: kubeletPort,
      readOnlyPort: 0,
      healthzPort: 0,
      // The apiserver reads logs through the kubelet; in this single-user test cluster it may do so
      // without a client certificate.
      authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
      authorization: { mode: 'AlwaysAllow' },
      resolvConf: '/etc/resolv.conf',
      // Container logs under the node's directory, not /var/log/pods.
      podLogsDir: join(dir, 'pod-logs'),
      // Images cannot be pulled again here: never collect them, and evict only when truly out of room.
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
      serializeImagePulls: false,
      maxPods: 30,
      nodeStatusUpdateFrequency: '2s',
      syncFrequency: '10s',
    }));
    const kubelet = startProcess(
      'kubelet',
      kubernetesBinary('kubelet'),
      [`--config=${kubeletConfig}`, `--kubeconfig=${cp.kubeconfigPath}`, `--hostname-override=${name}`, `--node-ip=${nodeNetwork.address}`, `--root-dir=${join(dir, 'kubelet')}`, `--cert-dir=${join(dir, 'kubelet-pki')}`, '--v=1'],
      join(dir, 'kubelet.log'),
    );
    processes.push(kubelet);
    const core = cp.kubeConfig().makeApiClient(CoreV1Api);
    await waitUntil(`node ${name} Ready`, async () => (await core.readNode({ name })).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false, kubelet, 90_000);

    const proxyHealthPort = await freePort();
    const proxyConfig = join(dir, 'kube-proxy.yaml');
    writeFileSync(proxyConfig, stringify({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig: cp.kubeconfigPath },
      hostnameOverride: name,
      mode: 'iptables',
      clusterCIDR: nodeNetwork.podSubnet,
      healthzBindAddress: `127.0.0.1:${proxyHealthPort}`,
      metricsBindAddress: `127.0.0.1:${await freePort()}`,
      // Leave the machine's conntrack limits alone (kube-proxy would raise them).
      conntrack: { maxPerCore: 0, min: 0 },
    }));
    const kubeProxy = startProcess('kube-proxy', kubernetesBinary('kube-proxy'), [`--config=${proxyConfig}`, '--v=1'], join(dir, 'kube-proxy.log'));
    processes.push(kubeProxy);
    await waitUntil('kube-proxy healthy', async () => (await fetch(`http://127.0.0.1:${proxyHealthPort}/healthz`)).ok, kubeProxy, 60_000);

    return {
      name,
      dir,
      ctr,
      importMs,
      killContainer(pod, container) {
        const id = pod.status?.containerStatuses?.find((c) => c.name === container)?.containerID?.replace(/^containerd:\/\//, '');
        if (!id) throw new Error(`container ${container} of ${pod.metadata?.namespace}/${pod.metadata?.name} has no ID yet`);
        ctr('tasks', 'kill', '--signal', 'SIGKILL', id);
      },
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/** containerd's configuration: every path under the node's directory, and the settings these VMs need. */
function containerdConfig(dir: string, cniDir: string): string {
  return `version = 2
root = "${join(dir, 'containerd', 'root')}"
state = "${join(dir, 'containerd', 'state')}"
[grpc]
  address = "${join(dir, 'containerd.sock')}"
[plugins."io.containerd.internal.v1.opt"]
  path = "${join(dir, 'containerd', 'opt')}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImageName}"
  # The VM refuses negative oom_score_adj; without this the sandbox's -998 makes runc fail.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  tolerate_missing_hugetlb_controller = true
  disable_hugetlb_controller = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cniDir}"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "${join(dir, 'runc')}"
        SystemdCgroup = false
`;
}

/** Kills what is left of a node (containers, shims), undoes its mounts and removes its directory. */
function removeNodeDir(dir: string): void {
  const runcRoot = join(dir, 'runc', 'k8s.io');
  if (existsSync(runcRoot)) {
    const ids = spawnSync('runc', ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (const id of ids) spawnSync('runc', ['--root', runcRoot, 'delete', '--force', id]);
  }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes(dir) && Number(pid) !== process.pid) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
  }
  // Mounts under the directory, deepest first (overlay root filesystems, Secret and memory volumes, netns).
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)));
  for (const mount of mounts.sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', mount]);
  // The kubelet links every container's log into /var/log/containers (a fixed path); drop the links into this node.
  const linkDir = '/var/log/containers';
  for (const link of existsSync(linkDir) ? readdirSync(linkDir) : []) {
    let target: string;
    try {
      target = readlinkSync(join(linkDir, link));
    } catch {
      continue;
    }
    if (target.startsWith(`${dir}/`)) rmSync(join(linkDir, link), { force: true });
  }
  if (process.env.KEEP_TEST_DIRS === 'true') {
    // The logs stay for a look; the root filesystems and images go (gigabytes).
    rmSync(join(dir, 'containerd'), { recursive: true, force: true });
    rmSync(join(dir, 'owner.pid'), { force: true });
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}

function removeAbandonedNodes(): void {
  if (!existsSync(nodesRoot)) return;
  for (const entry of readdirSync(nodesRoot)) {
    const dir = join(nodesRoot, entry);
    // No owner file: a node kept by KEEP_TEST_DIRS (or never started); its owner let go of it too.
    if (ownerGone(dir) !== false) removeNodeDir(dir);
  }
}
