// The auto-on receiver: an HTTP endpoint for signed call events. call.session_started (or the first
// call.session_participant_joined) creates the session's Recording in the CallType's autoStart
// namespace; call.session_ended stops it. Served by every operator replica (it only writes through the
// API, and the Recording's name makes each session idempotent), so a Service can balance over them.
// Every refusal is a 4xx with a sentence that says what is wrong, and changes nothing.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { Logger } from 'pino';
import type { CallType, Recording } from '@recording-operator/common/api/generated/types.ts';
import { defaultToleranceSeconds, verify } from '@recording-operator/common/webhooks/signature.ts';
import { callSessionAnnotations } from '../recording/observe.ts';
import { callTypePath, groupVersion, recordingPath } from '../recording-api.ts';
import { KubeApiError, type KubeApi } from '../runtime/kube-api.ts';
import type { ControllerMetrics } from '../runtime/metrics.ts';
import type { SigningKeys } from '../webhooks/signing-keys.ts';
import { autoRecordingName, callEventAction, callEventSchema, describeIssues, parseCallCid, type CallEvent } from './call-event.ts';

export const callEventsPath = '/call-events';
const maxBodyBytes = 64 * 1024;

export interface CallEventReceiverOptions {
  api: KubeApi;
  keys: SigningKeys;
  metrics: ControllerMetrics;
  log: Logger;
  toleranceSeconds?: number;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

class Refusal extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export class CallEventReceiver {
  private readonly o: CallEventReceiverOptions;

  constructor(options: CallEventReceiverOptions) {
    this.o = options;
  }

  /** Handles one request body with its headers; never throws. */
  async handle(headers: IncomingMessage['headers'], raw: string): Promise<Answer> {
    let type = 'unknown';
    try {
      const event = parseEvent(raw);
      type = event.type;
      const { callType: callTypeName, callId } = parseCallCid(event.call_cid);
      const callType = await this.o.api.find<CallType>(callTypePath(callTypeName));
      if (!callType) throw new Refusal(404, `CallType ${callTypeName} (from call_cid) does not exist`);
      const autoStart = callType.spec.autoStart;
      if (callType.spec.recording?.mode !== 'auto-on' || !autoStart) {
        throw new Refusal(422, `CallType ${callTypeName} has recording.mode ${callType.spec.recording?.mode ?? 'available'}; call events start recordings only for mode auto-on`);
      }
      const key = await this.o.keys.get(autoStart.secretRef).catch((err: Error) => {
        throw new Refusal(500, `cannot verify: ${err.message}`);
      });
      const verified = verify(key, headers, raw, { toleranceSeconds: this.o.toleranceSeconds ?? defaultToleranceSeconds });
      if (!verified.ok) throw new Refusal(401, verified.reason);
      const answer = callEventAction(event.type) === 'start' ? await this.start(callType, autoStart.namespace, callId, event) : await this.stop(callType, autoStart.namespace, callId, event);
      this.o.metrics.callEvents.inc({ type, result: String(answer.body.result) });
      this.o.log.info({ type, callCid: event.call_cid, session: event.session_id, eventId: verified.id, ...answer.body }, 'call event handled');
      return answer;
    } catch (err) {
      const status = err instanceof Refusal ? err.status : 500;
      const message = err instanceof Refusal ? err.message : `could not handle the event: ${(err as Error).message}`;
      this.o.metrics.callEvents.inc({ type, result: 'rejected' });
      this.o.log.warn({ type, status, err: message }, 'call event rejected');
      return { status, body: { error: message } };
    }
  }

  private async start(callType: CallType, namespace: string, callId: string, event: CallEvent): Promise<Answer> {
    const name = autoRecordingName(callType.metadata!.name!, callId, event.session_id);
    const recording: Recording = {
      apiVersion: groupVersion,
      kind: 'Recording',
      metadata: { name, namespace, annotations: { [callSessionAnnotations.session]: event.session_id } },
      spec: { callType: callType.metadata!.name!, callId },
    };
    try {
      await this.o.api.create(recordingPath(namespace), recording);
      return { status: 201, body: { result: 'created', recording: `${namespace}/${name}` } };
    } catch (err) {
      // The session's Recording exists: this is a repeated or retried event, or a later participant.
      if (err instanceof KubeApiError && err.code === 409) return { status: 200, body: { result: 'exists', recording: `${namespace}/${name}` } };
      throw err;
    }
  }

  private async stop(callType: CallType, namespace: string, callId: string, event: CallEvent): Promise<Answer> {
    const name = autoRecordingName(callType.metadata!.name!, callId, event.session_id);
    const path = recordingPath(namespace, name);
    const existing = await this.o.api.find<Recording>(path);
    if (!existing) return { status: 200, body: { result: 'ignored', reason: `no Recording for call session ${event.session_id} (it was never started, or was deleted)` } };
    if (existing.spec.state === 'Stopped') return { status: 200, body: { result: 'stopped', recording: `${namespace}/${name}` } };
    await this.o.api.mergePatch(path, { metadata: { annotations: { [callSessionAnnotations.ended]: event.created_at ?? new Date().toISOString() } }, spec: { state: 'Stopped' } });
    return { status: 200, body: { result: 'stopped', recording: `${namespace}/${name}` } };
  }
}

function parseEvent(raw: string): CallEvent {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Refusal(400, 'the body is not JSON');
  }
  const parsed = callEventSchema.safeParse(json);
  if (!parsed.success) throw new Refusal(400, describeIssues(parsed.error));
  return parsed.data;
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function reply(res: ServerResponse, answer: Answer): void {
  res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
}

export async function startCallEventServer(receiver: CallEventReceiver, options: { port: number; host?: string }): Promise<Server & { port: number }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== callEventsPath) return reply(res, { status: 404, body: { error: `not found; call events go to POST ${callEventsPath}` } });
    if (req.method !== 'POST') return reply(res, { status: 405, body: { error: `${req.method} is not allowed; POST a signed call event` } });
    void readBody(req).then(async (raw) => {
      if (raw === undefined) return reply(res, { status: 413, body: { error: `the body is larger than ${maxBodyBytes} bytes` } });
      reply(res, await receiver.handle(req.headers, raw));
    }, () => res.destroy());
  });
  server.listen(options.port, options.host ?? '0.0.0.0');
  await once(server, 'listening');
  const address = server.address();
  return Object.assign(server, { port: typeof address === 'object' && address ? address.port : options.port });
}
