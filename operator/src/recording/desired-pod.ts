// The recorder Pod a Recording should have. Pure. Its name is derived from the Recording's, so a second
// create of "the" Pod fails with AlreadyExists: never two recorder Pods for one Recording.
import { createHash } from 'node:crypto';
import type { V1ContainerStatus, V1EnvVar, V1OwnerReference, V1Pod, V1PodSpec, V1ResourceRequirements } from '@kubernetes/client-node';
import type { CallType, Recording } from '@recording-operator/common/api/generated/types.ts';
import type { RecorderConfigInput } from '@recording-operator/common/protocol/recorder-config.ts';
import type { EffectiveSettings } from './effective-settings.ts';
import { groupVersion } from '../recording-api.ts';
import { recorderPaths, recorderPort } from './recorder-spec.ts';

const recorderContainerName = 'recorder';

/** The recorder container's status in a recorder Pod (a Recording's or a standby one). */
export function recorderContainer(pod: V1Pod | undefined): V1ContainerStatus | undefined {
  return pod?.status?.containerStatuses?.find((c) => c.name === recorderContainerName);
}

export const labels = {
  recording: 'recording.dev/recording',
  callType: 'recording.dev/call-type',
  callId: 'recording.dev/call-id',
  active: 'recording.dev/active',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  /** On a standby recorder waiting for a Recording: the name of its CallType. Removed when a Recording takes it. */
  standby: 'recording.dev/standby',
} as const;

export function podName(recordingName: string): string {
  const name = `${recordingName}-recorder`;
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(recordingName).digest('hex').slice(0, 8);
  return `${recordingName.slice(0, 63 - 18)}-${hash}-recorder`;
}

export function secretName(recordingName: string): string {
  const name = `${recordingName}-recorder`;
  return name.length <= 253 ? name : `${recordingName.slice(0, 230)}-recorder`;
}

/** Requests and limits by output size: what a recording of that size needs on our measurements. */
export function defaultResources(settings: EffectiveSettings): V1ResourceRequirements {
  const pixels = settings.video ? settings.video.width * settings.video.height : 0;
  if (pixels === 0) return { requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '1Gi' } };
  if (pixels <= 854 * 480) return { requests: { cpu: '750m', memory: '768Mi' }, limits: { memory: '1536Mi' } };
  if (pixels <= 1280 * 720) return { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '2Gi' } };
  if (pixels <= 1920 * 1080) return { requests: { cpu: '1600m', memory: '1536Mi' }, limits: { memory: '3Gi' } };
  return { requests: { cpu: '2500m', memory: '2Gi' }, limits: { memory: '4Gi' } };
}

export function desiredPod(options: {
  recording: Recording;
  callType: CallType;
  settings: EffectiveSettings;
  config: RecorderConfigInput;
  image: string;
  gracePeriodSeconds: number;
}): V1Pod {
  const { recording } = options;
  const name = recording.metadata!.name!;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName(name),
      namespace: recording.metadata!.namespace,
      labels: {
        [labels.recording]: name,
        [labels.callType]: recording.spec.callType,
        ...(recording.spec.callId ? { [labels.callId]: recording.spec.callId } : {}),
        [labels.component]: 'recorder',
        [labels.managedBy]: 'recording-operator',
      },
      ownerReferences: [recordingOwner(recording)],
    },
    spec: recorderPodSpec({ ...options, env: [{ name: 'RECORDER_CONFIG', value: JSON.stringify(options.config) }], secretName: secretName(name) }),
  };
}

/** The Recording as the controlling owner of its recorder Pod and Secret (they go when it goes). */
export function recordingOwner(recording: Recording): V1OwnerReference {
  return { apiVersion: groupVersion, kind: 'Recording', name: recording.metadata!.name!, uid: recording.metadata!.uid!, controller: true, blockOwnerDeletion: true };
}

/**
 * A recorder Pod's spec: the recorder's configuration comes in `env` (RECORDER_CONFIG, or RECORDER_STANDBY
 * for a standby recorder), its secrets from the Secret `secretName`.
 */
export function recorderPodSpec(options: { callType: CallType; settings: EffectiveSettings; image: string; gracePeriodSeconds: number; env: V1EnvVar[]; secretName: string }): V1PodSpec {
  const placement = options.callType.spec.recorder ?? {};
  const resources = placement.resources ? (placement.resources as V1ResourceRequirements) : defaultResources(options.settings);
  return {
    // A crashed recorder is restarted in the same Pod, where its emptyDir still holds what it captured,
    // and uploads that (Recorder.salvage). A recorder that reported exits 0 and is not restarted.
    restartPolicy: 'OnFailure',
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: options.gracePeriodSeconds,
    nodeSelector: placement.nodeSelector,
    tolerations: placement.tolerations,
    priorityClassName: placement.priorityClassName,
    securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      {
        name: recorderContainerName,
        image: placement.image ?? options.image,
        env: [...options.env, { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
        ports: [{ name: 'control', containerPort: recorderPort }],
        readinessProbe: { httpGet: { path: '/healthz', port: recorderPort }, periodSeconds: 2 },
        resources,
        terminationMessagePath: recorderPaths.terminationMessage,
        terminationMessagePolicy: 'File',
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        volumeMounts: [
          { name: 'recordings', mountPath: recorderPaths.workDir },
          { name: 'tmp', mountPath: '/tmp' },
          { name: 'credentials', mountPath: recorderPaths.secretsDir, readOnly: true },
        ],
      },
    ],
    volumes: [
      { name: 'recordings', emptyDir: {} },
      { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '256Mi' } },
      { name: 'credentials', secret: { secretName: options.secretName, defaultMode: 0o400 } },
    ],
  };
}
