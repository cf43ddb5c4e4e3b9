// Standby recorders (CallType spec.recorder.standby) end to end: real apiserver, MinIO, the Pod runner
// running the real recorder (Xvfb, PulseAudio, Chromium, ffmpeg), and the operator as its own process.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { standbyKeyFile } from '@recording-operator/common/protocol/standby.ts';
import type { CallType } from '@recording-operator/common/api/generated/types.ts';
import { recordingStartTimeline } from './start-timeline.ts';
import { OperatorTestEnvironment, group, version } from './environment.ts';

const standbyLabel = 'recording.dev/standby';
const mergePatchOptions = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describe('standby recorders', () => {
  const env = new OperatorTestEnvironment();
  let ns: string;

  const standbys = async (): Promise<V1Pod[]> => (await env.core.listNamespacedPod({ namespace: ns, labelSelector: `${standbyLabel}=warm` })).items.filter((p) => !p.metadata?.deletionTimestamp);
  const readyStandbys = async () => (await standbys()).filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  const standbyStatus = async () => ((await env.custom.getClusterCustomObject({ group, version, plural: 'calltypes', name: 'warm' })) as CallType).status?.standby;
  async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`not ${what} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  before(async () => {
    await env.start();
    await env.startOperator();
    ns = await env.createNamespace('standby');
    await env.createCallType('warm', {}, {}, { recorder: { standby: { namespace: ns, replicas: 2 } } });
  });
  after(async () => env.stop());

  test('the pool: two standby recorders start and become Ready, each with a Secret that holds only its sealing key', async () => {
    const ready = await until('2 standby recorders Ready', async () => ((await readyStandbys()).length === 2 ? readyStandbys() : undefined), 90_000);
    for (const pod of ready) {
      assert.equal(pod.metadata?.ownerReferences?.[0]?.kind, 'CallType');
      assert.equal(pod.metadata?.labels?.['recording.dev/recording'], undefined);
      const env0 = pod.spec!.containers[0]!.env!;
      assert.deepEqual(env0.map((e) => e.name), ['RECORDER_STANDBY', 'POD_IP']);
      assert.deepEqual(JSON.parse(env0[0]!.value!).video, { width: 640, height: 360, fps: 30 }, "the CallType's own output (quality 360p)");
      const secret = await env.core.readNamespacedSecret({ namespace: ns, name: pod.metadata.name! });
      assert.deepEqual(Object.keys(secret.data ?? {}), [standbyKeyFile]);
      assert.equal(secret.metadata?.ownerReferences?.[0]?.uid, pod.metadata?.uid, 'the Secret goes with its Pod');
    }
    // The CallType says how many are wanted and how many wait Ready (kubectl get ct -o wide: Standby).
    assert.deepEqual(await until('status.standby 2 of 2', async () => (await standbyStatus())?.readyReplicas === 2 && standbyStatus()), { replicas: 2, readyReplicas: 2 });
  });

  test('a Recording takes a standby recorder: RECORDING at once, the Pod becomes its own, the pool refills, the file is uploaded', async () => {
    await until('2 standby recorders Ready', async () => (await readyStandbys()).length === 2, 90_000);
    const before = new Set((await standbys()).map((p) => p.metadata!.name));
    const timeline = await recordingStartTimeline(env, ns, 'quick', { callType: 'warm', callId: 'quick' });
    console.log(`standby (runner): Recording created → RECORDING ${timeline.recordingMs} ms (phases ${timeline.phases.join(' → ')})`);
    const recording = await env.getRecording(ns, 'quick');
    const podName = recording.status!.podName!;
    assert.ok(before.has(podName), `it took one of the standby recorders (${podName})`);
    const pod = await env.core.readNamespacedPod({ namespace: ns, name: podName });
    assert.equal(pod.metadata?.labels?.[standbyLabel], undefined, 'no longer in the pool');
    assert.equal(pod.metadata?.labels?.['recording.dev/recording'], 'quick');
    assert.deepEqual(pod.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.controller]), [['Recording', 'quick', true]]);
    // The pool starts a replacement.
    const refilled = await until('the pool back at 2', async () => {
      const now = await standbys();
      return now.length === 2 && !now.some((p) => p.metadata?.name === podName) ? now : undefined;
    });
    assert.ok(refilled.some((p) => !before.has(p.metadata!.name)), 'a new standby recorder was started');

    await new Promise((r) => setTimeout(r, 4000));
    await env.setState(ns, 'quick', 'Stopped');
    const done = await env.phase(ns, 'quick', 'UPLOADED', 60_000);
    const out = done.status!.output!;
    assert.equal(out.width, 640);
    assert.ok(done.status!.recordingDurationSeconds! >= 3);
    const body = Buffer.from(await (await fetch(out.downloadUrl!)).arrayBuffer());
    assert.equal(createHash('sha256').update(body).digest('hex'), out.sha256, 'the download URL serves the recorded file');
    // The storage keys reached the recorder sealed, never through the Pod or the standby Secret.
    const podJson = JSON.stringify(await env.core.readNamespacedPod({ namespace: ns, name: podName }));
    assert.ok(!podJson.includes(env.storageSecret.secretAccessKey), 'no storage key in the Pod');
  });

  test('a Recording whose output differs from the CallType\'s gets its own Pod; replicas 0 empties the pool, and status.standby follows', async () => {
    await env.createRecording(ns, 'hd', { callType: 'warm', callId: 'hd', settingsOverride: { quality: '720p' } });
    const recording = await env.phase(ns, 'hd', 'RECORDING', 60_000);
    assert.equal(recording.status?.podName, 'hd-recorder');
    await env.setState(ns, 'hd', 'Stopped');
    await env.phase(ns, 'hd', 'UPLOADED', 60_000);

    await env.custom.patchClusterCustomObject({ group, version, plural: 'calltypes', name: 'warm', body: { spec: { recorder: { standby: { namespace: ns, replicas: 0 } } } } }, mergePatchOptions);
    await until('no standby recorder left', async () => (await env.core.listNamespacedPod({ namespace: ns, labelSelector: standbyLabel })).items.length === 0);
    assert.deepEqual(await until('status.standby 0 of 0', async () => (await standbyStatus())?.replicas === 0 && standbyStatus()), { replicas: 0, readyReplicas: 0 });
    // Standby unset: the status field goes too.
    await env.custom.patchClusterCustomObject({ group, version, plural: 'calltypes', name: 'warm', body: { spec: { recorder: { standby: null } } } }, mergePatchOptions);
    await until('status.standby removed', async () => (await standbyStatus()) === undefined);
  });
});
