import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CallType, Recording } from '@recording-operator/common/api/generated/types.ts';
import { countByPhase, oldestWaitSeconds, storageReachability } from './cache-gauges.ts';

const now = Date.parse('2026-12-01T12:00:00Z');
const recording = (name: string, created: string, status?: Recording['status'], deleting = false) =>
  ({ metadata: { name, creationTimestamp: created, ...(deleting ? { deletionTimestamp: created } : {}) }, spec: { callType: 't', callId: name }, status }) as unknown as Recording;

test('counts Recordings by phase, PENDING for those without status', () => {
  assert.deepEqual(countByPhase([
    recording('a', '2026-12-01T11:00:00Z'),
    recording('b', '2026-12-01T11:00:00Z', { phase: 'RECORDING' }),
    recording('c', '2026-12-01T11:00:00Z', { phase: 'RECORDING' }),
  ]), { PENDING: 1, RECORDING: 2 });
});

test('the oldest wait is measured from when each brief phase began; long and final phases do not count', () => {
  const waits = oldestWaitSeconds([
    recording('new', '2026-12-01T11:59:30Z'),
    recording('older', '2026-12-01T11:58:00Z'),
    recording('invoked', '2026-12-01T11:00:00Z', { phase: 'INVOKED', invokedTime: '2026-12-01T11:55:00Z' }),
    recording('uploading', '2026-12-01T10:00:00Z', { phase: 'UPLOADING', stoppedTime: '2026-12-01T11:59:50Z' }),
    recording('recording', '2026-12-01T00:00:00Z', { phase: 'RECORDING', startedTime: '2026-12-01T00:00:05Z' }),
    recording('done', '2026-12-01T00:00:00Z', { phase: 'UPLOADED' }),
    // being deleted: the finalizers hold it, it is not waiting for the recorder
    recording('deleting', '2026-12-01T00:00:00Z', undefined, true),
  ], now);
  assert.deepEqual(waits, { PENDING: 120, INVOKED: 300, UPLOADING: 10 });
});

test('every brief phase is reported, 0 when empty, so an alert sees the series fall back', () => {
  assert.deepEqual(oldestWaitSeconds([], now), { PENDING: 0, INVOKED: 0, UPLOADING: 0 });
});

test('storage reachability per CallType; unchecked CallTypes are left out', () => {
  const callType = (name: string, status?: string) =>
    ({ metadata: { name }, spec: {}, status: status ? { conditions: [{ type: 'StorageReachable', status, reason: 'x', message: '', lastTransitionTime: '2026-12-01T00:00:00Z' }] } : undefined }) as unknown as CallType;
  assert.deepEqual(storageReachability([callType('up', 'True'), callType('down', 'False'), callType('new')]), { up: 1, down: 0 });
});
