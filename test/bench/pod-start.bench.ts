// Recorder start through a real kubelet vs through the runner (issue 12): from a Recording's creation to
// its Pod existing, the recorder container running, and RECORDING, as kubectl would see them. The real
// node runs the built images under containerd and runc with the operator installed by Helm; the runner
// starts the recorder from the sources as a local process with the operator as a local process. Both at
// 720p on the demo call page with the operator's production status poll (2 s), one recording at a time,
// each recording 5 s (BENCH_POD_START_RECORD_SECONDS), then stopped; stop → UPLOADED is reported too. Each is measured twice: a Pod per
// Recording, and a standby recorder (CallType spec.recorder.standby) taken by each Recording. Each mode
// runs on a fresh node (control plane, node, operator), whose first Recording is reported apart.
// Needs root for the real node; without it only the runner is measured.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { podName } from '../../operator/src/recording/desired-pod.ts';
import { helmBinary } from '../harness/assets.ts';
import { chartDir } from '../harness/crds.ts';
import { kubeletNodeUnavailable } from '../harness/kubelet-node.ts';
import { repoRoot } from '../harness/paths.ts';
import { OperatorTestEnvironment, operatorNamespace } from '../operator/environment.ts';
import { recordingStartTimeline, timeToPhase, type StartTimeline } from '../operator/start-timeline.ts';
import { emit, median } from './figures.ts';
import { machineCoresBetween, machineCpuSeconds } from './process-tree.ts';
import type { RecorderStatus } from '@recording-operator/common/protocol/recorder-report.ts';
import type { StopStage } from '../../recorder-image/src/recorder.ts';

const runs = Number(process.env.BENCH_POD_START_RUNS ?? 5);
/** How long each recording lasts before it is stopped: 60 measures stop → UPLOADED for a minute's file. */
const recordSeconds = Number(process.env.BENCH_POD_START_RECORD_SECONDS ?? 5);

interface Run extends StartTimeline {
  stopToUploadedMs: number;
  /** The recorder's own start stages, ms since its process started (its 'recording' log line). */
  recorderStartup?: NonNullable<RecorderStatus['startup']>;
  /** The recorder's stop stages, ms since the stop reached it (its 'delivered' log line). */
  recorderStop?: Record<StopStage, number>;
  /** The machine's CPU from the Recording's creation to RECORDING: busy cores and cores by program. */
  machineCores: ReturnType<typeof machineCoresBetween>;
  /** The same from the stop to UPLOADED: what the join and the upload compete with. */
  machineCoresStopping: ReturnType<typeof machineCoresBetween>;
}

/**
 * A field of the recorder's log line `msg`: its start stages ('recording', field startup: ms since its
 * process started) or its stop stages ('delivered', field stopSplit): where its part of the wait goes.
 */
async function recorderLogged<T>(env: OperatorTestEnvironment, namespace: string, pod: string, msg: string, field: string): Promise<T | undefined> {
  const log = await env.core.readNamespacedPodLog({ namespace, name: pod, container: 'recorder' }).catch(() => '');
  for (const line of String(log).split('\n')) {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === msg && entry[field] !== undefined) return entry[field] as T;
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}

/** With `standby`, each Recording takes a standby recorder (CallType spec.recorder.standby, 1 replica) that was Ready before it was created. */
async function measure(kubelet: boolean, standby: boolean): Promise<Run[]> {
  const env = new OperatorTestEnvironment();
  try {
    await env.start({ kubelet });
    if (kubelet) {
      execFileSync(helmBinary(), ['install', 'recording-operator', chartDir, '--namespace', operatorNamespace, '--kubeconfig', env.cp.kubeconfigPath, '--set', 'crds.enabled=false', '--set', 'admissionPolicy.enabled=false', '--set', 'userRoles.enabled=false', '--wait', '--timeout', '5m'], { stdio: 'ignore' });
    } else {
      await env.startOperator({ LOG_LEVEL: 'warn', POLL_MS: '2000' });
    }
    const ns = await env.createNamespace('bench');
    await env.createCallType('bench', { quality: '720p' }, {}, standby ? { recorder: { standby: { namespace: ns, replicas: 1 } } } : {});
    const timelines: Run[] = [];
    // One more than measured: the first Recording on a fresh node is reported on its own (see below).
    for (let i = 0; i <= runs; i++) {
      if (standby) await standbyReady(env, ns);
      const cpuBefore = machineCpuSeconds();
      const start = await recordingStartTimeline(env, ns, `start-${i}`, { callType: 'bench', callId: `start-${i}` });
      const machineCores = machineCoresBetween(cpuBefore, machineCpuSeconds());
      const pod = start.podName ?? podName(`start-${i}`);
      const startup = await recorderLogged<Run['recorderStartup']>(env, ns, pod, 'recording', 'startup');
      await new Promise((r) => setTimeout(r, recordSeconds * 1000));
      const cpuBeforeStop = machineCpuSeconds();
      const stopToUploadedMs = await timeToPhase(env, ns, `start-${i}`, 'UPLOADED', () => env.setState(ns, `start-${i}`, 'Stopped'));
      const machineCoresStopping = machineCoresBetween(cpuBeforeStop, machineCpuSeconds());
      const recorderStop = await recorderLogged<Run['recorderStop']>(env, ns, pod, 'delivered', 'stopSplit');
      timelines.push({ ...start, stopToUploadedMs, recorderStartup: startup, recorderStop, machineCores, machineCoresStopping });
      // The next recording starts once this recorder's Pod has finished: on this 2-core node a second
      // 720p recorder (1 CPU requested) does not fit beside a running one, and the scheduler's back-off
      // would be measured instead of the start.
      for (let tries = 0; tries < 600; tries++) {
        const finished = await env.core.readNamespacedPod({ namespace: ns, name: pod }).catch(() => undefined);
        if (!finished || finished.status?.phase === 'Succeeded' || finished.status?.phase === 'Failed') break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return timelines;
  } finally {
    await env.stop();
  }
}

/** Waits (up to 3 minutes) until a standby recorder is Ready: a replacement starts once the previous one is taken. */
async function standbyReady(env: OperatorTestEnvironment, namespace: string): Promise<void> {
  for (let tries = 0; tries < 1800; tries++) {
    const pods = (await env.core.listNamespacedPod({ namespace, labelSelector: 'recording.dev/standby=bench' })).items;
    if (pods.some((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no standby recorder became Ready within 3 minutes');
}

// BENCH_POD_START_MODES=kubelet (or runner) measures one of the two.
const wanted = (process.env.BENCH_POD_START_MODES ?? 'runner,kubelet').split(',');
const modes: [string, boolean][] = wanted.includes('runner') ? [['runner', false]] : [];
const unavailable = kubeletNodeUnavailable();
if (unavailable) console.error(`pod-start: real kubelet skipped: ${unavailable}`);
else if (wanted.includes('kubelet')) {
  execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build-images.ts')], { stdio: 'ignore' });
  modes.push(['kubelet', true]);
}
for (const [mode, kubelet] of modes) {
  for (const standby of [false, true]) {
    // The first Recording on a node that has just started pays once for what later ones find ready: the
    // image's files read from disk, the node's first Pod network, the operator's first reconcile. It is
    // reported apart (first_on_node); the figures and targets are over the Recordings after it.
    const [first, ...timelines] = await measure(kubelet, standby);
    emit({ benchmark: `pod_start.${mode}${standby ? '.standby' : ''}.created_to_recording_first_on_node`, value: first!.recordingMs, unit: 'ms', quality: '720p', poll_ms: 2000, pod_created_ms: first!.podCreatedMs, container_running_ms: first!.containerRunningMs, recorder_startup: first!.recorderStartup, machine_cores: first!.machineCores });
    const figures = [
      ['created_to_pod_created', (t: Run) => t.podCreatedMs],
      ['created_to_container_running', (t: Run) => t.containerRunningMs],
      ['created_to_recording', (t: Run) => t.recordingMs],
      ['stop_to_uploaded', (t: Run) => t.stopToUploadedMs],
    ] as const;
    for (const [figure, pick] of figures) {
      const values = timelines.map(pick);
      const targets = figure === 'created_to_recording' ? { target: 2000, target_p95: 2500, p95: percentile(values, 0.95) } : figure === 'stop_to_uploaded' ? { target: 1000 } : {};
      emit({ benchmark: `pod_start.${mode}${standby ? '.standby' : ''}.${figure}`, runs, value: median(values), unit: 'ms', ...targets, all: values, quality: '720p', poll_ms: 2000, recording_seconds: recordSeconds });
    }
    // The recorder's part, from its own log: each stage's median in ms since its process started (a
    // standby recorder's count from its assignment).
    /** The median over the runs whose recorder logged the figure. */
    const medianLogged = (pick: (t: Run) => number | undefined) => median(timelines.map(pick).filter((v): v is number => v !== undefined));
    const stage = (name: keyof NonNullable<Run['recorderStartup']>) => medianLogged((t) => t.recorderStartup?.[name]);
    emit({
      benchmark: `pod_start.${mode}${standby ? '.standby' : ''}.recorder_start_split`,
      unit: `ms since the recorder's process started${standby ? ' (a standby recorder: since its assignment)' : ''}, median`,
      display_ready: stage('displayReadyMs'),
      browser_ready: stage('browserReadyMs'),
      page_loaded: stage('pageLoadedMs'),
      start_signal: stage('startSignalMs'),
      first_frame: stage('firstFrameMs'),
    });
    // The recorder's part of stop → UPLOADED, from its own log: each stage's median in ms since the stop reached it.
    const stopStage = (name: StopStage) => medianLogged((t) => t.recorderStop?.[name]);
    emit({
      benchmark: `pod_start.${mode}${standby ? '.standby' : ''}.recorder_stop_split`,
      unit: 'ms since the stop reached the recorder, median',
      part_ended: stopStage('partEnded'),
      browser_stopped: stopStage('browserStopped'),
      joined: stopStage('joined'),
      checked: stopStage('checked'),
      uploaded: stopStage('uploaded'),
      delivered: stopStage('delivered'),
    });
    // Everything else on the 2-core machine while they started (control plane, kubelet, containerd,
    // operator): what a recorder's start competes with. The run with the median start.
    const middle = [...timelines].sort((a, b) => a.recordingMs - b.recordingMs)[Math.floor(timelines.length / 2)]!;
    emit({ benchmark: `pod_start.${mode}${standby ? '.standby' : ''}.machine_cores_while_starting`, unit: 'cores from just before creation to RECORDING (the median run)', value: middle.machineCores.busy, created_to_recording_ms: middle.recordingMs, by_program: middle.machineCores.byProgram });
    const middleStop = [...timelines].sort((a, b) => a.stopToUploadedMs - b.stopToUploadedMs)[Math.floor(timelines.length / 2)]!;
    emit({ benchmark: `pod_start.${mode}${standby ? '.standby' : ''}.machine_cores_while_stopping`, unit: 'cores from the stop to UPLOADED (the median run)', value: middleStop.machineCoresStopping.busy, stop_to_uploaded_ms: middleStop.stopToUploadedMs, by_program: middleStop.machineCoresStopping.byProgram });
  }
}

/** The nearest-rank percentile (with 5 runs, p95 is the slowest). */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
