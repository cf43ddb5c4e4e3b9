// Standby recorders (CallType spec.recorder.standby): which Recordings can take one, and the Pod and
// Secret of one. Pure. A standby recorder is prepared for one output shape, the CallType's own (size and
// frame rate, or sound only): its screen and browser window are made for it before any Recording exists.
import { randomBytes } from 'node:crypto';
import type { V1OwnerReference, V1Pod, V1Secret } from '@kubernetes/client-node';
import type { CallType, Recording } from '@recording-operator/common/api/generated/types.ts';
import { standbyKeyFile, type StandbyConfigInput } from '@recording-operator/common/protocol/standby.ts';
import { groupVersion } from '../recording-api.ts';
import { labels, recorderContainer, recorderPodSpec } from '../recording/desired-pod.ts';
import { effectiveSettings, type EffectiveSettings } from '../recording/effective-settings.ts';
import { recorderPaths, recorderPort } from '../recording/recorder-spec.ts';

export type StandbyShape = StandbyConfigInput['video'];

/** The output shape a standby recorder prepares for: what a Recording with no settingsOverride records. */
export function standbyShape(settings: EffectiveSettings): StandbyShape {
  return settings.video && { width: settings.video.width, height: settings.video.height, fps: settings.video.fps };
}

/** The CallType's own settings (a Recording that overrides nothing). */
export function callTypeSettings(callType: CallType): EffectiveSettings {
  return effectiveSettings(callType, { spec: { callType: callType.metadata!.name! } });
}

/** Whether a Recording with these settings can take one of its CallType's standby recorders. */
export function fitsStandby(callType: CallType, recording: Recording, settings: EffectiveSettings): boolean {
  const standby = callType.spec.recorder?.standby;
  if (!standby?.replicas || standby.namespace !== recording.metadata?.namespace) return false;
  return JSON.stringify(standbyShape(settings)) === JSON.stringify(standbyShape(callTypeSettings(callType)));
}

/** A fresh name: <callType>-standby-<6 hex>, within the 63 characters of a Pod's hostname. */
export function standbyPodName(callTypeName: string): string {
  return `${callTypeName.slice(0, 45).replace(/[-.]+$/, '')}-standby-${randomBytes(3).toString('hex')}`;
}

export function standbyPod(options: { callType: CallType; namespace: string; name: string; image: string; gracePeriodSeconds: number }): V1Pod {
  const { callType, name } = options;
  const callTypeName = callType.metadata!.name!;
  const settings = callTypeSettings(callType);
  const standby: StandbyConfigInput = { video: standbyShape(settings), control: { port: recorderPort }, workDir: recorderPaths.workDir, terminationMessagePath: recorderPaths.terminationMessage, secretsDir: recorderPaths.secretsDir };
  // Owned by the CallType, so deleting it removes its standby recorders; a Recording that takes one
  // becomes its controller instead.
  const owner: V1OwnerReference = { apiVersion: groupVersion, kind: 'CallType', name: callTypeName, uid: callType.metadata!.uid!, controller: true, blockOwnerDeletion: false };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: options.namespace,
      labels: { [labels.standby]: callTypeName, [labels.callType]: callTypeName, [labels.component]: 'recorder', [labels.managedBy]: 'recording-operator' },
      ownerReferences: [owner],
    },
    spec: recorderPodSpec({ ...options, settings, env: [{ name: 'RECORDER_STANDBY', value: JSON.stringify(standby) }], secretName: name }),
  };
}

/** The standby recorder's Secret: its sealing key only. Owned by its Pod, so it goes with it. */
export function standbySecret(pod: V1Pod, key: string): V1Secret {
  const { name, namespace, uid } = pod.metadata!;
  return {
    metadata: { name, namespace, labels: { [labels.managedBy]: 'recording-operator' }, ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: name!, uid: uid!, controller: true, blockOwnerDeletion: false }] },
    type: 'Opaque',
    stringData: { [standbyKeyFile]: key },
  };
}

/** A standby recorder that can be taken now: unclaimed, running, Ready, not being deleted. */
export function available(pod: V1Pod): boolean {
  if (!pod.metadata?.labels?.[labels.standby] || pod.metadata.deletionTimestamp || pod.status?.phase !== 'Running') return false;
  return recorderContainer(pod)?.ready === true;
}
