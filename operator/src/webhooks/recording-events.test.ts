import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CallType, PendingWebhookEvent, Recording, RecordingStatus } from '@recording-operator/common/api/generated/types.ts';
import { appendToOutbox, endpointsFor, milestonesFor, outboxLimit, pendingEventsFor } from './recording-events.ts';

const eventTypesFor = (previous: RecordingStatus, next: RecordingStatus) => milestonesFor(previous, next).map((m) => m.type);

const at = (phase: RecordingStatus['phase'], extra: RecordingStatus = {}): RecordingStatus => ({ phase, ...extra });

test('one event per transition, named after its milestone', () => {
  assert.deepEqual(eventTypesFor({}, at('INVOKED')), ['recording.status_updated']);
  assert.deepEqual(eventTypesFor(at('INVOKED'), at('RECORDING')), ['recording.started']);
  assert.deepEqual(eventTypesFor(at('RECORDING'), at('PAUSED')), ['recording.status_updated']);
  assert.deepEqual(eventTypesFor(at('PAUSED'), at('RECORDING')), ['recording.status_updated']);
  assert.deepEqual(eventTypesFor(at('RECORDING'), at('UPLOADING')), ['recording.stopped']);
  assert.deepEqual(eventTypesFor(at('UPLOADING'), at('UPLOADED')), ['recording.ready']);
  assert.deepEqual(eventTypesFor(at('RECORDING'), at('ERRORED')), ['recording.failed']);
  assert.deepEqual(eventTypesFor({}, at('ERRORED')), ['recording.failed']);
  assert.deepEqual(eventTypesFor(at('RECORDING'), at('RECORDING', { recordingDurationSeconds: 10 })), []);
});

test('milestones the operator did not see are filled in, in order', () => {
  assert.deepEqual(eventTypesFor(at('RECORDING'), at('UPLOADED')), ['recording.stopped', 'recording.ready']);
  assert.deepEqual(eventTypesFor(at('INVOKED'), at('UPLOADED')), ['recording.started', 'recording.stopped', 'recording.ready']);
  assert.deepEqual(eventTypesFor(at('INVOKED'), at('UPLOADING')), ['recording.started', 'recording.stopped']);
  assert.deepEqual(eventTypesFor(at('INVOKED'), at('PAUSED')), ['recording.started']);
  // The first status write already past INVOKED still announces it; a refusal does not.
  assert.deepEqual(milestonesFor({}, at('RECORDING')), [{ type: 'recording.status_updated', phase: 'INVOKED' }, { type: 'recording.started', phase: 'RECORDING' }]);
  assert.deepEqual(milestonesFor(at('RECORDING'), at('UPLOADED')), [{ type: 'recording.stopped', phase: 'UPLOADING' }, { type: 'recording.ready', phase: 'UPLOADED' }]);
});

test('a file salvaged after ERRORED is ready too', () => {
  const output = { location: 's3://b/k.mp4', fileName: 'k.mp4' };
  assert.deepEqual(eventTypesFor(at('ERRORED'), at('ERRORED', { output })), ['recording.ready']);
  assert.deepEqual(eventTypesFor(at('ERRORED', { output }), at('ERRORED', { output })), []);
  assert.deepEqual(eventTypesFor(at('RECORDING'), at('ERRORED', { output })), ['recording.failed', 'recording.ready']);
});

const callType = { metadata: { name: 'ct' }, spec: { webhooks: [{ name: 'all', url: 'http://a', secretRef: { name: 's' } }, { name: 'ready-only', url: 'http://b', secretRef: { name: 's' }, events: ['recording.ready'] }] } } as unknown as CallType;
const recording = { metadata: { name: 'standup', namespace: 'team', uid: 'u-1' }, spec: { callType: 'ct', callId: 'abc' } } as Recording;

test('endpoint filters', () => {
  assert.deepEqual(endpointsFor(callType, 'recording.started'), ['all']);
  assert.deepEqual(endpointsFor(callType, 'recording.ready'), ['all', 'ready-only']);
  assert.deepEqual(endpointsFor(undefined, 'recording.ready'), []);
});

test('pending events: numbered after the last, stable ids, Stream-shaped bodies', () => {
  const previous = at('UPLOADING', { eventsGenerated: 3 });
  const next = at('UPLOADED', { startedTime: '2026-11-30T10:00:00Z', stoppedTime: '2026-11-30T10:01:00Z', recordingDurationSeconds: 60, stopReason: { type: 'API_CALL', caller: 'alice' }, output: { fileName: 'standup.mp4', location: 's3://b/standup.mp4', downloadUrl: 'http://minio/x?sig', sizeBytes: 1000, sha256: 'ab', contentType: 'video/mp4' } });
  const [event, ...rest] = pendingEventsFor(recording, callType, previous, next, new Date('2026-11-30T10:01:01Z'));
  assert.equal(rest.length, 0);
  assert.equal(event!.seq, 4);
  assert.equal(event!.id, 'u-1.4');
  assert.deepEqual(event!.endpoints, ['all', 'ready-only']);
  const body = JSON.parse(event!.body) as Record<string, unknown> & { recording: Record<string, unknown> };
  assert.equal(body.type, 'recording.ready');
  assert.equal(body.id, 'u-1.4');
  assert.equal(body.call_cid, 'ct:abc');
  assert.equal(body.created_at, '2026-11-30T10:01:01.000Z');
  assert.equal(body.recording.status, 'UPLOADED');
  assert.equal(body.recording.filename, 'standup.mp4');
  assert.equal(body.recording.url, 'http://minio/x?sig');
  assert.equal(body.recording.sha256, 'ab');
  assert.equal(body.recording.stop_reason, 'API_CALL');
  assert.equal(body.recording.stopped_by, 'alice');
  assert.equal(body.recording.duration_seconds, 60);
  // Nothing for a CallType without webhooks, and the numbering does not move.
  assert.deepEqual(pendingEventsFor(recording, undefined, previous, next, new Date()), []);
});

test('an event no endpoint wants is not numbered', () => {
  const readyOnly = { ...callType, spec: { webhooks: [callType.spec.webhooks![1]!] } } as CallType;
  assert.deepEqual(pendingEventsFor(recording, readyOnly, at('INVOKED'), at('RECORDING'), new Date()), []);
  const events = pendingEventsFor(recording, readyOnly, at('RECORDING', { eventsGenerated: 0 }), at('UPLOADED', { output: { location: 's3://b/k' } }), new Date());
  assert.deepEqual(events.map((e) => [e.seq, e.type]), [[1, 'recording.ready']]);
});

test('a full outbox drops the oldest status updates first, never a milestone', () => {
  const event = (seq: number, type: PendingWebhookEvent['type']): PendingWebhookEvent => ({ id: `u.${seq}`, seq, type, time: '', endpoints: ['app'], body: '{}' });
  const outbox = [event(1, 'recording.status_updated'), event(2, 'recording.started'), ...Array.from({ length: outboxLimit - 2 }, (_, i) => event(i + 3, 'recording.status_updated'))];
  const { events, dropped } = appendToOutbox(outbox, [event(outboxLimit + 1, 'recording.stopped'), event(outboxLimit + 2, 'recording.ready')]);
  assert.equal(dropped, 2);
  assert.equal(events.length, outboxLimit);
  assert.deepEqual(events.slice(0, 2).map((e) => e.seq), [2, 4], 'status updates 1 and 3 went; started stayed');
  assert.deepEqual(events.slice(-2).map((e) => e.type), ['recording.stopped', 'recording.ready']);
  assert.deepEqual(appendToOutbox([], [event(1, 'recording.started')]), { events: [event(1, 'recording.started')], dropped: 0 });
});
