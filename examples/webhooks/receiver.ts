// A webhook receiver for recording events, as an application would write one: it verifies each
// request with the Standard Webhooks reference library (npm: standardwebhooks), rejects what does not
// verify (wrong key, altered body, or a timestamp more than 5 minutes off: a replay), and answers 2xx
// only once the event is handled, so the operator retries until then. Events are deduplicated on
// webhook-id: delivery is at least once.
//
//   WEBHOOK_SECRET=whsec_... PORT=8099 node examples/webhooks/receiver.ts
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import { Webhook } from 'standardwebhooks';

export interface RecordingEvent {
  id: string;
  type: string;
  created_at: string;
  call_cid?: string;
  recording: { namespace: string; name: string; uid: string; status: string; url?: string; filename?: string; sha256?: string; size_bytes?: number; stop_reason?: string; error?: { code: string; message: string } };
}

export interface ReceivedEvent {
  event: RecordingEvent;
  /** The raw body exactly as delivered (retries of one id must be byte-identical). */
  body: string;
  receivedAt: number;
  /** False when this webhook-id was seen before (a redelivery). */
  first: boolean;
}

export async function startWebhookReceiver(options: { secret: string; port?: number; onEvent?: (received: ReceivedEvent) => void }): Promise<Server & { port: number; rejected: number }> {
  const webhook = new Webhook(options.secret);
  const seen = new Set<string>();
  let rejected = 0;
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let event: RecordingEvent;
      try {
        event = webhook.verify(body, req.headers as Record<string, string>) as RecordingEvent;
      } catch (err) {
        rejected++;
        res.writeHead(400).end(`rejected: ${(err as Error).message}`);
        return;
      }
      const id = req.headers['webhook-id'] as string;
      const first = !seen.has(id);
      seen.add(id);
      options.onEvent?.({ event, body, receivedAt: Date.now(), first });
      res.writeHead(204).end();
    });
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return Object.assign(server, {
    port: typeof address === 'object' && address ? address.port : 0,
    get rejected() {
      return rejected;
    },
  });
}

if (import.meta.main) {
  const secret = process.env.WEBHOOK_SECRET;
  if (!secret) {
    console.error('set WEBHOOK_SECRET to the key in the CallType webhook secretRef (whsec_...)');
    process.exit(2);
  }
  const server = await startWebhookReceiver({
    secret,
    port: Number(process.env.PORT ?? 8099),
    onEvent: ({ event, first }) => console.log(`${first ? '' : '(again) '}${event.type} ${event.recording.namespace}/${event.recording.name} ${event.recording.status}${event.recording.url ? ` ${event.recording.url}` : ''}`),
  });
  console.log(`verifying recording events on http://127.0.0.1:${server.port}/`);
}
