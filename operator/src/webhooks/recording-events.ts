// Which webhook events a Recording's status change produces, and their bodies. Pure.
//
// One event per phase transition, named after the milestone it marks (Stream's and 100ms's style), and
// every body carries the phase reached (RealtimeKit's status updates):
//   → INVOKED                       recording.status_updated
//   → RECORDING or PAUSED, first    recording.started
//   → PAUSED / RECORDING afterwards recording.status_updated
//   → UPLOADING                     recording.stopped
//   → UPLOADED                      recording.ready (with the signed download URL)
//   → ERRORED                       recording.failed
//   ERRORED, then a salvaged file   recording.ready (salvaged: true)
// The operator polls, so it may see RECORDING → UPLOADED without UPLOADING in between (a short upload),
// or write its first status only at RECORDING (its write of INVOKED lost a race). The milestones a
// receiver waits for are then filled in, in order, each reporting its own phase, so every receiver
// sees the same sequence however fast the recording went.
import type { CallType, PendingWebhookEvent, Recording, RecordingStatus, StoredFile } from '@recording-operator/common/api/generated/types.ts';

export type RecordingEventType = PendingWebhookEvent['type'];

const active = (phase: RecordingStatus['phase']) => phase === 'RECORDING' || phase === 'PAUSED';
const captureStarted = (phase: RecordingStatus['phase']) => phase !== undefined && phase !== 'INVOKED';

type Phase = NonNullable<RecordingStatus['phase']>;

/** One event to send: its type and the phase it reports (a filled-in milestone reports its own phase). */
export interface EventMilestone {
  type: RecordingEventType;
  phase: Phase;
}

/** The events a status change produces, in the order receivers get them. */
export function milestonesFor(previous: RecordingStatus, next: RecordingStatus): EventMilestone[] {
  const from = previous.phase;
  const to = next.phase;
  if (!to) return [];
  if (from === to) {
    const salvaged = to === 'ERRORED' && !previous.output?.location && Boolean(next.output?.location);
    return salvaged ? [{ type: 'recording.ready', phase: to }] : [];
  }
  const milestones: EventMilestone[] = [];
  // A first write that is already past INVOKED (an earlier write of INVOKED lost a race) still announces it.
  if (from === undefined && to !== 'INVOKED' && to !== 'ERRORED') milestones.push({ type: 'recording.status_updated', phase: 'INVOKED' });
  const started = captureStarted(from);
  switch (to) {
    case 'INVOKED':
      milestones.push({ type: 'recording.status_updated', phase: to });
      break;
    case 'RECORDING':
    case 'PAUSED':
      milestones.push({ type: started ? 'recording.status_updated' : 'recording.started', phase: to });
      break;
    case 'UPLOADING':
      if (!started) milestones.push({ type: 'recording.started', phase: 'RECORDING' });
      milestones.push({ type: 'recording.stopped', phase: to });
      break;
    case 'UPLOADED':
      if (!started) milestones.push({ type: 'recording.started', phase: 'RECORDING' });
      if (from !== 'UPLOADING') milestones.push({ type: 'recording.stopped', phase: 'UPLOADING' });
      milestones.push({ type: 'recording.ready', phase: to });
      break;
    case 'ERRORED':
      milestones.push({ type: 'recording.failed', phase: to });
      if (next.output?.location) milestones.push({ type: 'recording.ready', phase: to });
      break;
  }
  return milestones;
}

/** The CallType endpoints that want an event of this type (every endpoint without an events filter). */
export function endpointsFor(callType: CallType | undefined, type: RecordingEventType): string[] {
  return (callType?.spec.webhooks ?? []).filter((w) => !w.events || w.events.includes(type)).map((w) => w.name);
}

export const eventId = (recording: Recording, seq: number) => `${recording.metadata!.uid}.${seq}`;

function file(f: StoredFile | undefined) {
  return f && { filename: f.fileName, location: f.location, url: f.downloadUrl, url_expires_at: f.downloadUrlExpiry, size_bytes: f.sizeBytes, sha256: f.sha256, content_type: f.contentType };
}

/**
 * The JSON body of one event: Stream's shape (type, created_at, call_cid, a recording object with
 * filename, url, start and end time) plus what our status knows (phase, size, sha256, reasons, error).
 */
export function eventBody(recording: Recording, status: RecordingStatus, { type, phase }: EventMilestone, id: string, time: Date): string {
  const { callType, callId } = recording.spec;
  const output = status.output;
  const body = {
    id,
    type,
    created_at: time.toISOString(),
    call_cid: callId ? `${callType}:${callId}` : undefined,
    call_type: callType,
    call_id: callId,
    recording: {
      namespace: recording.metadata?.namespace,
      name: recording.metadata?.name,
      uid: recording.metadata?.uid,
      status: phase,
      start_time: status.startedTime,
      end_time: status.stoppedTime,
      duration_seconds: status.recordingDurationSeconds,
      start_reason: status.startReason?.type,
      started_by: status.startReason?.caller,
      stop_reason: active(phase) || phase === 'INVOKED' ? undefined : status.stopReason?.type,
      stopped_by: status.stopReason?.caller,
      error: phase === 'ERRORED' ? status.error : undefined,
      ...(type === 'recording.ready' && output
        ? {
            ...file(output),
            media_duration_seconds: output.durationSeconds,
            width: output.width,
            height: output.height,
            audio_file: file(output.audioFile),
            thumbnail: file(output.thumbnail),
            salvaged: phase === 'ERRORED',
          }
        : {}),
    },
  };
  return JSON.stringify(body);
}

/** The pending events for a status change, numbered after the ones already generated; none without endpoints. */
export function pendingEventsFor(recording: Recording, callType: CallType | undefined, previous: RecordingStatus, next: RecordingStatus, now: Date): PendingWebhookEvent[] {
  let seq = previous.eventsGenerated ?? 0;
  const events: PendingWebhookEvent[] = [];
  for (const milestone of milestonesFor(previous, next)) {
    const endpoints = endpointsFor(callType, milestone.type);
    if (endpoints.length === 0) continue;
    seq++;
    const id = eventId(recording, seq);
    events.push({ id, seq, type: milestone.type, time: now.toISOString(), endpoints, body: eventBody(recording, next, milestone, id, now) });
  }
  return events;
}

/** The most events status.events holds (the CRD's maxItems). */
export const outboxLimit = 100;

/**
 * The outbox with new events appended, within its limit. It overflows only when an endpoint has been
 * failing through many pauses and resumes: the oldest status updates go first, never a started,
 * stopped, ready or failed event. `dropped` says how many went, for the caller to report.
 */
export function appendToOutbox(outbox: readonly PendingWebhookEvent[], appended: readonly PendingWebhookEvent[]): { events: PendingWebhookEvent[]; dropped: number } {
  const events = [...outbox, ...appended];
  let dropped = 0;
  while (events.length > outboxLimit) {
    const i = events.findIndex((e) => e.type === 'recording.status_updated');
    events.splice(i === -1 ? 0 : i, 1);
    dropped++;
  }
  return { events, dropped };
}
