// The operator under failure: SIGKILLed at random points across 50 recording lifecycles, and an
// apiserver restart under a running operator. Recorder Pods run the protocol stand-in (the subject
// here is the operator; the real recorder is exercised in lifecycle.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { recorderSecretFiles } from '@recording-operator/common/protocol/recorder-config.ts';
import type { RecorderStatus } from '@recording-operator/common/protocol/recorder-report.ts';
import { podName, secretName } from '../../operator/src/recording/desired-pod.ts';
import { recorderPort } from '../../operator/src/recording/recorder-spec.ts';
import { pino } from 'pino';
import { clientNodeConnection } from '../../operator/src/runtime/client-node-connection.ts';
import { ResilientInformer } from '../../operator/src/runtime/informer.ts';
import { KubeApi } from '../../operator/src/runtime/kube-api.ts';
import { untilRecordingsAdmitted } from '../harness/crds.ts';
import { OperatorTestEnvironment } from './environment.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const between = (lo: number, hi: number) => lo + Math.random() * (hi - lo);

describe('operator chaos', () => {
  const env = new OperatorTestEnvironment();
  let ns: string;
  let longNs: string;

  before(async () => {
    await env.start({ standIns: true });
    await env.startOperator();
    await env.createCallType('chaos', { allowMultipleRecordings: false });
    ns = await env.createNamespace('chaos');
    // Runs through the whole suite (operator kills, apiserver restart) and must end by itself at the
    // shortest maximum duration the API allows (60 s); checked by the last test.
    longNs = await env.createNamespace('long');
    await env.createRecording(longNs, 'sixty-seconds', { callType: 'chaos', callId: 'sixty-seconds', maxDurationSeconds: 60 });
  });
  after(async () => env.stop());

  test('SIGKILL the operator at random points across 50 lifecycles: all end UPLOADED, never two Pods for one Recording', async () => {
    const podUids = new Map<string, Set<string>>();
    const pods = new ResilientInformer<V1Pod>({ api: new KubeApi(clientNodeConnection(env.kc)), log: pino({ level: 'silent' }), path: '/api/v1/pods', labelSelector: 'app.kubernetes.io/component=recorder' });
    const track = (p: V1Pod) => {
      if (p.metadata?.namespace !== ns) return;
      const owner = p.metadata?.labels?.['recording.dev/recording'];
      if (!owner) return;
      const uids = podUids.get(owner) ?? new Set<string>();
      uids.add(p.metadata.uid!);
      podUids.set(owner, uids);
    };
    pods.addHandlers({ onAdd: track, onUpdate: track });
    await pods.start();

    let killing = true;
    let kills = 0;
    const killer = (async () => {
      while (killing) {
        await sleep(between(300, 1500));
        if (!killing) break;
        await env.operator!.stop('SIGKILL');
        kills++;
        await sleep(between(0, 500));
        await env.startOperator();
      }
    })();

    const lifecycle = async (i: number) => {
      const name = `chaos-${i}`;
      await env.createRecording(ns, name, { callType: 'chaos', callId: name });
      await env.phase(ns, name, 'RECORDING', 90_000);
      await sleep(between(200, 1500));
      if (i % 3 === 0) {
        await env.setState(ns, name, 'Paused');
        await env.phase(ns, name, 'PAUSED', 60_000);
        await sleep(between(100, 800));
        await env.setState(ns, name, 'Recording');
        await env.phase(ns, name, 'RECORDING', 60_000);
      }
      await env.setState(ns, name, 'Stopped');
      return env.phase(ns, name, 'UPLOADED', 90_000);
    };
    try {
      for (let wave = 0; wave < 5; wave++) {
        const done = await Promise.all(Array.from({ length: 10 }, (_, j) => lifecycle(wave * 10 + j)));
        for (const r of done) {
          assert.equal(r.status?.stopReason?.type, 'API_CALL', `${r.metadata?.name}: ${JSON.stringify(r.status)}`);
          assert.match(r.status?.output?.location ?? '', /^s3:\/\/recordings\/chaos\//);
        }
      }
    } finally {
      killing = false;
      await killer;
      await pods.stop();
    }
    assert.ok(kills >= 10, `the operator was killed ${kills} times`);
    assert.equal(podUids.size, 50);
    for (const [owner, uids] of podUids) assert.equal(uids.size, 1, `${owner} had ${uids.size} recorder Pods`);
  });

  test('a spec.maxDurationSeconds changed while recording reaches the running recorder', async () => {
    await env.createRecording(ns, 'extended', { callType: 'chaos', callId: 'extended', maxDurationSeconds: 600 });
    await env.phase(ns, 'extended', 'RECORDING', 60_000);
    // Ask the recorder itself, as the operator does: its Pod IP and the control token from its Secret.
    const pod = await env.core.readNamespacedPod({ namespace: ns, name: podName('extended') });
    const secret = await env.core.readNamespacedSecret({ namespace: ns, name: secretName('extended') });
    const token = Buffer.from(secret.data![recorderSecretFiles.controlToken]!, 'base64').toString();
    const recorderMax = async () => ((await (await fetch(`http://${pod.status!.podIP}:${recorderPort}/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as RecorderStatus).maxDurationSeconds;
    assert.equal(await recorderMax(), 600);
    await env.custom.patchNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: ns, plural: 'recordings', name: 'extended', body: { spec: { maxDurationSeconds: 5400 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const deadline = Date.now() + 10_000;
    while ((await recorderMax()) !== 5400 && Date.now() < deadline) await sleep(200);
    assert.equal(await recorderMax(), 5400, 'the recorder has the new limit');
    await env.setState(ns, 'extended', 'Stopped');
    await env.phase(ns, 'extended', 'UPLOADED', 60_000);
  });

  test('apiserver restart mid-run: the operator recovers without restarting', async () => {
    const operator = env.operator!;
    await env.createRecording(ns, 'across-restart', { callType: 'chaos', callId: 'across-restart' });
    await env.phase(ns, 'across-restart', 'RECORDING', 60_000);
    await env.cp.stopApiserver();
    await sleep(5000);
    await env.cp.startApiserver();
    // A started apiserver answers 503 to Recording writes until the admission policy has the CRD's
    // schema again (a second or two); kubectl users retry, the test waits.
    await untilRecordingsAdmitted(env.kc);
    await env.setState(ns, 'across-restart', 'Stopped');
    await env.phase(ns, 'across-restart', 'UPLOADED', 60_000);
    await env.recordThenStop(ns, 'after-restart', { callType: 'chaos', callId: 'after-restart' });
    assert.equal(operator.child.exitCode, null, 'the operator process kept running');
    assert.equal(env.operator, operator, 'and was not replaced');
  });

  test('max duration: a recording that is never stopped ends UPLOADED with MAX_DURATION_REACHED, through kills and restarts', async () => {
    const done = await env.phase(longNs, 'sixty-seconds', 'UPLOADED', 90_000);
    assert.equal(done.status?.stopReason?.type, 'MAX_DURATION_REACHED');
    assert.ok(done.status.recordingDurationSeconds! >= 59 && done.status.recordingDurationSeconds! <= 61, `recorded ${done.status?.recordingDurationSeconds} s`);
    // The operator's recording gauge counts from its cache, so it is right after every restart.
    const metrics = await (await fetch(`http://127.0.0.1:${env.operator!.healthPort}/metrics`)).text();
    const uploaded = Number(/^recording_operator_recordings\{phase="UPLOADED"\} (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(uploaded >= 52, `recording_operator_recordings{phase="UPLOADED"} is ${uploaded}`);
  });
});
