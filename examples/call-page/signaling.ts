// Mailboxes for the demo call page's WebRTC offers and answers (media=remote): participants who send
// from elsewhere and the call page a recorder opens exchange one complete SDP each way per
// participant. POST /signal/<call>/<box> leaves a message; GET /signal/<call>/<box> takes the oldest,
// waiting up to 25 s for one (204 when none came: the page asks again). Loopback only, demo only.
import type { IncomingMessage, ServerResponse } from 'node:http';

const pollMs = 25_000;
const maxMessageBytes = 64 * 1024;

interface Mailbox {
  messages: string[];
  waiting: ServerResponse[];
}

export class SignalingMailboxes {
  private readonly boxes = new Map<string, Mailbox>();

  /** Answers a /signal/… request; false when the path is not one. */
  handle(path: string, req: IncomingMessage, res: ServerResponse): boolean {
    const match = /^\/signal\/([\w.-]{1,100})\/([\w.-]{1,100})$/.exec(path);
    if (!match) return false;
    const box = this.box(`${match[1]}/${match[2]}`);
    if (req.method === 'POST') this.leave(box, req, res);
    else if (req.method === 'GET') this.take(box, res);
    else res.writeHead(405, { allow: 'GET, POST' }).end();
    return true;
  }

  /** Ends every waiting request (the server is closing). */
  close(): void {
    for (const box of this.boxes.values()) for (const res of box.waiting.splice(0)) res.writeHead(204).end();
  }

  private box(key: string): Mailbox {
    let box = this.boxes.get(key);
    if (!box) this.boxes.set(key, (box = { messages: [], waiting: [] }));
    return box;
  }

  private leave(box: Mailbox, req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxMessageBytes) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > maxMessageBytes) {
        res.writeHead(413).end(`a message is at most ${maxMessageBytes} bytes`);
        return;
      }
      const message = Buffer.concat(chunks).toString('utf8');
      const waiter = box.waiting.shift();
      if (waiter) waiter.writeHead(200, { 'content-type': 'application/json' }).end(message);
      else box.messages.push(message);
      res.writeHead(204).end();
    });
  }

  private take(box: Mailbox, res: ServerResponse): void {
    const message = box.messages.shift();
    if (message !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(message);
      return;
    }
    box.waiting.push(res);
    const timer = setTimeout(() => {
      box.waiting = box.waiting.filter((r) => r !== res);
      res.writeHead(204).end();
    }, pollMs);
    res.on('close', () => {
      clearTimeout(timer);
      box.waiting = box.waiting.filter((r) => r !== res);
    });
  }
}
