// Sends one signed call event to the operator's call-events receiver, as a call platform would when a
// session starts or ends (auto-on). Signed with the Standard Webhooks reference library.
//
//   CALL_EVENTS_SECRET=whsec_... node examples/webhooks/send-call-event.ts \
//     http://127.0.0.1:8082/call-events call.session_started town-hall:weekly-2026-11-30 session-1
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** Signs and POSTs one call event; returns the receiver's status and answer. */
export async function sendCallEvent(url: string, secret: string, event: { type: string; call_cid: string; session_id: string; created_at?: string }, options: { id?: string; timestamp?: Date } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = JSON.stringify({ created_at: new Date().toISOString(), ...event });
  const id = options.id ?? `evt_${randomUUID()}`;
  const timestamp = options.timestamp ?? new Date();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign(id, timestamp, body) },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

if (import.meta.main) {
  const [url, type, callCid, sessionId] = process.argv.slice(2);
  const secret = process.env.CALL_EVENTS_SECRET;
  if (!url || !type || !callCid || !sessionId || !secret) {
    console.error('usage: CALL_EVENTS_SECRET=whsec_... send-call-event.ts URL TYPE CALL_CID SESSION_ID');
    process.exit(2);
  }
  const answer = await sendCallEvent(url, secret, { type, call_cid: callCid, session_id: sessionId });
  console.log(answer.status, JSON.stringify(answer.body));
  process.exit(answer.status < 300 ? 0 : 1);
}
