// The images as built by `npm run images` (no Docker: mmdebstrap, the node@24 package, npm ci), checked
// as OCI images and run as real containers with runc under exactly the settings the operator gives a
// recorder Pod: user 10001, read-only root filesystem, every capability dropped, no new privileges,
// containerd's RuntimeDefault seccomp profile, an emptyDir for /recordings, a 256 MiB memory emptyDir for
// /tmp, the 64 MiB /dev/shm a container gets, and the credentials as read-only 0400 files. The recorder
// records the demo call page, uploads to MinIO and reports through its termination message.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, createReadStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { Client } from 'minio';
import type { RecorderConfigInput } from '@recording-operator/common/protocol/recorder-config.ts';
import { recorderSecretFiles } from '@recording-operator/common/protocol/recorder-config.ts';
import { storageSecretFiles } from '@recording-operator/common/protocol/storage-secret-files.ts';
import type { FinalReport } from '@recording-operator/common/protocol/recorder-report.ts';
import { startCallPageServer, type CallPageServer } from '../../examples/call-page/server.ts';
import { probe, sha256File } from '../../recorder-image/src/finalize.ts';
import { blackStretches, frozenStretches, meanVolumeDb } from '../media/analyze.ts';
import { seccompDefaultBinary } from '../harness/assets.ts';
import { startControlPlane } from '../harness/control-plane.ts';
import { installApi } from '../harness/crds.ts';
import { startMinio, type MinioServer } from '../harness/minio.ts';
import { readImage, runContainer, unpackImage } from '../harness/oci-run.ts';
import { repoRoot } from '../harness/paths.ts';
import { freePort } from '../harness/processes.ts';
import { makeRunDir } from '../harness/run-dir.ts';

const run = promisify(execFile);
const cache = process.env.RECORDING_OPERATOR_CACHE ?? join(homedir(), '.cache', 'recording-operator');
const layout = join(cache, 'images', 'oci');
const version = (JSON.parse(readFileSync(join(repoRoot, 'operator', 'package.json'), 'utf8')) as { version: string }).version;

/** The sha256 of a gzipped file's content: a layer's diff_id. */
async function sha256OfGunzipped(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path).pipe(createGunzip())) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** containerd's RuntimeDefault profile for a container that dropped every capability. */
const runtimeDefaultSeccomp = () => JSON.parse(execFileSync(seccompDefaultBinary(), { encoding: 'utf8' })) as unknown;

// mmdebstrap's tar keeps file owners and runc starts containers as root; rootless modes need setup
// these machines do not have (CI runs as root).
const asRoot = process.getuid?.() === 0;

describe('images (built without Docker, run with runc)', { skip: asRoot ? false : 'needs root: mmdebstrap and runc run as root here' }, () => {
  let minio: MinioServer;
  let page: CallPageServer;
  before(async () => {
    // Cached by content: a warm run only checks; a cold one takes about 4 minutes on 2 cores.
    await run(process.execPath, [join(repoRoot, 'scripts', 'build-images.ts')], { timeout: 20 * 60_000, maxBuffer: 64 * 1024 * 1024 });
    minio = await startMinio();
    await new Client({ endPoint: minio.host, port: minio.port, useSSL: false, accessKey: minio.accessKey, secretKey: minio.secretKey }).makeBucket('recordings');
    page = await startCallPageServer({});
  });
  after(async () => {
    await page?.close();
    await minio?.destroy();
  });

  test('both are valid OCI images: every blob matches its digest, layers their diff_ids; non-root users and the Dockerfiles\' entrypoints', async () => {
    const expected = {
      recorder: { user: '10001:10001', entrypoint: ['node', '--max-semi-space-size=1', 'dist/recorder-image/src/main.js'] },
      operator: { user: '65532:65532', entrypoint: ['node', '--max-semi-space-size=1', '--max-old-space-size=96', '--optimize-for-size', 'dist/operator/src/main.js'] },
    };
    for (const [name, want] of Object.entries(expected)) {
      const { manifestDigest, manifest, config } = readImage(layout, `${name}:${version}`);
      const blob = (digest: string) => join(layout, 'blobs', ...digest.split(':'));
      assert.equal(`sha256:${await sha256File(blob(manifestDigest))}`, manifestDigest);
      assert.equal(`sha256:${await sha256File(blob(manifest.config.digest))}`, manifest.config.digest);
      assert.equal(manifest.layers.length, config.rootfs.diff_ids.length);
      for (const [i, layer] of manifest.layers.entries()) {
        assert.equal(`sha256:${await sha256File(blob(layer.digest))}`, layer.digest, `${name} layer ${i} blob`);
        assert.equal(`sha256:${await sha256OfGunzipped(blob(layer.digest))}`, config.rootfs.diff_ids[i], `${name} layer ${i} diff_id`);
      }
      assert.equal(config.config.User, want.user);
      assert.deepEqual(config.config.Entrypoint, want.entrypoint);
      // The Dockerfile says the same, so users with Docker get the same image.
      const dockerfile = readFileSync(join(repoRoot, name === 'recorder' ? 'recorder-image' : 'operator', 'Dockerfile'), 'utf8');
      assert.ok(dockerfile.includes(`ENTRYPOINT ${JSON.stringify(want.entrypoint).replace(/,/g, ', ')}`), `${name} Dockerfile ENTRYPOINT`);
    }
  });

  test('building the Node and application layers again from scratch gives the same digests (reproducible)', async () => {
    const before = ['recorder', 'operator'].map((name) => readImage(layout, `${name}:${version}`).manifestDigest);
    const { stdout } = await run(process.execPath, [join(repoRoot, 'scripts', 'build-images.ts')], { timeout: 10 * 60_000, env: { ...process.env, IMAGES_REBUILD: '1' } });
    for (const digest of before) assert.ok(stdout.includes(digest), `${digest} rebuilt the same:\n${stdout}`);
  });

  test('the operator image, under the chart\'s security settings, leads and reconciles against a real apiserver', async () => {
    const cp = await startControlPlane();
    const dir = makeRunDir('operator-container');
    const { config } = readImage(layout, `operator:${version}`);
    const rootfs = unpackImage(layout, `operator:${version}`, join(cache, 'images'));
    let container: ReturnType<typeof runContainer> | undefined;
    try {
      await installApi(cp.kubeConfig());
      const core = cp.kubeConfig().makeApiClient(CoreV1Api);
      await core.createNamespace({ body: { metadata: { name: 'recording-system' } } });
      await core.createNamespacedSecret({ namespace: 'recording-system', body: { metadata: { name: 'storage' }, stringData: { accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey } } });
      // The kubeconfig stands in for the ServiceAccount token a Pod would get; readable by the image's user only.
      const kubeconfig = join(dir, 'kubeconfig');
      copyFileSync(cp.kubeconfigPath, kubeconfig);
      chownSync(kubeconfig, 65532, 65532);
      chmodSync(kubeconfig, 0o400);
      const healthPort = await freePort();
      container = runContainer('operator', {
        rootfs,
        image: config.config,
        env: { KUBECONFIG: '/var/run/kubeconfig', OPERATOR_NAMESPACE: 'recording-system', POD_NAME: 'operator-0', HEALTH_PORT: String(healthPort), HEALTH_HOST: '127.0.0.1', CALL_EVENTS_PORT: String(await freePort()), CALL_EVENTS_HOST: '127.0.0.1' },
        mounts: [{ destination: '/var/run/kubeconfig', source: kubeconfig, readOnly: true }],
        seccomp: runtimeDefaultSeccomp(),
        hostNetwork: true,
      });
      const ready = async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined))?.status === 200;
      for (let i = 0; i < 300 && !(await ready()); i++) {
        if (container.child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(await ready(), `the operator is ready:\n${container.logTail(30)}`);
      const lease = await cp.kubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: 'recording-system', name: 'recording-operator-leader' });
      assert.ok(lease.spec?.holderIdentity, 'it holds the leader lease');
      const custom = cp.kubeConfig().makeApiClient(CustomObjectsApi);
      await custom.createClusterCustomObject({ group: 'recording.dev', version: 'v1alpha1', plural: 'calltypes', body: { apiVersion: 'recording.dev/v1alpha1', kind: 'CallType', metadata: { name: 'containers' }, spec: { recording: { mode: 'available' }, callUrlTemplate: `${page.url}/call/{callId}`, storage: { type: 's3', endpoint: minio.endpoint, bucket: 'recordings', forcePathStyle: true, secretRef: { name: 'storage', namespace: 'recording-system' } } } } });
      let reachable: { status: string; message: string } | undefined;
      for (let i = 0; i < 100 && !reachable; i++) {
        const ct = (await custom.getClusterCustomObject({ group: 'recording.dev', version: 'v1alpha1', plural: 'calltypes', name: 'containers' })) as { status?: { conditions?: { type: string; status: string; message: string }[] } };
        reachable = ct.status?.conditions?.find((c) => c.type === 'StorageReachable');
        if (!reachable) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(reachable?.status, 'True', `${reachable?.message}\n${container.logTail(30)}`);
    } finally {
      await container?.stop();
      await cp.stop();
    }
  });

  /** Runs a shell script in the recorder image under a recorder Pod's settings; its output. */
  async function shellInRecorderImage(name: string, script: string): Promise<string> {
    const { config } = readImage(layout, `recorder:${version}`);
    const rootfs = unpackImage(layout, `recorder:${version}`, join(cache, 'images'));
    const container = runContainer(name, {
      rootfs,
      image: { ...config.config, Entrypoint: ['sh', '-c', script] },
      mounts: [{ destination: '/tmp', size: '256m' }],
      seccomp: runtimeDefaultSeccomp(),
      hostNetwork: true,
    });
    await new Promise((resolve) => container.child.once('exit', resolve));
    return readFileSync(container.logFile, 'utf8');
  }

  test('the settings are in force inside the container: user 10001, no capabilities, no new privileges, seccomp filtering, read-only root', async () => {
    const out = await shellInRecorderImage('recorder-settings', 'id -u; grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status; touch /app/x 2>&1 || true; touch /tmp/x && echo tmp-writable');
    assert.match(out, /^10001$/m);
    assert.match(out, /^CapEff:\s+0000000000000000$/m);
    assert.match(out, /^CapBnd:\s+0000000000000000$/m);
    assert.match(out, /^NoNewPrivs:\s+1$/m);
    assert.match(out, /^Seccomp:\s+2$/m, 'seccomp in filter mode');
    assert.match(out, /touch: cannot touch '\/app\/x': Read-only file system/);
    assert.match(out, /^tmp-writable$/m);
  });

  test('the recorder image carries a valid font cache: Chromium does not scan every font at each start', async () => {
    // Fontconfig writes a cache under HOME for every font directory whose system cache is missing or
    // stale (a directory mtime other than the one it was made for): none may be written.
    const out = await shellInRecorderImage('recorder-fonts', 'export HOME=/tmp/home; echo "fonts: $(fc-list | wc -l)"; echo "written: $(find /tmp/home -name \'*cache-*\' 2>/dev/null | wc -l)"');
    const fonts = Number(/^fonts: (\d+)$/m.exec(out)?.[1]);
    assert.ok(fonts > 100, `fonts listed: ${out}`);
    assert.match(out, /^written: 0$/m, 'no font directory was scanned again');
  });

  test('the recorder image records the call page under a recorder Pod\'s exact security settings and uploads a verified file', async () => {
    const { config } = readImage(layout, `recorder:${version}`);
    const rootfs = unpackImage(layout, `recorder:${version}`, join(cache, 'images'));
    const dir = makeRunDir('recorder-container');
    // What the kubelet makes of the Pod's volumes: an emptyDir the fsGroup owns, the Secret's files 0400.
    const recordings = join(dir, 'recordings');
    const secrets = join(dir, 'secrets');
    mkdirSync(recordings);
    mkdirSync(secrets);
    chownSync(recordings, 10001, 10001);
    const token = randomBytes(24).toString('hex');
    const files = { [recorderSecretFiles.controlToken]: token, ...storageSecretFiles({ type: 's3', accessKey: minio.accessKey, secretKey: minio.secretKey }) };
    for (const [file, value] of Object.entries(files)) {
      writeFileSync(join(secrets, file), value);
      chownSync(join(secrets, file), 10001, 10001);
      chmodSync(join(secrets, file), 0o400);
    }
    const terminationLog = join(dir, 'termination-log');
    writeFileSync(terminationLog, '');
    chownSync(terminationLog, 10001, 10001);
    const port = await freePort();
    const recorderConfig: RecorderConfigInput = {
      recordingId: 'images/container',
      url: `${page.url}/call/container?participants=2`,
      output: { container: 'mp4', video: { codec: 'H264', width: 1280, height: 720, fps: 30 }, audio: { codec: 'AAC', channels: 2 } },
      maxDurationSeconds: 6,
      storage: { type: 's3', endpoint: minio.endpoint, bucket: 'recordings', forcePathStyle: true, objectKey: 'container/recording', retryWindowSeconds: 60 },
      control: { host: '127.0.0.1', port },
    };
    const container = runContainer('recorder', {
      rootfs,
      image: config.config,
      env: { RECORDER_CONFIG: JSON.stringify(recorderConfig) },
      mounts: [
        { destination: '/recordings', source: recordings },
        { destination: '/tmp', size: '256m' },
        { destination: '/var/run/secrets/recorder', source: secrets, readOnly: true },
        { destination: '/dev/termination-log', source: terminationLog },
      ],
      seccomp: runtimeDefaultSeccomp(),
      hostNetwork: true,
    });
    try {
      const [code] = (await Promise.race([
        new Promise((resolve) => container.child.once('exit', (c) => resolve([c]))),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`no exit within 120 s:\n${container.logTail(40)}`)), 120_000)),
      ])) as [number | null];
      const report = JSON.parse(readFileSync(terminationLog, 'utf8') || 'null') as FinalReport | null;
      assert.ok(report, `a termination message (exit ${code}):\n${container.logTail(40)}`);
      assert.equal(report.result, 'UPLOADED', JSON.stringify(report));
      assert.equal(report.stopReason, 'MAX_DURATION_REACHED');
      assert.equal(code, 0);
      const downloaded = join(dir, 'downloaded.mp4');
      await new Client({ endPoint: minio.host, port: minio.port, useSSL: false, accessKey: minio.accessKey, secretKey: minio.secretKey }).fGetObject('recordings', report.file!.key, downloaded);
      assert.equal(await sha256File(downloaded), report.file!.sha256);
      const media = await probe(downloaded);
      assert.ok(media.durationSeconds > 5, `${media.durationSeconds} s recorded`);
      assert.equal(media.video?.width, 1280);
      assert.equal(media.audio?.codec, 'aac');
      // The page was really drawn and heard: no black picture, no frozen one, no silence.
      assert.deepEqual(await blackStretches(downloaded), [], 'no black stretch');
      assert.deepEqual(await frozenStretches(downloaded, 2), [], 'the page clock moves');
      assert.ok((await meanVolumeDb(downloaded)) > -60, 'the call page is heard');
    } finally {
      await container.stop();
    }
  });
});
