// Plays the kubelet's part for recorder Pods and the chart's `helm test` Pod (there is no kubelet here):
// for each such Pod it materialises the volumes (emptyDir as a directory, Secret keys as files), resolves
// the environment (the Pod's own IP, name and namespace through fieldRef, mount paths translated to those
// directories), gives it its ServiceAccount's token (as a kubeconfig, where a kubelet would project the
// token file), starts the image's program from the sources as a local process (the recorder's entry
// point; for the operator image the `node dist/operator/src/X.js` of its command maps to
// operator/src/X.ts), and reports Pod status through the API as a kubelet would:
// Running, Ready once /healthz answers, terminated with the exit code and termination message.
// Each Pod gets its own loopback address (127.0.0.N), so every recorder listens on its usual port.
// Deleting a Pod sends SIGTERM, then SIGKILL after the grace period, then removes the Pod object.
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { spawnBoundToParent } from '@recording-operator/common/process.ts';
import { clientNodeConnection } from '../../operator/src/runtime/client-node-connection.ts';
import { ResilientInformer } from '../../operator/src/runtime/informer.ts';
import { KubeApi } from '../../operator/src/runtime/kube-api.ts';
import { repoRoot } from './paths.ts';
import { parseStat, ticksPerSecond } from '@recording-operator/common/proc-stat.ts';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const selector = 'app.kubernetes.io/component in (recorder,helm-test)';
const isRecorder = (pod: V1Pod) => pod.metadata?.labels?.['app.kubernetes.io/component'] === 'recorder';

interface RunningPod {
  key: string;
  ip: string;
  child?: ChildProcess;
  exited?: Promise<void>;
  deleting?: boolean;
}

export interface RunnerOptions {
  kc: KubeConfig;
  dir: string;
  log?: Logger;
  /** The program a recorder Pod runs; the recorder's entry point by default. Other Pods run their image's own. */
  command?: (pod: V1Pod) => [string, string[]];
}

/** A live process's scheduler state, CPU time and where it sleeps in the kernel (Linux /proc), for a failure message. */
function processState(pid: number): string {
  try {
    const { fields } = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const threads = readdirSync(`/proc/${pid}/task`).map((tid) => {
      const thread = parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      const wchan = existsSync(`/proc/${pid}/task/${tid}/wchan`) ? readFileSync(`/proc/${pid}/task/${tid}/wchan`, 'utf8') : '?';
      return `${thread.comm}:${thread.fields[0]}:${wchan}`;
    });
    return `; state ${fields[0]}, cpu ${(Number(fields[11]) / ticksPerSecond).toFixed(2)} s user ${(Number(fields[12]) / ticksPerSecond).toFixed(2)} s system; threads ${threads.join(' ')}`;
  } catch (err) {
    return `; /proc: ${(err as Error).message}`;
  }
}

export class PodRunner {
  private readonly core: CoreV1Api;
  private readonly informer: ResilientInformer<V1Pod>;
  private readonly pods = new Map<string, RunningPod>();
  private nextIp = 10;
  private stopped = false;
  /** The last status write of each Pod, so that writes stay in order. */
  private readonly statusWrites = new Map<string, Promise<void>>();
  private readonly o: RunnerOptions;
  private readonly log: Logger;

  constructor(options: RunnerOptions) {
    this.o = options;
    this.log = options.log ?? pino({ level: 'warn' });
    this.core = options.kc.makeApiClient(CoreV1Api);
    this.informer = new ResilientInformer<V1Pod>({
      // client-node authenticates here, as it would for a cloud kubeconfig (the operator's fallback).
      api: new KubeApi(clientNodeConnection(options.kc)),
      log: this.log,
      path: '/api/v1/pods',
      labelSelector: selector,
    });
    const handle = (pod: V1Pod) => void this.handle(pod).catch((err: Error) => this.log.error({ err: err.message, pod: pod.metadata?.name }, 'runner failed'));
    this.informer.addHandlers({ onAdd: handle, onUpdate: handle });
  }

  async start(): Promise<void> {
    mkdirSync(this.o.dir, { recursive: true });
    await this.informer.start();
    await this.informer.synced;
  }

  /** The local process of a Pod, for tests that crash it. */
  process(namespace: string, name: string): ChildProcess | undefined {
    return this.pods.get(`${namespace}/${name}`)?.child;
  }

  /** What the runner knows of a Pod, for a failure message: its address and its process's state. */
  describe(namespace: string, name: string): string {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) return 'not known to the runner';
    const child = pod.child;
    const state = !child ? 'no process yet' : child.exitCode !== null || child.signalCode !== null ? `exited (${child.exitCode ?? child.signalCode})` : 'running';
    return `ip ${pod.ip || 'none'}, pid ${child?.pid ?? 'none'}, process ${state}${pod.deleting ? ', being deleted' : ''}${child?.pid ? processState(child.pid) : ''}`;
  }

  get running(): number {
    return [...this.pods.values()].filter((p) => p.child && p.child.exitCode === null && p.child.signalCode === null).length;
  }

  private allocateIp(): string {
    const n = this.nextIp++;
    return `127.0.${Math.floor(n / 250)}.${(n % 250) + 1}`;
  }

  private async handle(pod: V1Pod): Promise<void> {
    const key = `${pod.metadata!.namespace}/${pod.metadata!.name}`;
    let running = this.pods.get(key);
    if (pod.metadata?.deletionTimestamp) {
      if (running?.deleting) return;
      if (!running) running = { key, ip: '' };
      running.deleting = true;
      this.pods.set(key, running);
      await this.terminate(pod, running);
      return;
    }
    if (running || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    running = { key, ip: this.allocateIp() };
    this.pods.set(key, running);
    await this.launch(pod, running);
  }

  private async launch(pod: V1Pod, running: RunningPod): Promise<void> {
    const container = pod.spec!.containers[0]!;
    const podDir = join(this.o.dir, `${pod.metadata!.namespace}_${pod.metadata!.name}`);
    mkdirSync(podDir, { recursive: true });
    const mounts = new Map<string, string>();
    for (const mount of container.volumeMounts ?? []) {
      const volume = pod.spec!.volumes?.find((v) => v.name === mount.name);
      const local = join(podDir, 'volumes', mount.name);
      mkdirSync(local, { recursive: true });
      if (volume?.secret) {
        // As a kubelet: the container waits until the Secret exists (a standby recorder's follows its Pod).
        let secret;
        for (let waitedMs = 0; !secret && waitedMs <= 60_000 && !running.deleting && !this.stopped; waitedMs += 250) {
          secret = await this.core.readNamespacedSecret({ namespace: pod.metadata!.namespace!, name: volume.secret.secretName! }).catch(() => undefined);
          if (!secret) await new Promise((r) => setTimeout(r, 250));
        }
        if (!secret) {
          this.pods.delete(running.key); // tried again at the Pod's next change
          return;
        }
        for (const [k, v] of Object.entries(secret.data ?? {})) writeFileSync(join(local, k), Buffer.from(v, 'base64'), { mode: 0o400 });
      }
      mounts.set(mount.mountPath, local);
    }
    const terminationPath = container.terminationMessagePath ?? '/dev/termination-log';
    const terminationFile = join(podDir, 'termination-log');
    mounts.set(terminationPath, terminationFile);
    // One pass over all mount paths, longest first, so a translated path is never translated again.
    const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    const byLength = [...mounts.keys()].sort((a, b) => b.length - a.length);
    const pattern = new RegExp(`(^|")(${byLength.map(escape).join('|')})(?=$|"|/)`, 'g');
    const translate = (value: string) => value.replace(pattern, (_, before: string, path: string) => `${before}${mounts.get(path)}`);
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: podDir, LANG: 'C.UTF-8' };
    const fields: Record<string, string> = { 'status.podIP': running.ip, 'metadata.name': pod.metadata!.name!, 'metadata.namespace': pod.metadata!.namespace! };
    for (const e of container.env ?? []) {
      if (e.value !== undefined) env[e.name] = translate(e.value);
      else if (e.valueFrom?.fieldRef?.fieldPath && fields[e.valueFrom.fieldRef.fieldPath] !== undefined) env[e.name] = fields[e.valueFrom.fieldRef.fieldPath];
    }
    if (pod.spec!.automountServiceAccountToken !== false) env.KUBECONFIG = await this.serviceAccountKubeconfig(pod, podDir);
    const [command, args] = this.program(pod);
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace!;
    const restarts = pod.spec!.restartPolicy === 'OnFailure' || pod.spec!.restartPolicy === 'Always';
    const podStartedAt = new Date();
    // One container run; as the kubelet, a failed run is restarted (after 1 s here, 10 s in a kubelet)
    // when the restart policy asks, with the same volumes (an emptyDir outlives its container).
    const startContainer = async (restartCount: number, lastState?: object): Promise<void> => {
      rmSync(terminationFile, { force: true });
      const log = createWriteStream(join(podDir, `recorder-${restartCount}.log`));
      const startedAt = new Date();
      const child = spawnBoundToParent(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
      child.stdout?.pipe(log);
      child.stderr?.pipe(log);
      running.child = child;
      running.exited = new Promise((resolve) => child.once('exit', () => resolve()));
      const containerStatus = (state: object, ready: boolean) => [{ name: container.name, image: container.image, imageID: '', ready, restartCount, started: true, state, ...(lastState ? { lastState } : {}) }];
      await this.patchStatus(namespace, name, {
        phase: 'Running',
        podIP: running.ip,
        podIPs: [{ ip: running.ip }],
        hostIP: '127.0.0.1',
        startTime: podStartedAt,
        conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False', reason: 'ContainersNotReady' }],
        containerStatuses: containerStatus({ running: { startedAt } }, false),
      });
      void this.whenReady(running, child, namespace, name, startedAt, containerStatus);
      child.once('exit', (code, signal) => {
        const message = existsSync(terminationFile) ? readFileSync(terminationFile, 'utf8').slice(0, 4096) : undefined;
        const exitCode = code ?? 128 + (signal === 'SIGKILL' ? 9 : 15);
        const terminated = { terminated: { exitCode, signal: signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : undefined, reason: exitCode === 0 ? 'Completed' : 'Error', message, startedAt, finishedAt: new Date() } };
        // A stopped runner is a kubelet that went away: it restarts nothing.
        if (exitCode !== 0 && restarts && !running.deleting && !this.stopped) {
          void this.patchStatus(namespace, name, {
            phase: 'Running',
            conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False', reason: 'ContainersNotReady' }],
            containerStatuses: [{ name: container.name, image: container.image, imageID: '', ready: false, restartCount, started: false, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: terminated }],
          })
            .then(() => new Promise((r) => setTimeout(r, 1000)))
            .then(() => (running.deleting || this.stopped ? undefined : startContainer(restartCount + 1, terminated)))
            .catch((err: Error) => this.log.error({ err: err.message, pod: name }, 'restart failed'));
          return;
        }
        void this.patchStatus(namespace, name, {
          phase: exitCode === 0 ? 'Succeeded' : 'Failed',
          conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False', reason: 'PodCompleted' }],
          containerStatuses: containerStatus(terminated, false),
        }).catch(() => undefined);
      });
    };
    await startContainer(0);
  }

  /** The local program of a Pod's first container. */
  private program(pod: V1Pod): [string, string[]] {
    if (isRecorder(pod)) return this.o.command?.(pod) ?? [process.execPath, [join(repoRoot, 'recorder-image', 'src', 'main.ts')]];
    const command = [...(pod.spec!.containers[0]!.command ?? []), ...(pod.spec!.containers[0]!.args ?? [])];
    const built = /^dist\/(operator\/src\/[\w/-]+)\.js$/.exec(command[1] ?? '');
    if (command[0] !== 'node' || !built) throw new Error(`the runner cannot run ${pod.metadata?.name}: ${JSON.stringify(command)} is not 'node dist/operator/src/….js'`);
    return [process.execPath, [join(repoRoot, `${built[1]}.ts`), ...command.slice(2)]];
  }

  /** What a kubelet projects into a Pod: a token of its ServiceAccount, bound to the Pod; here as a kubeconfig. */
  private async serviceAccountKubeconfig(pod: V1Pod, podDir: string): Promise<string> {
    const { namespace, name, uid } = pod.metadata!;
    const token = await this.core.createNamespacedServiceAccountToken({
      namespace: namespace!, name: pod.spec!.serviceAccountName ?? 'default',
      body: { spec: { audiences: [], expirationSeconds: 3600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: name!, uid: uid! } } },
    });
    const cluster = this.o.kc.getCurrentCluster()!;
    const file = join(podDir, 'serviceaccount-kubeconfig');
    writeFileSync(file, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'pod',
      clusters: [{ name: 'cluster', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData, 'certificate-authority': cluster.caFile } }],
      users: [{ name: 'pod', user: { token: token.status!.token } }],
      contexts: [{ name: 'pod', context: { cluster: 'cluster', user: 'pod', namespace } }],
    }), { mode: 0o600 });
    return file;
  }

  private async whenReady(running: RunningPod, child: ChildProcess, namespace: string, name: string, startedAt: Date, containerStatus: (state: object, ready: boolean) => object[]): Promise<void> {
    while (child.exitCode === null && child.signalCode === null) {
      const ok = await fetch(`http://${running.ip}:8080/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
      if (ok) {
        await this.patchStatus(namespace, name, { conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'True' }], containerStatuses: containerStatus({ running: { startedAt } }, true) }).catch(() => undefined);
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Writes Pod status as a kubelet does: in order, per Pod, and retried until the apiserver takes it
   * (a recorder that ends while the apiserver is away must still be reported as ended). Gives up when
   * the Pod is gone or the runner stops.
   */
  private patchStatus(namespace: string, name: string, status: object): Promise<void> {
    const key = `${namespace}/${name}`;
    const previous = this.statusWrites.get(key) ?? Promise.resolve();
    const write = previous.then(async () => {
      for (let delayMs = 200; !this.stopped; delayMs = Math.min(delayMs * 2, 2000)) {
        try {
          await this.core.patchNamespacedPodStatus({ namespace, name, body: { status } }, mergePatch);
          return;
        } catch (err) {
          if ((err as { code?: number }).code === 404) return;
          await new Promise((r) => setTimeout(r, delayMs));
        }
      }
    });
    this.statusWrites.set(key, write);
    return write;
  }

  private async terminate(pod: V1Pod, running: RunningPod): Promise<void> {
    const child = running.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const grace = (pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
      const timer = setTimeout(() => child.kill('SIGKILL'), grace);
      await running.exited;
      clearTimeout(timer);
      await new Promise((r) => setTimeout(r, 50)); // the exit handler queues the terminated status
      await this.statusWrites.get(running.key); // and it reaches the API before the Pod goes
    }
    await this.core.deleteNamespacedPod({ namespace: pod.metadata!.namespace!, name: pod.metadata!.name!, gracePeriodSeconds: 0 }).catch(() => undefined);
    this.pods.delete(running.key);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer.stop();
    for (const p of this.pods.values()) p.child?.kill('SIGKILL');
    await Promise.all([...this.pods.values()].flatMap((p) => (p.exited ? [p.exited] : [])));
  }
}
