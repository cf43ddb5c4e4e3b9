// The operator end to end: real apiserver, kube-controller-manager, MinIO, the Pod runner running the
// real recorder (Chromium + ffmpeg), and the operator as its own process.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { Client } from 'minio';
import { recorderSecretFiles } from '@recording-operator/common/protocol/recorder-config.ts';
import { secretName } from '../../operator/src/recording/desired-pod.ts';
import { parseLocation } from '@recording-operator/common/storage/object-store.ts';
import { OperatorTestEnvironment, operatorNamespace } from './environment.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('operator lifecycle', () => {
  const env = new OperatorTestEnvironment();
  let ns: string;

  before(async () => {
    await env.start();
    await env.startOperator();
    await env.createCallType('meetings');
    await env.createCallType('meetings-delete', {}, { reclaimPolicy: 'Delete' });
    await env.createCallType('closed', { mode: 'disabled' });
    ns = await env.createNamespace('lifecycle');
  });
  after(async () => env.stop());

  test('apply → INVOKED → RECORDING → Stopped → UPLOADED with a download URL that serves the file', async () => {
    const created = Date.now();
    await env.createRecording(ns, 'standup', { callType: 'meetings', callId: 'standup-1' });
    const invoked = await env.waitFor(ns, 'standup', 'INVOKED', (r) => Boolean(r.status?.phase), 5000);
    assert.equal(invoked.status?.phase, 'INVOKED');
    assert.ok(Date.now() - created < 5000);
    let pod = await env.core.readNamespacedPod({ namespace: ns, name: 'standup-recorder' }).catch(() => undefined);
    for (let i = 0; !pod && i < 50; i++) {
      await sleep(100);
      pod = await env.core.readNamespacedPod({ namespace: ns, name: 'standup-recorder' }).catch(() => undefined);
    }
    assert.ok(pod, 'the recorder Pod exists within 5 s of INVOKED');
    assert.equal(pod.metadata?.ownerReferences?.[0]?.kind, 'Recording');
    assert.equal(pod.metadata?.ownerReferences?.[0]?.controller, true);
    assert.equal(pod.spec?.automountServiceAccountToken, false);
    assert.equal(pod.spec?.containers[0]?.securityContext?.allowPrivilegeEscalation, false);
    const recording = await env.phase(ns, 'standup', 'RECORDING', 60_000);
    assert.equal(recording.metadata?.labels?.['recording.dev/call-id'], 'standup-1');
    assert.equal(recording.metadata?.labels?.['recording.dev/active'], 'true');
    await sleep(3000);
    await env.setState(ns, 'standup', 'Stopped', 'alice');
    const done = await env.phase(ns, 'standup', 'UPLOADED', 60_000);
    const out = done.status!.output!;
    assert.deepEqual(done.status?.startReason, { type: 'API_CALL', caller: 'admin' }, 'the Kubernetes user who created it');
    assert.deepEqual(done.status?.stopReason, { type: 'API_CALL', caller: 'alice' }, 'the Kubernetes user who stopped it');
    assert.ok(out.sizeBytes! > 10_000);
    assert.ok(done.status.recordingDurationSeconds! >= 2);
    assert.match(out.location!, /^s3:\/\/recordings\/meetings\/standup-1\/standup-\d+\.mp4$/);
    assert.ok(out.downloadUrl && out.downloadUrlExpiry);
    const body = Buffer.from(await (await fetch(out.downloadUrl)).arrayBuffer());
    assert.equal(createHash('sha256').update(body).digest('hex'), out.sha256, 'the download URL serves the recorded file');
    const final = await env.waitFor(ns, 'standup', 'inactive', (r) => r.metadata?.labels?.['recording.dev/active'] === 'false', 10_000);
    const ready = final.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'True');
    assert.equal(final.status?.observedGeneration, final.metadata?.generation);
  });

  test('mode disabled: ERRORED with a clear reason and no Pod', async () => {
    await env.createRecording(ns, 'refused', { callType: 'closed', callId: 'x' });
    const r = await env.phase(ns, 'refused', 'ERRORED', 10_000);
    assert.equal(r.status?.error?.code, 'RECORDING_DISABLED');
    assert.match(r.status.error.message!, /recording is disabled for CallType closed/);
    await assert.rejects(env.core.readNamespacedPod({ namespace: ns, name: 'refused-recorder' }), (e: { code?: number }) => e.code === 404);
  });

  test('one active recording per call: a second one is refused until the first has ended', async () => {
    await env.createRecording(ns, 'first', { callType: 'meetings', callId: 'allhands' });
    await env.phase(ns, 'first', 'RECORDING', 60_000);
    await env.createRecording(ns, 'second', { callType: 'meetings', callId: 'allhands' });
    const second = await env.phase(ns, 'second', 'ERRORED', 10_000);
    assert.equal(second.status?.error?.code, 'ALREADY_RECORDING');
    assert.match(second.status.error.message!, /first/);
    const active = await env.custom.listNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: ns, plural: 'recordings', labelSelector: 'recording.dev/call-id=allhands,recording.dev/active=true' }) as { items: unknown[] };
    assert.equal(active.items.length, 1, 'kubectl get rec -l …,recording.dev/active=true finds exactly one');
    await env.setState(ns, 'first', 'Stopped');
    await env.phase(ns, 'first', 'UPLOADED', 60_000);
    await env.recordThenStop(ns, 'third', { callType: 'meetings', callId: 'allhands' });
  });

  test('spec.state pauses and resumes; the duration excludes the pause', async () => {
    await env.createRecording(ns, 'pausing', { callType: 'meetings', callId: 'pausing' });
    await env.phase(ns, 'pausing', 'RECORDING', 60_000);
    await sleep(2000);
    await env.setState(ns, 'pausing', 'Paused');
    await env.phase(ns, 'pausing', 'PAUSED', 10_000);
    await sleep(4000);
    await env.setState(ns, 'pausing', 'Recording');
    await env.phase(ns, 'pausing', 'RECORDING', 10_000);
    await sleep(2000);
    await env.setState(ns, 'pausing', 'Stopped');
    const done = await env.phase(ns, 'pausing', 'UPLOADED', 60_000);
    const wall = (Date.parse(done.status!.stoppedTime!) - Date.parse(done.status!.startedTime!)) / 1000;
    assert.ok(done.status!.output!.durationSeconds! <= wall - 3.5, `recorded ${done.status!.output!.durationSeconds} s of ${wall} s`);
  });

  test('a recorder killed mid-recording: ERRORED with RECORDER_LOST within 10 s, and what it captured is uploaded', async () => {
    await env.createRecording(ns, 'crash', { callType: 'meetings', callId: 'crash' });
    await env.phase(ns, 'crash', 'RECORDING', 60_000);
    // Fragments are cut at keyframes (every 2 s), so a crash in the first seconds leaves nothing to save.
    await sleep(6000);
    const proc = env.runner!.process(ns, 'crash-recorder');
    assert.ok(proc);
    const killed = Date.now();
    proc.kill('SIGKILL');
    const r = await env.phase(ns, 'crash', 'ERRORED', 10_000);
    assert.ok(Date.now() - killed < 10_000);
    assert.equal(r.status?.error?.code, 'RECORDER_LOST');
    assert.equal(r.status?.stopReason?.type, 'RECORDER_LOST');
    assert.match(r.status.error.message!, /signal 9/);
    // The container is restarted in the same Pod and uploads what the killed run captured.
    const salvaged = await env.waitFor(ns, 'crash', 'the salvaged file', (x) => Boolean(x.status?.output?.downloadUrl), 60_000);
    assert.equal(salvaged.status?.phase, 'ERRORED', 'it did not end as asked, so it stays ERRORED');
    assert.match(salvaged.status.error!.message!, /s it had captured were uploaded/);
    const body = Buffer.from(await (await fetch(salvaged.status.output!.downloadUrl!)).arrayBuffer());
    assert.equal(createHash('sha256').update(body).digest('hex'), salvaged.status.output!.sha256);
    assert.ok(salvaged.status.output!.durationSeconds! >= 1, `salvaged ${salvaged.status.output!.durationSeconds} s`);
  });

  test('deletion: reclaimPolicy Delete removes the files, Retain keeps them', async () => {
    for (const [callType, name] of [['meetings-delete', 'gone'], ['meetings', 'kept']] as const) {
      await env.createRecording(ns, name, { callType, callId: name });
      await env.phase(ns, name, 'RECORDING', 60_000);
      await sleep(1500);
      await env.setState(ns, name, 'Stopped');
      const done = await env.phase(ns, name, 'UPLOADED', 60_000);
      const key = done.status!.output!.location!.replace('s3://recordings/', '');
      await env.s3.statObject(env.bucket, key);
      await env.custom.deleteNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: ns, plural: 'recordings', name });
      await env.waitGone(ns, name);
      if (callType === 'meetings-delete') {
        await assert.rejects(env.s3.statObject(env.bucket, key), `${key} was removed`);
        await assert.rejects(env.s3.statObject(env.bucket, key.replace(/\.mp4$/, '.jpg')), 'the thumbnail was removed too');
      } else {
        await env.s3.statObject(env.bucket, key);
      }
    }
  });

  test('CallType status: storage reachable and the number of active recordings', async () => {
    const ct = await env.custom.getClusterCustomObject({ group: 'recording.dev', version: 'v1alpha1', plural: 'calltypes', name: 'meetings' }) as { status?: { activeRecordings?: number; conditions?: { type: string; status: string }[] } };
    assert.equal(ct.status?.conditions?.find((c) => c.type === 'StorageReachable')?.status, 'True');
    assert.equal(typeof ct.status?.activeRecordings, 'number');
  });

  test('the recorder got temporary credentials that reach its own recording and nothing else', async () => {
    const done = await env.phase(ns, 'standup', 'UPLOADED', 1000);
    const secret = await env.core.readNamespacedSecret({ namespace: ns, name: secretName('standup') });
    const read = (key: string) => Buffer.from(secret.data?.[key] ?? '', 'base64').toString();
    const issued = { accessKey: read(recorderSecretFiles.storageAccessKeyId), secretKey: read(recorderSecretFiles.storageSecretAccessKey), sessionToken: read(recorderSecretFiles.storageSessionToken) };
    assert.ok(issued.sessionToken, 'STS credentials carry a session token');
    assert.notEqual(issued.accessKey, env.storageSecret.accessKeyId, 'not the CallType storage keys');
    const scoped = new Client({ endPoint: env.minio.host, port: env.minio.port, useSSL: false, region: 'us-east-1', ...issued });
    const own = parseLocation(done.status!.output!.location!)!;
    await scoped.statObject(own.bucket, own.key);
    const denied = (err: { code?: string }) => err.code === 'AccessDenied';
    await assert.rejects(scoped.putObject(own.bucket, 'meetings/someone-else/overwritten.mp4', Buffer.from('x')), denied, 'cannot write beside its recording');
    await assert.rejects(scoped.putObject(own.bucket, own.key.replace(/[^/]+$/, 'other-recording.mp4'), Buffer.from('x')), denied, 'not even in the same folder');
    const anotherRecording = (await env.getRecording(ns, 'pausing')).status?.output?.location;
    if (anotherRecording) await assert.rejects(scoped.statObject(own.bucket, parseLocation(anotherRecording)!.key), denied, 'cannot read another recording');
    await assert.rejects(new Promise((resolve, reject) => scoped.listObjectsV2(own.bucket, '', true).on('data', resolve).on('error', reject).on('end', resolve)), denied, 'cannot list the bucket');
  });

  test('storage credentials never appear in statuses, events, Pod specs or the operator log', async () => {
    const secret = env.storageSecret.secretAccessKey;
    const recordings = JSON.stringify(await env.custom.listClusterCustomObject({ group: 'recording.dev', version: 'v1alpha1', plural: 'recordings' }));
    const events = JSON.stringify(await env.core.listEventForAllNamespaces());
    const pods = JSON.stringify((await env.core.listPodForAllNamespaces({ labelSelector: 'app.kubernetes.io/component=recorder' })).items.map((p: V1Pod) => p.spec));
    const calltypes = JSON.stringify(await env.custom.listClusterCustomObject({ group: 'recording.dev', version: 'v1alpha1', plural: 'calltypes' }));
    assert.ok(recordings.length > 1000 && events.length > 1000 && pods.length > 1000, 'there is something to search');
    for (const [what, text] of [['recordings', recordings], ['events', events], ['pod specs', pods], ['calltypes', calltypes], ['operator log', env.operatorLog()]] as const) {
      assert.ok(!text.includes(secret), `the storage secret key appears in ${what}`);
    }
    assert.ok(!env.operatorLog().includes(operatorNamespace + '/storage:'), 'no credential dump');
  });

  test('recording metrics: finished recordings by phase and stop reason, recorded seconds, recordings by phase', async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${env.operator!.healthPort}/metrics`)).text();
    const value = (line: RegExp) => Number(line.exec(metrics)?.[1] ?? 0);
    assert.ok(value(/^recording_operator_recordings_finished_total\{phase="UPLOADED",stop_reason="API_CALL"\} (\d+)$/m) >= 3, metrics.split('\n').filter((l) => l.startsWith('recording_operator')).join('\n'));
    assert.ok(value(/^recording_operator_recordings_finished_total\{phase="ERRORED",stop_reason="RECORDER_LOST"\} (\d+)$/m) >= 1);
    assert.ok(value(/^recording_operator_recorded_seconds_total (\d+)$/m) >= 5);
    assert.ok(value(/^recording_operator_recordings\{phase="ERRORED"\} (\d+)$/m) >= 2, 'disabled and crashed');
  });
});
