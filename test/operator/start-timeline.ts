// How long a Recording takes to start, seen from outside as a user would: from its creation to its
// recorder Pod existing, the recorder container running, and the phase RECORDING. Shared by the
// real-container test and `npm run bench pod-start` (real kubelet vs the runner).
//
// It watches, as `kubectl get -w` does, rather than polling: reading the Recording and its Pod every
// 25 ms took a quarter of a core in kube-apiserver and as much again in the test's own process, on a
// 2-core machine where the recorder's start competes for exactly that CPU.
import { Watch, type V1Pod } from '@kubernetes/client-node';
import type { Recording } from '@recording-operator/common/api/generated/types.ts';
import { podName } from '../../operator/src/recording/desired-pod.ts';
import { group, version, type OperatorTestEnvironment } from './environment.ts';

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

/** Creates the Recording and watches it and its namespace's Pods until it is RECORDING. */
export async function recordingStartTimeline(env: OperatorTestEnvironment, namespace: string, name: string, spec: Recording['spec'], timeoutMs = 120_000): Promise<StartTimeline> {
  // Wall-clock times each Pod was first seen, and first seen with the recorder container running.
  const podSeen = new Map<string, number>();
  const podRunning = new Map<string, number>();
  const phases: string[] = [];
  let lastStatus: Recording['status'];
  // When the Recording's status named a Pod that is not its own (a standby recorder it took): that Pod
  // became its Pod then, however long it had existed.
  let named: { pod: string; at: number } | undefined;
  let finish: (outcome: { recordingAt: number } | Error) => void = () => undefined;
  const outcome = new Promise<{ recordingAt: number } | Error>((resolve) => (finish = resolve));

  const watch = new Watch(env.kc);
  const ended = (what: string) => (err: unknown) => finish(new Error(`the watch of ${what} in ${namespace} ended before RECORDING${err instanceof Error ? `: ${err.message}` : ''}`));
  const pods = await watch.watch(`/api/v1/namespaces/${namespace}/pods`, {}, (_type, pod: V1Pod) => {
    const now = Date.now();
    const seen = pod.metadata!.name!;
    if (!podSeen.has(seen)) podSeen.set(seen, now);
    if (pod.status?.containerStatuses?.find((c) => c.name === 'recorder')?.state?.running && !podRunning.has(seen)) podRunning.set(seen, now);
  }, ended('Pods'));
  const recordings = await watch.watch(`/apis/${group}/${version}/namespaces/${namespace}/recordings`, { fieldSelector: `metadata.name=${name}` }, (_type, recording: Recording) => {
    const now = Date.now();
    lastStatus = recording.status;
    const phase = recording.status?.phase;
    if (phase && phases.at(-1) !== phase) phases.push(phase);
    const pod = recording.status?.podName;
    if (pod && pod !== podName(name) && named?.pod !== pod) named = { pod, at: now };
    if (phase === 'RECORDING') finish({ recordingAt: now });
    if (phase === 'ERRORED') finish(new Error(`${namespace}/${name} ERRORED before RECORDING (phases ${phases.join(' → ')}): ${JSON.stringify(recording.status)}`));
  }, ended('Recordings'));
  const timer = setTimeout(() => finish(new Error(`${namespace}/${name} not RECORDING after ${timeoutMs} ms (phases ${phases.join(' → ')}): ${JSON.stringify(lastStatus)}`)), timeoutMs);
  try {
    await env.createRecording(namespace, name, spec);
    const created = Date.now();
    const result = await outcome;
    if (result instanceof Error) throw result;
    const pod = named?.pod ?? podName(name);
    // A standby recorder's Pod counts from when the Recording took it.
    const since = (seenAt: number | undefined) => (seenAt === undefined ? NaN : Math.max(seenAt, named?.at ?? -Infinity) - created);
    return { podCreatedMs: since(podSeen.get(pod)), containerRunningMs: since(podRunning.get(pod)), recordingMs: result.recordingAt - created, phases, podName: lastStatus?.podName };
  } finally {
    clearTimeout(timer);
    pods.abort();
    recordings.abort();
  }
}

/**
 * Milliseconds from `act` (say, a stop) to the Recording's phase `phase`, watched as above: a poll would
 * add up to its interval to what is measured.
 */
export async function timeToPhase(env: OperatorTestEnvironment, namespace: string, name: string, phase: string, act: () => Promise<void>, timeoutMs = 120_000): Promise<number> {
  let finish: (reachedAt: number | Error) => void = () => undefined;
  const reached = new Promise<number | Error>((resolve) => (finish = resolve));
  let lastStatus: Recording['status'];
  const watch = await new Watch(env.kc).watch(`/apis/${group}/${version}/namespaces/${namespace}/recordings`, { fieldSelector: `metadata.name=${name}` }, (_type, recording: Recording) => {
    lastStatus = recording.status;
    if (recording.status?.phase === phase) finish(Date.now());
  }, (err: unknown) => finish(new Error(`the watch of ${namespace}/${name} ended before ${phase}${err instanceof Error ? `: ${err.message}` : ''}`)));
  const timer = setTimeout(() => finish(new Error(`${namespace}/${name} not ${phase} after ${timeoutMs} ms: ${JSON.stringify(lastStatus)}`)), timeoutMs);
  try {
    const actedAt = Date.now();
    await act();
    const result = await reached;
    if (result instanceof Error) throw result;
    return result - actedAt;
  } finally {
    clearTimeout(timer);
    watch.abort();
  }
}
