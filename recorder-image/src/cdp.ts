// The Chrome DevTools Protocol over Chromium's --remote-debugging-pipe: the browser reads commands on
// its fd 3 and writes answers and events on its fd 4, each message one JSON text ended by a NUL byte.
// The recorder needs a handful of commands (find the tab, navigate, evaluate, listen to the console), so
// this small client stands in for a browser-automation library, which cost the recorder's Node process
// 35 MiB of PSS and 340 ms of loading.
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';

/** An error the browser answered a command with, or the end of the connection. */
export class CdpError extends Error {}

export interface CdpEvents {
  /** A protocol event; sessionId names the attached target it came from (none for the browser's own). */
  event: [method: string, params: Record<string, unknown>, sessionId: string | undefined];
  /** The pipe closed: the browser exited. */
  closed: [];
}

interface Pending {
  method: string;
  resolve: (result: never) => void;
  reject: (err: Error) => void;
}

export class CdpConnection extends EventEmitter<CdpEvents> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffered: Buffer[] = [];
  private closedBecause: string | undefined;
  private readonly toBrowser: Writable;

  constructor(toBrowser: Writable, fromBrowser: Readable) {
    super();
    this.toBrowser = toBrowser;
    fromBrowser.on('data', (chunk: Buffer) => this.receive(chunk));
    fromBrowser.on('close', () => this.closeWith('the browser closed its DevTools pipe'));
    fromBrowser.on('error', (err) => this.closeWith(`the DevTools pipe failed: ${err.message}`));
    // Writing to a browser that just exited fails with EPIPE; the pending commands learn of it from 'close'.
    toBrowser.on('error', () => undefined);
  }

  get closed(): boolean {
    return this.closedBecause !== undefined;
  }

  /** Sends a command (to an attached target when sessionId is given) and resolves with its result. */
  send<T = Record<string, unknown>>(method: string, params: object = {}, sessionId?: string): Promise<T> {
    if (this.closedBecause) return Promise.reject(new CdpError(`${method}: ${this.closedBecause}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { method, resolve, reject });
      this.toBrowser.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  }

  /** Ends the connection from this side: pending commands fail with `reason`. */
  closeWith(reason: string): void {
    if (this.closedBecause) return;
    this.closedBecause = reason;
    for (const { method, reject } of this.pending.values()) reject(new CdpError(`${method}: ${reason}`));
    this.pending.clear();
    this.toBrowser.destroy();
    this.emit('closed');
  }

  private receive(chunk: Buffer): void {
    let start = 0;
    for (let end = chunk.indexOf(0); end !== -1; end = chunk.indexOf(0, start)) {
      this.buffered.push(chunk.subarray(start, end));
      const text = Buffer.concat(this.buffered).toString('utf8');
      this.buffered = [];
      start = end + 1;
      this.dispatch(JSON.parse(text) as Message);
    }
    if (start < chunk.length) this.buffered.push(chunk.subarray(start));
  }

  private dispatch(message: Message): void {
    if (message.id === undefined) {
      this.emit('event', message.method!, message.params ?? {}, message.sessionId);
      return;
    }
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    if (message.error) pending.reject(new CdpError(`${pending.method}: ${message.error.message}`));
    else pending.resolve(message.result as never);
  }
}

interface Message {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  sessionId?: string;
  result?: unknown;
  error?: { code: number; message: string };
}
