// `npm start`: the whole product on one machine. The tests' control plane (with
// kube-controller-manager), MinIO on :9000 with the examples' credentials, the demo call page on :8090,
// recorder Pods run by a real node (kubelet, containerd, runc: test/harness/kubelet-node.ts) when this
// machine can run one, else by the Pod runner (kubelet stand-in running the recorder from the sources),
// the operator as a local process (its call-events receiver on 127.0.0.1:8082) and the example webhook
// receiver on 127.0.0.1:8099. With the real node, MinIO and the call page listen on the node's address
// (10.88.0.1), where containers reach them, and the example CallType is applied with that address.
// Then `kubectl apply -f examples/recording.yaml` ends UPLOADED. Ctrl-C stops everything.
import { execFile, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'minio';
import { parseAllDocuments } from 'yaml';
import { spawnBoundToParent } from '@recording-operator/common/process.ts';
import { startCallPageServer } from '../../examples/call-page/server.ts';
import { startWebhookReceiver } from '../../examples/webhooks/receiver.ts';
import { kubernetesBinary } from './assets.ts';
import { ensureNodeNetwork, kubeletNodeUnavailable, nodeNetwork, startKubeletNode } from './kubelet-node.ts';
import { startControlPlane } from './control-plane.ts';
import { installApi } from './crds.ts';
import { startMinio } from './minio.ts';
import { cacheDir, repoRoot } from './paths.ts';
import { PodRunner } from './runner.ts';

const run = promisify(execFile);
const localCredentials = { accessKey: 'recording-local', secretKey: 'recording-local-secret-key' }; // examples/storage-secret.yaml

export interface LocalEnvironment {
  kubeconfigPath: string;
  dir: string;
  operatorLog: string;
  /** What the example webhook receiver verified, one line per delivery. */
  webhooksLog: string;
  kubectl: (...args: string[]) => Promise<{ stdout: string }>;
  /** What runs recorder Pods. */
  pods: 'kubelet' | 'runner';
  /** The address recorder Pods reach MinIO and the call page at. */
  serverHost: string;
  stop(): Promise<void>;
}

export interface LocalOptions {
  /** The examples use 9000 and 8090. */
  minioPort?: number;
  callPagePort?: number;
  /** The examples use 8082 and 8099. */
  callEventsPort?: number;
  webhookReceiverPort?: number;
  quiet?: boolean;
  /** A real kubelet node when this machine can run one (the default), or the runner. */
  pods?: 'kubelet' | 'runner';
}

/** RECORDING_OPERATOR_PODS=runner picks the runner; otherwise the real node where it can run. */
function whereRecorderPodsRun(wanted: LocalOptions['pods']): { pods: 'kubelet' | 'runner'; why?: string } {
  const asked = wanted ?? (process.env.RECORDING_OPERATOR_PODS === 'runner' ? 'runner' : 'kubelet');
  if (asked === 'runner') return { pods: 'runner' };
  const unavailable = kubeletNodeUnavailable();
  return unavailable ? { pods: 'runner', why: unavailable } : { pods: 'kubelet' };
}

export async function startLocalEnvironment(options: LocalOptions = {}): Promise<LocalEnvironment> {
  const minioPort = options.minioPort ?? 9000;
  const pagePort = options.callPagePort ?? 8090;
  const callEventsPort = options.callEventsPort ?? 8082;
  const webhookReceiverPort = options.webhookReceiverPort ?? 8099;
  const { pods, why } = whereRecorderPodsRun(options.pods);
  if (pods === 'kubelet') ensureNodeNetwork();
  const serverHost = pods === 'kubelet' ? nodeNetwork.address : '127.0.0.1';
  const cp = await startControlPlane(pods === 'kubelet' ? { cluster: { address: serverHost } } : { controllerManager: true });
  const cleanups: (() => Promise<unknown>)[] = [() => cp.stop()];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    const kubectl = (...args: string[]) => run(kubernetesBinary('kubectl'), [`--kubeconfig=${cp.kubeconfigPath}`, ...args]);
    const minio = await startMinio({ port: minioPort, host: serverHost, ...localCredentials });
    cleanups.push(() => minio.destroy());
    const s3 = new Client({ endPoint: minio.host, port: minio.port, useSSL: false, ...localCredentials });
    if (!(await s3.bucketExists('recordings'))) await s3.makeBucket('recordings');
    const page = await startCallPageServer({ port: pagePort, host: serverHost });
    cleanups.push(() => page.close());
    await installApi(cp.kubeConfig());
    await kubectl('apply', '-f', join(repoRoot, 'examples', 'storage-secret.yaml'));
    await kubectl('apply', '-f', join(repoRoot, 'examples', 'webhook-secret.yaml'));
    const webhooksLog = join(cp.dir, 'webhooks.log');
    const webhookLines = createWriteStream(webhooksLog);
    const signingKeySecret = parseAllDocuments(readFileSync(join(repoRoot, 'examples', 'webhook-secret.yaml'), 'utf8')).map((d) => d.toJS() as { metadata: { name: string }; stringData?: { secret: string } }).find((d) => d.metadata.name === 'webhook-signing-key');
    const webhookSecret = signingKeySecret!.stringData!.secret;
    const receiver = await startWebhookReceiver({
      secret: webhookSecret,
      port: webhookReceiverPort,
      onEvent: ({ event, first }) => webhookLines.write(`${JSON.stringify({ id: event.id, type: event.type, recording: `${event.recording.namespace}/${event.recording.name}`, status: event.recording.status, url: event.recording.url, redelivery: !first })}\n`),
    });
    cleanups.push(() => {
      receiver.close();
      receiver.closeAllConnections();
      return Promise.resolve();
    });
    // The example CallType, with the addresses recorder Pods reach the call page and MinIO at.
    const callType = readFileSync(join(repoRoot, 'examples', 'calltype.yaml'), 'utf8').replaceAll('http://127.0.0.1:8090/', `${page.url}/`).replaceAll('http://127.0.0.1:9000', minio.endpoint);
    writeFileSync(join(cp.dir, 'calltype.yaml'), callType);
    await kubectl('apply', '-f', join(cp.dir, 'calltype.yaml'));
    if (pods === 'kubelet') {
      // The images as `npm run images` builds them (cached; minutes only the first time).
      await run(process.execPath, [join(repoRoot, 'scripts', 'build-images.ts'), 'recorder'], { maxBuffer: 64 * 1024 * 1024 });
      const node = await startKubeletNode(cp, { images: [join(cacheDir, 'images', 'recorder.oci.tar')] });
      cleanups.push(() => node.stop());
    } else {
      const runner = new PodRunner({ kc: cp.kubeConfig(), dir: join(cp.dir, 'pods') });
      await runner.start();
      cleanups.push(() => runner.stop());
    }
    const operatorLog = join(cp.dir, 'operator.log');
    const log = createWriteStream(operatorLog);
    const operator: ChildProcess = spawnBoundToParent(process.execPath, [join(repoRoot, 'operator', 'src', 'main.ts')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KUBECONFIG: cp.kubeconfigPath, OPERATOR_NAMESPACE: 'recording-system', HEALTH_HOST: '127.0.0.1', HEALTH_PORT: '0', POLL_MS: '1000', CALL_EVENTS_HOST: '127.0.0.1', CALL_EVENTS_PORT: String(callEventsPort) },
    });
    operator.stdout?.pipe(log);
    operator.stderr?.pipe(log);
    cleanups.push(async () => {
      operator.kill('SIGTERM');
      await new Promise((r) => operator.once('exit', r));
    });
    if (!options.quiet) {
      console.log(`
recording-operator is running locally; recorder Pods run ${pods === 'kubelet' ? `as containers on a real node (kubelet, containerd, runc; logs: kubectl logs)` : `under the Pod runner, as local processes${why ? ` (no real node: ${why})` : ''}`}.
  export KUBECONFIG=${cp.kubeconfigPath}
  alias kubectl=${kubernetesBinary('kubectl')}
  kubectl apply -f examples/recording.yaml      # records the demo call; the call ends by itself after 20 s
  kubectl get rec -w                            # INVOKED → RECORDING → UPLOADING → UPLOADED
  kubectl get rec standup -o jsonpath='{.status.output.downloadUrl}'

Webhooks: every event of the demo CallType goes, signed, to the example receiver on 127.0.0.1:${webhookReceiverPort}: ${webhooksLog}
Auto-on: kubectl apply -f examples/calltype-auto-on.yaml, then POST signed call events to
  http://127.0.0.1:${callEventsPort}/call-events (examples/webhooks/send-call-event.ts; the key is in examples/webhook-secret.yaml)
Demo call page: ${page.url}/call/demo?layout=grid&participants=4
MinIO: ${minio.endpoint} (access key ${minio.accessKey}, secret in examples/storage-secret.yaml), bucket "recordings"
Logs: ${operatorLog}${pods === 'runner' ? `; recorder logs under ${join(cp.dir, 'pods')}` : ''}
Press Ctrl-C to stop.`);
    }
    return { kubeconfigPath: cp.kubeconfigPath, dir: cp.dir, operatorLog, webhooksLog, kubectl, pods, serverHost, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

if (import.meta.main) {
  const env = await startLocalEnvironment({ minioPort: Number(process.env.MINIO_PORT ?? 9000), callPagePort: Number(process.env.CALL_PAGE_PORT ?? 8090) });
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  const shutdown = () => void env.stop().then(() => process.exit(0));
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  setInterval(() => undefined, 1 << 30);
}
