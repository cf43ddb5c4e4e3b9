// How long a Recording takes to start, seen from outside as a user would: from its creation to its
// recorder Pod existing, the recorder container running, and the phase RECORDING. Shared by the
// real-container test and `npm run bench pod-start` (real kubelet vs the runner).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Recording } from '@recording-operator/common/api/generated/types.ts';
import { podName } from '../../operator/src/recording/desired-pod.ts';
import type { OperatorTestEnvironment } from './environment.ts';

export interface StartTimeline {
  /** Milliseconds after the create request returned. */
  podCreatedMs: number;
  containerRunningMs: number;
  recordingMs: number;
  /** Phases in the order they were seen. */
  phases: string[];
  /** The recorder Pod the status names (a standby recorder's has a name of its own). */
  podName?: string;
}

/** Creates the Recording and polls (every 25 ms) until it is RECORDING. */
export async function recordingStartTimeline(env: OperatorTestEnvironment, namespace: string, name: string, spec: Recording['spec'], timeoutMs = 120_000): Promise<StartTimeline> {
  await env.createRecording(namespace, name, spec);
  const created = Date.now();
  const phases: string[] = [];
  let podCreatedMs = NaN;
  let containerRunningMs = NaN;
  let recordingPod: string | undefined;
  for (;;) {
    const [recording, pod] = await Promise.all([env.getRecording(namespace, name), env.core.readNamespacedPod({ namespace, name: recordingPod ?? podName(name) }).catch(() => undefined)]);
    const at = Date.now() - created;
    const phase = recording.status?.phase;
    // A standby recorder it took has a name of its own (the status says which).
    recordingPod = recording.status?.podName;
    if (phase && phases.at(-1) !== phase) phases.push(phase);
    if (pod && Number.isNaN(podCreatedMs)) podCreatedMs = at;
    if (pod?.status?.containerStatuses?.find((c) => c.name === 'recorder')?.state?.running && Number.isNaN(containerRunningMs)) containerRunningMs = at;
    if (phase === 'RECORDING') return { podCreatedMs, containerRunningMs, recordingMs: at, phases, podName: recordingPod };
    if (phase === 'ERRORED' || at > timeoutMs) throw new Error(`${namespace}/${name} not RECORDING after ${at} ms (phases ${phases.join(' → ')}): ${JSON.stringify(recording.status)}`);
    await sleep(25);
  }
}
