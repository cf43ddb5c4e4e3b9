// What the leader's caches say, as gauge values read at each scrape: how many Recordings are in each
// phase, how long the oldest one has waited in a phase that should be brief (the "stuck" alert), and
// whether each CallType's storage answers. Pure functions of the cached objects, so they are tested alone.
import type { CallType, Recording } from '@recording-operator/common/api/generated/types.ts';

// Timestamps arrive as RFC 3339 strings (the operator reads raw JSON), though V1ObjectMeta types them as Date.
type Timestamp = string | Date | undefined;

export function countByPhase(recordings: Iterable<Recording>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of recordings) {
    const phase = r.status?.phase ?? 'PENDING';
    counts[phase] = (counts[phase] ?? 0) + 1;
  }
  return counts;
}

/**
 * When a Recording entered the phase it is in, for the phases that last seconds when all is well:
 * PENDING (no status yet) from its creation, INVOKED from invokedTime, UPLOADING from stoppedTime.
 * RECORDING and PAUSED last as long as the call; UPLOADED and ERRORED are final.
 */
function waitingSince(r: Recording): [phase: string, since: Timestamp] | undefined {
  const created: Timestamp = r.metadata?.creationTimestamp;
  switch (r.status?.phase) {
    case undefined: return ['PENDING', created];
    case 'INVOKED': return ['INVOKED', r.status.invokedTime ?? created];
    case 'UPLOADING': return ['UPLOADING', r.status.stoppedTime];
    default: return undefined;
  }
}

/** Seconds the oldest Recording has spent in each brief phase; 0 for a brief phase nobody is in. */
export function oldestWaitSeconds(recordings: Iterable<Recording>, nowMs: number): Record<string, number> {
  const oldest: Record<string, number> = { PENDING: 0, INVOKED: 0, UPLOADING: 0 };
  for (const r of recordings) {
    if (r.metadata?.deletionTimestamp) continue;
    const waiting = waitingSince(r);
    if (!waiting?.[1]) continue;
    const seconds = Math.max(0, (nowMs - new Date(waiting[1]).getTime()) / 1000);
    if (Number.isFinite(seconds)) oldest[waiting[0]] = Math.max(oldest[waiting[0]] ?? 0, seconds);
  }
  return oldest;
}

/** 1 or 0 per CallType whose StorageReachable condition is known; CallTypes not yet checked are left out. */
export function storageReachability(callTypes: Iterable<CallType>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const ct of callTypes) {
    const condition = ct.status?.conditions?.find((c) => c.type === 'StorageReachable');
    if (condition?.status === 'True' || condition?.status === 'False') out[ct.metadata!.name!] = condition.status === 'True' ? 1 : 0;
  }
  return out;
}
