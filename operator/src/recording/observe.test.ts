import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import type { Recording } from '@recording-operator/common/api/generated/types.ts';
import { observedStatus, recorderJustStarted } from './observe.ts';

const now = new Date('2026-11-21T12:00:00Z');
const rec = (status?: Recording['status']): Recording => ({ metadata: { name: 'r', namespace: 'n', generation: 3 }, spec: { callType: 'c', callId: 'x' }, status });
const terminated = (exitCode: number, message?: string, signal?: number): V1Pod => ({ status: { phase: exitCode === 0 ? 'Succeeded' : 'Failed', containerStatuses: [{ name: 'recorder', image: 'i', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode, message, signal } } }] } });

test('a new Recording is INVOKED with kstatus conditions', () => {
  const s = observedStatus(rec(), { now, podGone: false });
  assert.equal(s.phase, 'INVOKED');
  assert.equal(s.observedGeneration, 3);
  assert.equal(s.conditions?.find((c) => c.type === 'Reconciling')?.status, 'True');
  assert.equal(s.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
});

test('the termination message makes it UPLOADED with the output', () => {
  const report = { result: 'UPLOADED', bucket: 'b', file: { fileName: 'f.mp4', key: 'k/f.mp4', sizeBytes: 10, sha256: 'aa', contentType: 'video/mp4' }, durationSeconds: 12.4, stopReason: 'MAX_DURATION_REACHED' };
  const s = observedStatus(rec({ phase: 'RECORDING' }), { now, podGone: false, pod: terminated(0, JSON.stringify(report)) });
  assert.equal(s.phase, 'UPLOADED');
  assert.equal(s.output?.location, 's3://b/k/f.mp4');
  assert.equal(s.recordingDurationSeconds, 12);
  assert.equal(s.stopReason?.type, 'MAX_DURATION_REACHED');
  assert.equal(s.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
});

test('a recorder that dies without a report, or a Pod that vanishes, is ERRORED RECORDER_LOST', () => {
  const killed = observedStatus(rec({ phase: 'RECORDING', podName: 'p' }), { now, podGone: false, pod: terminated(137, undefined, 9) });
  assert.equal(killed.phase, 'ERRORED');
  assert.equal(killed.error?.code, 'RECORDER_LOST');
  assert.match(killed.error.message!, /signal 9/);
  const gone = observedStatus(rec({ phase: 'RECORDING', podName: 'p' }), { now, podGone: true });
  assert.equal(gone.error?.code, 'RECORDER_LOST');
  assert.equal(gone.conditions?.find((c) => c.type === 'Stalled')?.status, 'True');
});

test('a terminal status is kept, and condition times move only when a condition flips', () => {
  const first = observedStatus(rec(), { now, podGone: false });
  const later = observedStatus(rec(first), { now: new Date('2026-11-21T12:05:00Z'), podGone: false, live: { phase: 'RECORDING', durationSeconds: 3.7, bytes: 1, framesCaptured: 1, framesDropped: 0 } });
  assert.equal(later.phase, 'RECORDING');
  assert.equal(later.recordingDurationSeconds, 3);
  assert.equal(later.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime, first.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime);
  const done = observedStatus(rec({ phase: 'UPLOADED' }), { now, podGone: true });
  assert.equal(done.phase, 'UPLOADED');
});

test('callers come from the admission policy annotations: the creator starts it, the state changer stops it', () => {
  const recording: Recording = { ...rec({ phase: 'RECORDING', podName: 'p', startReason: { type: 'API_CALL' } }), metadata: { name: 'r', namespace: 'n', annotations: { 'recording.dev/requested-by': 'alice', 'recording.dev/state-changed-by': 'bob' } }, spec: { callType: 'c', callId: 'x', state: 'Stopped' } };
  const s = observedStatus(recording, { now, podGone: false, live: { phase: 'STOPPING', durationSeconds: 3, bytes: 1, framesCaptured: 1, framesDropped: 0, stopReason: 'API_CALL' } });
  assert.equal(s.startReason?.caller, 'alice');
  assert.equal(s.stopReason?.caller, 'bob');
  // A stop the recorder decided on its own has no caller.
  const auto = observedStatus({ ...recording, spec: { ...recording.spec, state: 'Recording' } }, { now, podGone: false, live: { phase: 'STOPPING', durationSeconds: 3, bytes: 1, framesCaptured: 1, framesDropped: 0, stopReason: 'ALL_PEERS_LEFT' } });
  assert.equal(auto.stopReason?.caller, undefined);
});

test('a crashed recorder: ERRORED RECORDER_LOST at once; what its restarted run salvaged is added, the phase stays ERRORED', () => {
  const restarted = (state: object, lastExit = 137): V1Pod => ({ status: { phase: 'Running', containerStatuses: [{ name: 'recorder', image: 'i', imageID: '', ready: false, restartCount: 1, state, lastState: { terminated: { exitCode: lastExit, signal: 9 } } }] } });
  const lost = observedStatus(rec({ phase: 'RECORDING', podName: 'p' }), { now, podGone: false, pod: restarted({ running: {} }) });
  assert.equal(lost.phase, 'ERRORED');
  assert.equal(lost.error?.code, 'RECORDER_LOST');
  assert.match(lost.error.message!, /signal 9/);
  assert.equal(lost.output, undefined);
  const report = { result: 'UPLOADED', salvaged: true, bucket: 'b', file: { fileName: 'f.mp4', key: 'k/f.mp4', sizeBytes: 10, sha256: 'aa', contentType: 'video/mp4' }, durationSeconds: 41.6, stopReason: 'RECORDER_LOST' };
  const salvaged = observedStatus(rec(lost), { now, podGone: false, pod: restarted({ terminated: { exitCode: 0, message: JSON.stringify(report) } }) });
  assert.equal(salvaged.phase, 'ERRORED');
  assert.equal(salvaged.output?.location, 's3://b/k/f.mp4');
  assert.equal(salvaged.recordingDurationSeconds, 42);
  assert.match(salvaged.error!.message!, /the 42 s it had captured were uploaded/);
  // A report that is not a salvage (an ordinary run) never turns an ended recording's status around.
  const ordinary = observedStatus(rec(lost), { now, podGone: false, pod: restarted({ terminated: { exitCode: 0, message: JSON.stringify({ ...report, salvaged: undefined }) } }) });
  assert.equal(ordinary.output, undefined);
  // The salvage ended before any operator saw the crash (no leader meanwhile): lost all the same, with the file.
  const unseen = observedStatus(rec({ phase: 'RECORDING', podName: 'p' }), { now, podGone: false, pod: restarted({ terminated: { exitCode: 0, message: JSON.stringify(report) } }) });
  assert.equal(unseen.phase, 'ERRORED');
  assert.equal(unseen.error?.code, 'RECORDER_LOST');
  assert.match(unseen.error?.message ?? '', /signal 9.*the 42 s it had captured were uploaded/);
  assert.equal(unseen.output?.location, 's3://b/k/f.mp4');
});

test("a finished recorder's live report makes it UPLOADED before its container ends; a salvage's waits for the termination message", () => {
  const running: V1Pod = { status: { phase: 'Running', containerStatuses: [{ name: 'recorder', image: 'i', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] } };
  const report = { result: 'UPLOADED' as const, bucket: 'b', file: { fileName: 'f.mp4', key: 'k/f.mp4', sizeBytes: 10, sha256: 'aa', contentType: 'video/mp4' }, durationSeconds: 7.2, stopReason: 'API_CALL' as const };
  const live = { phase: 'UPLOADED' as const, durationSeconds: 7.2, bytes: 10, framesCaptured: 216, framesDropped: 0, report };
  const done = observedStatus(rec({ phase: 'UPLOADING', podName: 'p' }), { now, podGone: false, pod: running, live });
  assert.equal(done.phase, 'UPLOADED');
  assert.equal(done.output?.location, 's3://b/k/f.mp4');
  const salvage = observedStatus(rec({ phase: 'UPLOADING', podName: 'p' }), { now, podGone: false, pod: running, live: { ...live, report: { ...report, salvaged: true } } });
  assert.equal(salvage.phase, 'UPLOADING');
  // A report that does not parse is not taken.
  const broken = observedStatus(rec({ phase: 'UPLOADING', podName: 'p' }), { now, podGone: false, pod: running, live: { ...live, report: { ...report, file: undefined, result: 'BOGUS' } as never } });
  assert.equal(broken.phase, 'UPLOADING');
});

test('a recorder counts as just started for 30 s after its container started, and not before it runs', () => {
  const running = (startedAt?: string): V1Pod => ({ status: { phase: 'Running', containerStatuses: [{ name: 'recorder', image: 'i', imageID: '', ready: false, restartCount: 0, state: startedAt ? { running: { startedAt: new Date(startedAt) } } : { waiting: { reason: 'ContainerCreating' } } }] } });
  assert.equal(recorderJustStarted(running('2026-11-21T11:59:59Z'), now), true);
  assert.equal(recorderJustStarted(running('2026-11-21T11:59:31Z'), now), true);
  assert.equal(recorderJustStarted(running('2026-11-21T11:59:30Z'), now), false);
  assert.equal(recorderJustStarted(running(), now), false);
  assert.equal(recorderJustStarted(terminated(0), now), false);
});
