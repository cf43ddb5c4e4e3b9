// `npm run cluster`: the tests' control plane (with kube-controller-manager) plus MinIO, in the
// foreground, for people. The CRDs and the examples' storage Secret are installed and MinIO listens
// on 127.0.0.1:9000 with the credentials in examples/storage-secret.yaml, so the example CallType works.
// Ctrl-C stops everything.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client as MinioClient } from 'minio';
import { kubernetesBinary } from './assets.ts';
import { startControlPlane } from './control-plane.ts';
import { installApi } from './crds.ts';
import { startMinio } from './minio.ts';
import { repoRoot } from './paths.ts';

const run = promisify(execFile);
const minioPort = Number(process.env.MINIO_PORT ?? 9000);
// Must match examples/storage-secret.yaml.
const localCredentials = { accessKey: 'recording-local', secretKey: 'recording-local-secret-key' };

const cp = await startControlPlane({ controllerManager: true });
const minio = await startMinio({ port: minioPort, ...localCredentials }).catch(async (err: unknown) => {
  await cp.stop();
  throw new Error(`MinIO could not start on 127.0.0.1:${minioPort} (set MINIO_PORT to use another port): ${String(err)}`);
});
await installApi(cp.kubeConfig());
await run(kubernetesBinary('kubectl'), [`--kubeconfig=${cp.kubeconfigPath}`, 'apply', '-f', join(repoRoot, 'examples', 'storage-secret.yaml')]);
const s3 = new MinioClient({ endPoint: minio.host, port: minio.port, useSSL: false, ...localCredentials });
if (!(await s3.bucketExists('recordings'))) await s3.makeBucket('recordings');

console.log(`
Control plane ready (Kubernetes ${cp.apiserverUrl}), CRDs installed.
  export KUBECONFIG=${cp.kubeconfigPath}
  alias kubectl=${kubernetesBinary('kubectl')}   # the pinned kubectl
  kubectl apply -f examples/calltype.yaml -f examples/recording.yaml

MinIO ready: ${minio.endpoint}  bucket "recordings"
  access key: ${minio.accessKey}
  secret key: ${minio.secretKey}   (the same as examples/storage-secret.yaml)

Logs and data: ${cp.dir}
Press Ctrl-C to stop.`);

const shutdown = async () => {
  await Promise.allSettled([minio.destroy(), cp.stop()]);
  process.exit(0);
};
process.removeAllListeners('SIGINT');
process.removeAllListeners('SIGTERM');
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
setInterval(() => undefined, 1 << 30);
