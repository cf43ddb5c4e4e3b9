// Everything an operator test needs, all real: control plane (with kube-controller-manager for garbage
// collection and ServiceAccounts), CRDs, MinIO with a bucket, the demo call page, the Pod runner
// (kubelet stand-in running the real recorder) and the operator itself as a separate process.
// With `kubelet`, a real node instead of the runner: kubelet, containerd and runc running the built images
// (test/harness/kubelet-node.ts), and the servers listen where Pods can reach them.
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { Client } from 'minio';
import type { CallType, Recording } from '@recording-operator/common/api/generated/types.ts';
import { spawnBoundToParent } from '@recording-operator/common/process.ts';
import { startCallPageServer, type CallPageServer } from '../../examples/call-page/server.ts';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { podName } from '../../operator/src/recording/desired-pod.ts';
import { recorderPort } from '../../operator/src/recording/recorder-spec.ts';
import { installApi } from '../harness/crds.ts';
import { startMinio, type MinioServer } from '../harness/minio.ts';
import { cacheDir, repoRoot } from '../harness/paths.ts';
import { ensureNodeNetwork, nodeNetwork, startKubeletNode, type KubeletNode } from '../harness/kubelet-node.ts';
import { freePort } from '../harness/processes.ts';
import { PodRunner } from '../harness/runner.ts';
import { group, version } from '../../operator/src/recording/reconciler.ts';

export { group, version };
export const operatorNamespace = 'recording-system';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface OperatorProcess {
  child: ChildProcess;
  healthPort: number;
  logFile: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export class OperatorTestEnvironment {
  cp!: ControlPlane;
  kc!: KubeConfig;
  core!: CoreV1Api;
  custom!: CustomObjectsApi;
  minio!: MinioServer;
  s3!: Client;
  page!: CallPageServer;
  runner?: PodRunner;
  node?: KubeletNode;
  operator?: OperatorProcess;
  readonly bucket = 'recordings';
  readonly storageSecret = { accessKeyId: '', secretAccessKey: '' };
  private operatorRuns = 0;

  /**
   * With standIns, recorder Pods run test/operator/recorder-stand-in.ts instead of the real recorder.
   * With kubelet, Pods run as containers of the images in `npm run images`'s cache on a real node.
   */
  async start(options: { standIns?: boolean; kubelet?: boolean } = {}): Promise<void> {
    if (options.kubelet) ensureNodeNetwork();
    const host = options.kubelet ? nodeNetwork.address : '127.0.0.1';
    this.cp = await startControlPlane(options.kubelet ? { cluster: { address: host } } : { controllerManager: true });
    this.kc = this.cp.kubeConfig();
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.custom = this.kc.makeApiClient(CustomObjectsApi);
    await installApi(this.kc);
    this.minio = await startMinio({ host });
    this.s3 = new Client({ endPoint: this.minio.host, port: this.minio.port, useSSL: false, accessKey: this.minio.accessKey, secretKey: this.minio.secretKey });
    await this.s3.makeBucket(this.bucket);
    this.page = await startCallPageServer({ host });
    await this.core.createNamespace({ body: { metadata: { name: operatorNamespace } } });
    this.storageSecret.accessKeyId = this.minio.accessKey;
    this.storageSecret.secretAccessKey = this.minio.secretKey;
    await this.core.createNamespacedSecret({ namespace: operatorNamespace, body: { metadata: { name: 'storage' }, stringData: { ...this.storageSecret } } });
    if (options.kubelet) {
      this.node = await startKubeletNode(this.cp, { images: ['recorder', 'operator'].map((name) => join(cacheDir, 'images', `${name}.oci.tar`)) });
      return;
    }
    const standIn = join(repoRoot, 'test', 'operator', 'recorder-stand-in.ts');
    this.runner = new PodRunner({ kc: this.kc, dir: join(this.cp.dir, 'pods'), command: options.standIns ? () => [process.execPath, [standIn]] : undefined });
    await this.runner.start();
  }

  async startOperator(extraEnv: Record<string, string> = {}): Promise<OperatorProcess> {
    const healthPort = await freePort();
    // Every operator process also serves the call-events receiver: on a port of its own unless given one.
    const callEventsPort = extraEnv.CALL_EVENTS_PORT ?? String(await freePort());
    const logFile = join(this.cp.dir, `operator-${this.operatorRuns++}.log`);
    const log = createWriteStream(logFile);
    const child = spawnBoundToParent(process.execPath, [join(repoRoot, 'operator', 'src', 'main.ts')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KUBECONFIG: this.cp.kubeconfigPath, OPERATOR_NAMESPACE: operatorNamespace, POD_NAME: 'recording-operator-0', HEALTH_PORT: String(healthPort), HEALTH_HOST: '127.0.0.1', POLL_MS: '500', LOG_LEVEL: 'debug', CALL_EVENTS_PORT: callEventsPort, CALL_EVENTS_HOST: '127.0.0.1', ...extraEnv },
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`operator exited (${child.exitCode}):\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
      const ready = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then((r) => r.ok, () => false);
      if (ready) break;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`operator not ready after 30 s:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    this.operator = {
      child,
      healthPort,
      logFile,
      async stop(signal: NodeJS.Signals = 'SIGTERM') {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        await exited;
      },
    };
    return this.operator;
  }

  /** A CallType on the demo page and the test MinIO; `spec` adds fields such as webhooks or autoStart. */
  async createCallType(name: string, recording: CallType['spec']['recording'] = {}, storage: Partial<CallType['spec']['storage']> = {}, spec: Partial<CallType['spec']> = {}): Promise<void> {
    const body: CallType = {
      apiVersion: `${group}/${version}`,
      kind: 'CallType',
      metadata: { name },
      spec: {
        recording: { mode: 'available', quality: '360p', ...recording },
        callUrlTemplate: `${this.page.url}/call/{callId}?participants=2`,
        storage: { type: 's3', endpoint: this.minio.endpoint, bucket: this.bucket, forcePathStyle: true, path: name, secretRef: { name: 'storage', namespace: operatorNamespace }, ...storage },
        ...spec,
      },
    };
    await this.custom.createClusterCustomObject({ group, version, plural: 'calltypes', body });
  }

  async createNamespace(prefix: string): Promise<string> {
    const name = `${prefix}-${randomBytes(3).toString('hex')}`;
    await this.core.createNamespace({ body: { metadata: { name } } });
    // kube-controller-manager creates the default ServiceAccount the Pod admission insists on.
    for (let i = 0; i < 100; i++) {
      if (await this.core.readNamespacedServiceAccount({ namespace: name, name: 'default' }).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // As a platform team would: alice gets the shipped recording-editor role in the namespace.
    await this.kc.makeApiClient(RbacAuthorizationV1Api).createNamespacedRoleBinding({ namespace: name, body: { metadata: { name: 'alice-records' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'recording-editor' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }] } });
    return name;
  }

  async createRecording(namespace: string, name: string, spec: Recording['spec']): Promise<Recording> {
    return (await this.custom.createNamespacedCustomObject({ group, version, namespace, plural: 'recordings', body: { apiVersion: `${group}/${version}`, kind: 'Recording', metadata: { name }, spec } })) as Recording;
  }

  /** A whole lifecycle: create, wait for RECORDING, stop, and return the Recording once UPLOADED. */
  async recordThenStop(namespace: string, name: string, spec: Recording['spec']): Promise<Recording> {
    await this.createRecording(namespace, name, spec);
    await this.phase(namespace, name, 'RECORDING', 60_000);
    await this.setState(namespace, name, 'Stopped');
    return this.phase(namespace, name, 'UPLOADED', 60_000);
  }

  async getRecording(namespace: string, name: string): Promise<Recording> {
    return (await this.custom.getNamespacedCustomObject({ group, version, namespace, plural: 'recordings', name })) as Recording;
  }

  /** Changes spec.state, as the admin or as alice (who may edit Recordings in every test namespace). */
  async setState(namespace: string, name: string, state: 'Recording' | 'Paused' | 'Stopped', as: 'admin' | 'alice' = 'admin'): Promise<void> {
    const custom = as === 'admin' ? this.custom : this.cp.kubeConfig(as).makeApiClient(CustomObjectsApi);
    await custom.patchNamespacedCustomObject({ group, version, namespace, plural: 'recordings', name, body: { spec: { state } } }, mergePatch);
  }

  /**
   * Polls until the Recording satisfies `check`; fails with its last status. Every 250 ms: the chaos
   * tests wait on 30 Recordings at once, and at 100 ms that alone was 300 reads a second on a 2-core
   * machine, load the operator under test then competed with.
   */
  async waitFor(namespace: string, name: string, what: string, check: (r: Recording) => boolean, timeoutMs = 60_000): Promise<Recording> {
    const deadline = Date.now() + timeoutMs;
    let last: Recording | undefined;
    for (;;) {
      last = await this.getRecording(namespace, name).catch(() => undefined);
      if (last && check(last)) return last;
      if (Date.now() > deadline) throw new Error(`${namespace}/${name} not ${what} after ${timeoutMs} ms; status: ${JSON.stringify(last?.status)}${await this.diagnose(namespace, name, last?.status?.podName ?? podName(name))}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async waitGone(namespace: string, name: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (await this.getRecording(namespace, name).then(() => true, (e: { code?: number }) => e.code !== 404)) {
      if (Date.now() > deadline) throw new Error(`${namespace}/${name} still exists after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  phase(namespace: string, name: string, phase: string, timeoutMs?: number): Promise<Recording> {
    return this.waitFor(namespace, name, phase, (r) => r.status?.phase === phase, timeoutMs);
  }

  /**
   * For a failure message: the state of the Recording's Pod as the API, the runner and its control port
   * show it, the operator's work queue, and the logs below, so that a rare failure can be read after
   * the environment is gone.
   */
  private async diagnose(namespace: string, name: string, pod: string): Promise<string> {
    const parts: string[] = [];
    const live = await this.core.readNamespacedPod({ namespace, name: pod }).catch((err: Error) => err);
    if (live instanceof Error) parts.push(`--- Pod ${pod} in the API: ${live.message.split('\n')[0]}`);
    else {
      const container = live.status?.containerStatuses?.[0];
      const summary = { phase: live.status?.phase, podIP: live.status?.podIP, deleting: Boolean(live.metadata?.deletionTimestamp), ready: container?.ready, restarts: container?.restartCount, state: container?.state, created: live.metadata?.creationTimestamp };
      parts.push(`--- Pod ${pod} in the API: ${JSON.stringify(summary)}`);
      if (live.status?.podIP) {
        const probe = await fetch(`http://${live.status.podIP}:${recorderPort}/healthz`, { signal: AbortSignal.timeout(2000) }).then((r) => `HTTP ${r.status}`, (err: Error & { cause?: { code?: string } }) => `${err.message} ${err.cause?.code ?? ''}`);
        parts.push(`--- its control port ${live.status.podIP}:${recorderPort}/healthz: ${probe}`);
      }
    }
    if (this.runner) parts.push(`--- the runner: ${this.runner.describe(namespace, pod)}`);
    if (this.operator) {
      const metrics = await fetch(`http://127.0.0.1:${this.operator.healthPort}/metrics`, { signal: AbortSignal.timeout(2000) }).then((r) => r.text(), (err: Error) => err.message);
      const queue = metrics.split('\n').filter((line) => /^(workqueue_depth|controller_runtime_active_workers|controller_runtime_reconcile_total)\{/.test(line));
      parts.push(`--- the operator's queues:\n${queue.join('\n')}`);
    }
    return `\n${parts.join('\n')}${this.logsAbout(namespace, name, pod)}`;
  }

  /**
   * For a failure message: the end of the recorder's log under the runner (each run of its container)
   * and every operator process's lines that name the Recording, so that a rare failure can be read
   * after the environment, and its directory, are gone.
   */
  logsAbout(namespace: string, name: string, pod = podName(name)): string {
    const tail = (file: string, keep: (line: string) => boolean, lines: number) => {
      try {
        return readFileSync(file, 'utf8').split('\n').filter(keep).slice(-lines).join('\n');
      } catch {
        return '';
      }
    };
    const parts: string[] = [];
    const podDir = join(this.cp.dir, 'pods', `${namespace}_${pod}`);
    if (existsSync(podDir)) {
      for (const file of readdirSync(podDir).filter((f) => /^recorder-\d+\.log$/.test(f))) parts.push(`--- ${pod} ${file}:\n${tail(join(podDir, file), Boolean, 15)}`);
    } else if (this.runner) {
      parts.push(`--- the runner has no directory for Pod ${pod}: it never started it`);
    }
    for (let run = 0; run < this.operatorRuns; run++) {
      const lines = tail(join(this.cp.dir, `operator-${run}.log`), (line) => line.includes(`"${name}"`) || line.includes(`${namespace}/${name}`), 12);
      if (lines) parts.push(`--- operator-${run}.log, lines naming ${name}:\n${lines}`);
    }
    return parts.length ? `\n${parts.join('\n')}` : '';
  }

  operatorLog(): string {
    return this.operator ? readFileSync(this.operator.logFile, 'utf8') : '';
  }

  async stop(): Promise<void> {
    await this.operator?.stop().catch(() => undefined);
    await this.runner?.stop().catch(() => undefined);
    await this.node?.stop().catch(() => undefined);
    await this.page?.close();
    await this.minio?.destroy();
    await this.cp?.stop();
  }
}
