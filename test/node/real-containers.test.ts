// The product as a user runs it, in real containers: a real node (kubelet, containerd, runc, CNI,
// kube-proxy; test/harness/kubelet-node.ts) beside the control plane, the images of `npm run images`
// imported into containerd, `helm install` of the chart (2 operator replicas, leader election), and
// Recordings whose recorder Pods run the recorder image under the operator's restricted settings. Then the
// leader's container and a recorder's container are SIGKILLed mid-recording.
// Needs root; skipped with the reason where a node cannot run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CoordinationV1Api, type V1Pod } from '@kubernetes/client-node';
import { probe } from '../../recorder-image/src/finalize.ts';
import { podName } from '../../operator/src/recording/desired-pod.ts';
import { helmBinary, kubernetesBinary } from '../harness/assets.ts';
import { chartDir } from '../harness/crds.ts';
import { kubeletNodeUnavailable } from '../harness/kubelet-node.ts';
import { repoRoot } from '../harness/paths.ts';
import { OperatorTestEnvironment, operatorNamespace } from '../operator/environment.ts';
import { recordingStartTimeline } from '../operator/start-timeline.ts';

const run = promisify(execFile);
const unavailable = kubeletNodeUnavailable();
const operatorImage = 'docker.io/recording-operator/operator:0.1.0';
const recorderImage = 'docker.io/recording-operator/recorder:0.1.0';

describe('real containers: helm install on a kubelet node, recordings through real Pods', { skip: unavailable, timeout: 25 * 60_000 }, () => {
  const env = new OperatorTestEnvironment();
  let ns = '';
  const kubectl = (...args: string[]) => run(kubernetesBinary('kubectl'), [`--kubeconfig=${env.cp.kubeconfigPath}`, ...args]);
  const operatorPods = async () => (await env.core.listNamespacedPod({ namespace: operatorNamespace, labelSelector: 'app.kubernetes.io/name=recording-operator,app.kubernetes.io/instance=recording-operator' })).items;
  const leaderIdentity = async () => (await env.kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: operatorNamespace, name: 'recording-operator-leader' })).spec?.holderIdentity;
  const pod = (name: string) => env.core.readNamespacedPod({ namespace: ns, name });
  const verifyUpload = async (status: NonNullable<Awaited<ReturnType<typeof env.getRecording>>['status']>) => {
    const output = status.output!;
    const body = Buffer.from(await (await fetch(output.downloadUrl!)).arrayBuffer());
    assert.equal(createHash('sha256').update(body).digest('hex'), output.sha256, 'the stored file is the one reported');
    const file = join(env.cp.dir, `${output.sha256}.mp4`);
    writeFileSync(file, body);
    return probe(file);
  };

  before(async () => {
    // The images, as a user would build them (cached: a second or so when nothing changed).
    await run(process.execPath, [join(repoRoot, 'scripts', 'build-images.ts')], { timeout: 20 * 60_000, maxBuffer: 64 * 1024 * 1024 });
    await env.start({ kubelet: true });
    await run(helmBinary(), ['install', 'recording-operator', chartDir, '--namespace', operatorNamespace, '--kubeconfig', env.cp.kubeconfigPath,
      // installApi already applied the cluster-wide API from the same chart.
      '--set', 'crds.enabled=false', '--set', 'admissionPolicy.enabled=false', '--set', 'userRoles.enabled=false',
      '--set', 'operator.pollMs=500', '--set', 'recorder.terminationGracePeriodSeconds=60',
      // `helm test` records through this CallType (made below, before the test runs).
      '--set', 'test.callType=meetings', '--set', 'test.recordSeconds=3',
      '--wait', '--timeout', '5m']);
    await env.createCallType('meetings', { quality: '360p' });
    ns = await env.createNamespace('real');
  });
  after(() => env.stop());

  test('helm install runs the operator image as 2 replicas on the node; one holds the lease', async () => {
    const pods = await operatorPods();
    assert.equal(pods.length, 2);
    for (const p of pods) {
      assert.equal(p.spec?.nodeName, env.node!.name);
      const status = p.status?.containerStatuses?.find((c) => c.name === 'operator');
      assert.equal(status?.image, operatorImage);
      assert.ok(status?.state?.running, `${p.metadata?.name} is running`);
      assert.match(status?.containerID ?? '', /^containerd:\/\//);
      // The standby is Ready too (it reaches the apiserver and would take over): `helm install --wait` and
      // rollouts wait for every replica.
      assert.equal(p.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True', `${p.metadata?.name} Ready`);
    }
    const leader = await leaderIdentity();
    assert.ok(pods.some((p) => p.metadata?.name === leader), `the lease is held by ${leader}`);
    // The operator's log comes through the apiserver from the kubelet, as `kubectl logs` reads it.
    const { stdout } = await kubectl('logs', '-n', operatorNamespace, leader!);
    assert.match(stdout, /leader/i);
  });

  test('a Recording goes INVOKED → RECORDING → UPLOADED in a recorder container with the restricted settings', async () => {
    const start = await recordingStartTimeline(env, ns, 'standup', { callType: 'meetings', callId: 'standup' });
    const seen = [...start.phases];
    console.log(`real kubelet: Recording created → Pod ${start.podCreatedMs} ms → container running ${start.containerRunningMs} ms → RECORDING ${start.recordingMs} ms`);

    const p = await pod(podName('standup'));
    const container = p.spec!.containers[0]!;
    assert.equal(p.status?.containerStatuses?.[0]?.image, recorderImage);
    assert.equal(p.spec?.automountServiceAccountToken, false);
    assert.equal(p.spec?.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
    // What the kernel says inside the running container, read through `kubectl exec` (apiserver → kubelet
    // → containerd): not root, no capabilities, no privilege gain, seccomp filtering, read-only root.
    const { stdout } = await kubectl('exec', '-n', ns, podName('standup'), '-c', 'recorder', '--', 'sh', '-c',
      'id -u; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/1/status; touch /app/x 2>&1 || true; ls /var/run/secrets/kubernetes.io 2>&1 || true; pgrep -c chromium; pgrep -c ffmpeg');
    const [uid, capEff, noNewPrivs, seccomp, touch, token, chromiums, ffmpegs] = stdout.trim().split('\n');
    assert.notEqual(uid, '0');
    assert.match(capEff!, /CapEff:\s+0+$/);
    assert.match(noNewPrivs!, /NoNewPrivs:\s+1$/);
    assert.match(seccomp!, /Seccomp:\s+2$/);
    assert.match(touch!, /Read-only file system/);
    assert.match(token!, /No such file or directory/);
    assert.ok(Number(chromiums) >= 1 && Number(ffmpegs) >= 1, `chromium ×${chromiums}, ffmpeg ×${ffmpegs} in the container`);

    await sleep(5000);
    await env.setState(ns, 'standup', 'Stopped');
    const done = await env.waitFor(ns, 'standup', 'UPLOADED', (r) => { const phase = r.status?.phase; if (phase && seen.at(-1) !== phase) seen.push(phase); return phase === 'UPLOADED' || phase === 'ERRORED'; }, 120_000);
    assert.equal(done.status?.phase, 'UPLOADED', JSON.stringify(done.status?.error));
    const lifecycle = ['PENDING', 'INVOKED', 'RECORDING', 'UPLOADING', 'UPLOADED'];
    assert.deepEqual([...seen].sort((a, b) => lifecycle.indexOf(a) - lifecycle.indexOf(b)), seen, `phases in lifecycle order: ${seen.join(' → ')}`);
    assert.ok(seen.includes('RECORDING') && seen.at(-1) === 'UPLOADED');
    const info = await verifyUpload(done.status);
    assert.ok(Math.abs(info.durationSeconds - done.status.output!.durationSeconds!) < 0.5, `file ${info.durationSeconds} s, status ${done.status.output!.durationSeconds} s`);
    assert.ok(info.durationSeconds >= 4, `recorded ${info.durationSeconds} s`);
    assert.equal(info.audio?.codec, 'aac');
  });

  test('a standby recorder on the node: Ready before any Recording, taken by one, RECORDING within about a second', async () => {
    await env.createCallType('warm', { quality: '360p' }, {}, { recorder: { standby: { namespace: ns, replicas: 1 } } });
    const standbyReady = async () => (await env.core.listNamespacedPod({ namespace: ns, labelSelector: 'recording.dev/standby=warm' })).items.find((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    let standby: V1Pod | undefined;
    for (let i = 0; !(standby = await standbyReady()); i++) {
      assert.ok(i < 600, 'a standby recorder became Ready within 2 minutes');
      await sleep(200);
    }
    assert.equal(standby.status?.containerStatuses?.[0]?.image, recorderImage);
    const timeline = await recordingStartTimeline(env, ns, 'warmstart', { callType: 'warm', callId: 'warmstart' });
    console.log(`real kubelet, standby recorder: Recording created → RECORDING ${timeline.recordingMs} ms (phases ${timeline.phases.join(' → ')})`);
    const recording = await env.getRecording(ns, 'warmstart');
    assert.equal(recording.status?.podName, standby.metadata?.name, 'it took the standby recorder');
    await sleep(4000);
    await env.setState(ns, 'warmstart', 'Stopped');
    const done = await env.waitFor(ns, 'warmstart', 'ended', (r) => r.status?.phase === 'UPLOADED' || r.status?.phase === 'ERRORED', 120_000);
    assert.equal(done.status?.phase, 'UPLOADED', JSON.stringify(done.status?.error));
    const info = await verifyUpload(done.status);
    assert.equal(info.video?.width, 640);
    assert.ok(info.durationSeconds >= 3, `recorded ${info.durationSeconds} s`);
    // No more standby recorders: the pool is emptied, so the tests after this one have the node's CPU.
    await env.custom.deleteClusterCustomObject({ group: 'recording.dev', version: 'v1alpha1', plural: 'calltypes', name: 'warm' });
  });

  test('helm test: the chart\'s test Pod (operator image, its own ServiceAccount) records through the CallType', async () => {
    const { stdout } = await run(helmBinary(), ['test', 'recording-operator', '--namespace', operatorNamespace, '--kubeconfig', env.cp.kubeconfigPath, '--logs', '--timeout', '3m']);
    assert.match(stdout, /TEST SUITE:\s+recording-operator-test[\s\S]*Phase:\s+Succeeded/);
    const testPod = await env.core.readNamespacedPod({ namespace: operatorNamespace, name: 'recording-operator-test' });
    assert.equal(testPod.status?.containerStatuses?.[0]?.image, operatorImage);
    assert.equal(testPod.spec?.nodeName, env.node!.name);
  });

  test('the leader\'s container and a recorder\'s container SIGKILLed mid-recording: the statuses stay right', async () => {
    await env.createRecording(ns, 'survivor', { callType: 'meetings', callId: 'survivor' });
    await env.createRecording(ns, 'crash', { callType: 'meetings', callId: 'crash' });
    await env.phase(ns, 'survivor', 'RECORDING', 120_000);
    await env.phase(ns, 'crash', 'RECORDING', 120_000);
    // Fragments are cut at keyframes (every 2 s), so a crash in the first seconds leaves nothing to save.
    await sleep(6000);
    const leader = await leaderIdentity();
    const leaderPod = (await operatorPods()).find((p) => p.metadata?.name === leader)!;
    const killedAt = Date.now();
    env.node!.killContainer(leaderPod, 'operator');
    env.node!.killContainer(await pod(podName('crash')), 'recorder');

    // The crashed recorder: ERRORED RECORDER_LOST once an operator leads again, then its container is
    // restarted in the same Pod and uploads what it had captured.
    const lost = await env.phase(ns, 'crash', 'ERRORED', 60_000);
    console.log(`real kubelet: leader and recorder killed → ERRORED RECORDER_LOST in ${Date.now() - killedAt} ms`);
    assert.equal(lost.status?.error?.code, 'RECORDER_LOST');
    assert.match(lost.status.error.message!, /signal 9|137/);
    const salvaged = await env.waitFor(ns, 'crash', 'the salvaged file', (r) => Boolean(r.status?.output?.downloadUrl), 120_000);
    assert.equal(salvaged.status?.phase, 'ERRORED', 'it did not end as asked, so it stays ERRORED');
    const salvagedInfo = await verifyUpload(salvaged.status);
    assert.ok(salvagedInfo.durationSeconds >= 2, `salvaged ${salvagedInfo.durationSeconds} s`);
    const crashPod = await pod(podName('crash'));
    assert.equal(crashPod.status?.containerStatuses?.[0]?.restartCount, 1, 'the kubelet restarted the recorder container once');

    // The other recording never noticed: still RECORDING, one Pod, and it ends UPLOADED when stopped.
    assert.equal((await env.getRecording(ns, 'survivor')).status?.phase, 'RECORDING');
    await env.setState(ns, 'survivor', 'Stopped');
    const survivor = await env.waitFor(ns, 'survivor', 'ended', (r) => r.status?.phase === 'UPLOADED' || r.status?.phase === 'ERRORED', 120_000);
    assert.equal(survivor.status?.phase, 'UPLOADED', JSON.stringify(survivor.status?.error));
    const info = await verifyUpload(survivor.status);
    const wall = (Date.parse(survivor.status.stoppedTime!) - Date.parse(survivor.status.startedTime!)) / 1000;
    assert.ok(info.durationSeconds >= wall - 4, `recorded ${info.durationSeconds} s of ${wall} s`);
    const recorderPods = (await env.core.listNamespacedPod({ namespace: ns })).items.filter((p: V1Pod) => p.metadata?.name === podName('survivor'));
    assert.equal(recorderPods.length, 1);
    assert.equal(recorderPods[0]!.status?.containerStatuses?.[0]?.restartCount, 0);

    // The killed operator container was restarted by the kubelet; a replica leads.
    const after = await operatorPods();
    assert.ok(after.find((p) => p.metadata?.name === leader)!.status!.containerStatuses![0]!.restartCount >= 1);
    const newLeader = await leaderIdentity();
    assert.ok(after.some((p) => p.metadata?.name === newLeader), `the lease is held by ${newLeader}`);
  });
});
