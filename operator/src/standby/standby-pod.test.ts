import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CallType, Recording } from '@recording-operator/common/api/generated/types.ts';
import { effectiveSettings } from '../recording/effective-settings.ts';
import { available, fitsStandby, standbyPod, standbyPodName } from './standby-pod.ts';

const callType: CallType = { metadata: { name: 'meetings', uid: 'u1' }, spec: { recording: { quality: '720p' }, callUrlTemplate: 'https://x/{callId}', storage: { bucket: 'b', secretRef: { name: 's' } }, recorder: { standby: { namespace: 'calls', replicas: 2 } } } };
const recording = (namespace: string, spec: Partial<Recording['spec']> = {}): Recording => ({ metadata: { name: 'r', namespace }, spec: { callType: 'meetings', ...spec } });
const fits = (r: Recording, ct = callType) => fitsStandby(ct, r, effectiveSettings(ct, r));

test("a Recording fits a standby recorder only in its namespace and with the CallType's own output shape", () => {
  assert.equal(fits(recording('calls')), true);
  assert.equal(fits(recording('calls', { settingsOverride: { video: { fps: 30 }, maxDurationSeconds: 60 } })), true, 'what does not change the screen does not matter');
  assert.equal(fits(recording('other')), false);
  assert.equal(fits(recording('calls', { settingsOverride: { quality: '1080p' } })), false);
  assert.equal(fits(recording('calls', { settingsOverride: { video: { fps: 15 } } })), false);
  assert.equal(fits(recording('calls', { settingsOverride: { audioOnly: true } })), false);
  assert.equal(fits(recording('calls'), { ...callType, spec: { ...callType.spec, recorder: { standby: { namespace: 'calls', replicas: 0 } } } }), false);
});

test('standby Pod names fit a hostname; the Pod carries no secret and is owned by its CallType', () => {
  const name = standbyPodName('a'.repeat(200));
  assert.ok(name.length <= 63 && /^a+-standby-[0-9a-f]{6}$/.test(name), name);
  const pod = standbyPod({ callType, namespace: 'calls', name, image: 'img', gracePeriodSeconds: 30 });
  assert.deepEqual(JSON.parse(pod.spec!.containers[0]!.env![0]!.value!).video, { width: 1280, height: 720, fps: 30 });
  assert.equal(pod.spec!.volumes!.find((v) => v.name === 'credentials')?.secret?.secretName, name);
  assert.equal(pod.metadata!.ownerReferences![0]!.kind, 'CallType');
  assert.equal(available({ ...pod, status: { phase: 'Running', containerStatuses: [{ name: 'recorder', ready: true, restartCount: 0, image: 'img', imageID: '' }] } }), true);
  assert.equal(available({ ...pod, status: { phase: 'Running', containerStatuses: [{ name: 'recorder', ready: false, restartCount: 0, image: 'img', imageID: '' }] } }), false);
});
