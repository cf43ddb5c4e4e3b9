// The Recording status that follows from what can be observed: the recorder Pod, the recorder's live
// status (its control endpoint) and its final report (the container's termination message). Pure.
import type { V1ContainerStateTerminated, V1Pod } from '@kubernetes/client-node';
import type { Condition, Recording, RecordingStatus } from '@recording-operator/common/api/generated/types.ts';
import type { FinalReport, RecorderStatus } from '@recording-operator/common/protocol/recorder-report.ts';
import { finalReportSchema } from '@recording-operator/common/protocol/recorder-report.ts';
import { setCondition } from './conditions.ts';
import { recorderContainer } from './desired-pod.ts';

export type Phase = NonNullable<RecordingStatus['phase']>;
export const terminalPhases: readonly Phase[] = ['UPLOADED', 'ERRORED'];
export const isTerminal = (phase: Phase | undefined) => phase !== undefined && terminalPhases.includes(phase);

export interface RecorderTermination {
  exitCode: number;
  signal?: number;
  reason?: string;
  message?: string;
}

/** The recorder container's termination, when it has ended. */
export function recorderTermination(pod: V1Pod | undefined): RecorderTermination | undefined {
  return terminationOf(recorderContainer(pod)?.state?.terminated);
}

function terminationOf(state: V1ContainerStateTerminated | undefined): RecorderTermination | undefined {
  return state && { exitCode: state.exitCode, signal: state.signal, reason: state.reason, message: state.message };
}

/** How many times the recorder container was restarted (after crashes). */
export function recorderRestarts(pod: V1Pod | undefined): number {
  return recorderContainer(pod)?.restartCount ?? 0;
}

/** How long a recorder container counts as starting up, in which the operator asks it every startingPollMs. */
const startingUpMs = 30_000;
/** How often a recorder that has just started is asked whether it listens yet. */
export const startingPollMs = 100;

/**
 * The recorder container runs and started less than 30 s ago (its startedAt has whole seconds): the
 * recorder may not listen yet. Beyond that window an unreachable recorder is left to the regular poll,
 * so a recorder that never answers is not asked ten times a second for its whole life.
 */
export function recorderJustStarted(pod: V1Pod, now: Date): boolean {
  const startedAt = recorderContainer(pod)?.state?.running?.startedAt;
  return startedAt !== undefined && now.getTime() - new Date(startedAt).getTime() < startingUpMs;
}

/** The recorder's previous run, when it crashed and the container was restarted. */
function recorderCrash(pod: V1Pod | undefined): RecorderTermination | undefined {
  const status = recorderContainer(pod);
  return terminationOf(status && status.restartCount > 0 ? status.lastState?.terminated : undefined);
}

function describeEnd(termination: RecorderTermination): string {
  return termination.signal ? `signal ${termination.signal}` : `exit code ${termination.exitCode}${termination.reason ? ` (${termination.reason})` : ''}`;
}

/** status.output from a final report. */
function outputOf(report: FinalReport, previous: RecordingStatus['output']): NonNullable<RecordingStatus['output']> {
  const file = report.file!;
  const scheme = report.storageType ?? 's3';
  return {
    ...previous,
    fileName: file.fileName,
    location: `${scheme}://${report.bucket}/${file.key}`,
    sizeBytes: file.sizeBytes,
    sha256: file.sha256,
    contentType: file.contentType,
    durationSeconds: report.durationSeconds,
    width: report.width,
    height: report.height,
    audioFile: report.audioFile && { fileName: report.audioFile.fileName, location: `${scheme}://${report.bucket}/${report.audioFile.key}`, sizeBytes: report.audioFile.sizeBytes, sha256: report.audioFile.sha256, contentType: report.audioFile.contentType },
    thumbnail: report.thumbnail && { fileName: report.thumbnail.fileName, location: `${scheme}://${report.bucket}/${report.thumbnail.key}`, sizeBytes: report.thumbnail.sizeBytes, sha256: report.thumbnail.sha256, contentType: report.thumbnail.contentType },
  };
}

/** A recording that ended RECORDER_LOST whose restarted recorder may still upload what was captured. */
export function awaitingSalvage(status: RecordingStatus | undefined): boolean {
  return status?.phase === 'ERRORED' && status.error?.code === 'RECORDER_LOST' && !status.output?.location;
}

/**
 * The final report a recorder that has finished serves live, before its container ends: the same report
 * as its termination message, which a kubelet publishes only at its next relist (up to a second or two
 * later). The termination message stays the durable record, for when nobody asked in time. A salvage
 * run's report waits for the termination message (the crash must be seen first).
 */
function liveReport(live: RecorderStatus | undefined): FinalReport | undefined {
  if (!live || (live.phase !== 'UPLOADED' && live.phase !== 'FAILED') || !live.report) return undefined;
  const parsed = finalReportSchema.safeParse(live.report);
  return parsed.success && !parsed.data.salvaged ? parsed.data : undefined;
}

export function parseReport(message: string | undefined): FinalReport | undefined {
  if (!message) return undefined;
  try {
    const parsed = finalReportSchema.safeParse(JSON.parse(message));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export interface Observation {
  now: Date;
  pod?: V1Pod;
  /** The Pod was seen before (status.podName) and is now gone. */
  podGone: boolean;
  live?: RecorderStatus;
  bucket?: string;
}

function withConditions(status: RecordingStatus, generation: number | undefined, now: Date): RecordingStatus {
  const phase = status.phase!;
  let conditions: Condition[] = status.conditions ?? [];
  const terminal = isTerminal(phase);
  conditions = setCondition(conditions, { type: 'Ready', status: phase === 'UPLOADED' ? 'True' : 'False', reason: phase === 'UPLOADED' ? 'Uploaded' : phase === 'ERRORED' ? status.error?.code ?? 'Errored' : 'InProgress', message: phase === 'ERRORED' ? status.error?.message ?? '' : `phase ${phase}`, observedGeneration: generation }, now);
  conditions = setCondition(conditions, { type: 'Reconciling', status: terminal ? 'False' : 'True', reason: terminal ? 'Finished' : phase, message: terminal ? 'the recording has ended' : `the recording is ${phase.toLowerCase()}`, observedGeneration: generation }, now);
  conditions = setCondition(conditions, { type: 'Stalled', status: phase === 'ERRORED' ? 'True' : 'False', reason: phase === 'ERRORED' ? status.error?.code ?? 'Errored' : 'NotStalled', message: phase === 'ERRORED' ? status.error?.message ?? '' : '', observedGeneration: generation }, now);
  return { ...status, conditions, observedGeneration: generation };
}

/** ERRORED with a reason, keeping what was known. */
export function errored(recording: Recording, code: string, message: string, now: Date, stopReason?: RecordingStatus['stopReason']): RecordingStatus {
  const previous = recording.status ?? {};
  return withConditions(
    { ...previous, phase: 'ERRORED', invokedTime: previous.invokedTime ?? now.toISOString(), stoppedTime: previous.stoppedTime ?? now.toISOString(), error: { code, message }, stopReason: stopReason ?? previous.stopReason },
    recording.metadata?.generation,
    now,
  );
}

/**
 * Annotations kept by the recording-callers admission policy (config/admission): the Kubernetes user who
 * created the Recording and the one who last changed spec.state. Users cannot forge them.
 */
export const callerAnnotations = { requestedBy: 'recording.dev/requested-by', stateChangedBy: 'recording.dev/state-changed-by' } as const;

/**
 * Annotations the call-events receiver (auto-on) puts on the Recordings it creates and stops: the call
 * session that started it (startReason RECORD_ON_START) and that the session ended (stopReason CALL_ENDED).
 */
export const callSessionAnnotations = { session: 'recording.dev/call-session', ended: 'recording.dev/call-session-ended' } as const;

/**
 * startReason (RECORD_ON_START for a Recording made by the call-events receiver) and its caller, and
 * stopReason.caller for a stop through spec.state, from the annotations.
 */
function withCallers(recording: Recording, status: RecordingStatus): RecordingStatus {
  const annotations = recording.metadata?.annotations ?? {};
  const requestedBy = annotations[callerAnnotations.requestedBy];
  const stoppedBy = annotations[callerAnnotations.stateChangedBy];
  const next = { ...status };
  if (next.startReason?.type === 'API_CALL' && annotations[callSessionAnnotations.session]) next.startReason = { type: 'RECORD_ON_START' };
  if (next.startReason && !next.startReason.caller && requestedBy) next.startReason = { ...next.startReason, caller: requestedBy };
  const stoppedThroughState = next.stopReason?.type === 'API_CALL' && recording.spec.state === 'Stopped';
  if (stoppedThroughState && annotations[callSessionAnnotations.ended]) next.stopReason = { ...next.stopReason, type: 'CALL_ENDED' };
  if (stoppedThroughState && !next.stopReason!.caller && stoppedBy) next.stopReason = { ...next.stopReason, caller: stoppedBy };
  return next;
}

export function observedStatus(recording: Recording, obs: Observation): RecordingStatus {
  return withCallers(recording, observe(recording, obs));
}

function observe(recording: Recording, obs: Observation): RecordingStatus {
  const previous: RecordingStatus = recording.status ?? {};
  const { now } = obs;
  const base: RecordingStatus = {
    ...previous,
    invokedTime: previous.invokedTime ?? now.toISOString(),
    startReason: previous.startReason ?? { type: 'API_CALL' },
    podName: obs.pod?.metadata?.name ?? previous.podName,
  };
  if (isTerminal(previous.phase)) {
    // What a restarted recorder salvaged after a crash: the recording stays ERRORED (it did not end as
    // asked), but the file is there, with its location, checksum and download URL.
    const salvage = awaitingSalvage(previous) ? parseReport(recorderTermination(obs.pod)?.message) : undefined;
    if (salvage?.salvaged && salvage.result === 'UPLOADED' && salvage.file) {
      const salvaged: RecordingStatus = {
        ...base,
        startedTime: salvage.startedTime ?? base.startedTime,
        recordingDurationSeconds: Math.round(salvage.durationSeconds ?? 0),
        output: outputOf(salvage, previous.output),
        error: { code: 'RECORDER_LOST', message: `${previous.error!.message}; the ${Math.round(salvage.durationSeconds ?? 0)} s it had captured were uploaded` },
      };
      return withConditions(salvaged, recording.metadata?.generation, now);
    }
    if (salvage?.salvaged && salvage.result === 'FAILED' && !previous.error?.message?.includes('could not be uploaded')) {
      const failed: RecordingStatus = { ...base, error: { code: 'RECORDER_LOST', message: `${previous.error!.message}; what it had captured could not be uploaded: ${salvage.error?.message ?? 'no reason given'}` } };
      return withConditions(failed, recording.metadata?.generation, now);
    }
    return withConditions(base, recording.metadata?.generation, now);
  }

  const termination = recorderTermination(obs.pod);
  const crash = recorderCrash(obs.pod);
  const finished = termination ? undefined : liveReport(obs.live);
  if (termination || finished) {
    const report = termination ? parseReport(termination.message) : finished;
    if (report?.salvaged) {
      // The restarted recorder finished its salvage before any operator saw the crash (the leader was
      // down meanwhile): the recording is lost all the same, with what was salvaged added.
      const lost = errored({ ...recording, status: base }, 'RECORDER_LOST', `the recorder ended with ${crash ? describeEnd(crash) : 'a crash'} before reporting a result`, now, { type: 'RECORDER_LOST' });
      return observe({ ...recording, status: lost }, obs);
    }
    if (report?.result === 'UPLOADED' && report.file) {
      return withConditions(
        { ...base, phase: 'UPLOADED', startedTime: report.startedTime ?? base.startedTime, stoppedTime: report.stoppedTime ?? now.toISOString(), recordingDurationSeconds: Math.round(report.durationSeconds ?? 0), stopReason: { ...previous.stopReason, type: report.stopReason ?? 'API_CALL' }, output: outputOf(report, previous.output), error: undefined },
        recording.metadata?.generation,
        now,
      );
    }
    if (report) {
      return withConditions(
        { ...base, phase: 'ERRORED', startedTime: report.startedTime ?? base.startedTime, stoppedTime: report.stoppedTime ?? now.toISOString(), recordingDurationSeconds: Math.round(report.durationSeconds ?? base.recordingDurationSeconds ?? 0), stopReason: { ...previous.stopReason, type: report.stopReason ?? 'INTERNAL_ERROR' }, error: report.error ?? { code: 'INTERNAL_ERROR', message: 'the recorder failed without saying why' } },
        recording.metadata?.generation,
        now,
      );
    }
    return errored({ ...recording, status: base }, 'RECORDER_LOST', `the recorder ended with ${describeEnd(termination!)} before reporting a result`, now, { type: 'RECORDER_LOST' });
  }
  // Crashed and restarted (restartPolicy OnFailure): ERRORED now; the restarted recorder uploads what
  // the crashed one captured, and that is added to the status when it reports.
  if (crash) return errored({ ...recording, status: base }, 'RECORDER_LOST', `the recorder ended with ${describeEnd(crash)} before reporting a result`, now, { type: 'RECORDER_LOST' });
  if (obs.podGone) return errored({ ...recording, status: base }, 'RECORDER_LOST', `the recorder Pod ${previous.podName} disappeared (deleted, evicted or its node was lost)`, now, { type: 'RECORDER_LOST' });
  if (obs.pod?.status?.phase === 'Failed' || obs.pod?.status?.phase === 'Succeeded') {
    return errored({ ...recording, status: base }, 'RECORDER_LOST', `the recorder Pod ended (${obs.pod.status.phase}: ${obs.pod.status.reason ?? obs.pod.status.message ?? 'no reason given'})`, now, { type: 'RECORDER_LOST' });
  }

  const live = obs.live;
  const phaseFromRecorder: Record<RecorderStatus['phase'], Phase> = { STARTING: 'INVOKED', RECORDING: 'RECORDING', PAUSED: 'PAUSED', STOPPING: 'UPLOADING', UPLOADING: 'UPLOADING', UPLOADED: 'UPLOADING', FAILED: 'UPLOADING' };
  const phase: Phase = live ? phaseFromRecorder[live.phase] : previous.phase ?? 'INVOKED';
  return withConditions(
    {
      ...base,
      phase,
      startedTime: live?.startedTime ?? base.startedTime,
      stoppedTime: live?.stoppedTime ?? base.stoppedTime,
      recordingDurationSeconds: live ? Math.floor(live.durationSeconds) : base.recordingDurationSeconds,
      stopReason: live?.stopReason ? { ...previous.stopReason, type: live.stopReason } : previous.stopReason,
    },
    recording.metadata?.generation,
    now,
  );
}
