// Inbound call events (auto-on): their shape, and the Recording a call session gets. Pure.
// The event names and fields are Stream's (call.session_started, call.session_participant_joined,
// call.session_ended, with call_cid "<call type>:<call id>" and session_id), so a call platform that
// already sends Stream-style webhooks needs only our URL and key.
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const callEventSchema = z.object({
  type: z.enum(['call.session_started', 'call.session_participant_joined', 'call.session_ended']),
  call_cid: z
    .string()
    .max(253 + 1 + 63)
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?:[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/, '"<call type>:<call id>", the call type a CallType name and the call id at most 63 letters, digits, "-", "_" or "."'),
  session_id: z.string().min(1).max(128).regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits, "_", ".", ":" or "-"'),
  created_at: z.string().optional(),
});

export type CallEvent = z.infer<typeof callEventSchema>;

/** What a call event asks for: start for the first two kinds, stop for the last. */
export const callEventAction = (type: CallEvent['type']) => (type === 'call.session_ended' ? 'stop' : 'start');

export function parseCallCid(cid: string): { callType: string; callId: string } {
  const at = cid.indexOf(':');
  return { callType: cid.slice(0, at), callId: cid.slice(at + 1) };
}

/** A parse failure as one sentence that names the field and what is allowed. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}

/**
 * The name of the Recording for one call session: the same for every delivery of the session's events,
 * so retried and repeated events find one Recording (the apiserver refuses a second create), and
 * different for each session of the same call. At most 51 characters: the name is also a label value
 * (recording.dev/recording, at most 63) and the recorder Pod's name adds "-recorder".
 */
export function autoRecordingName(callType: string, callId: string, sessionId: string): string {
  const readable = `${callType}-${callId}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').slice(0, 40).replace(/^-+|-+$/g, '');
  const hash = createHash('sha256').update(`${callType}\n${callId}\n${sessionId}`).digest('hex').slice(0, 10);
  return `${readable || 'call'}-${hash}`;
}
