// Just enough of the X11 protocol and its RandR extension to give Xvfb's screen a mode of our own.
//
// Why not xrandr: Xvfb frees a mode when the client that created it disconnects, and xrandr cannot
// create a mode and put it on the screen in one run (it looks modes up in the list it read before
// creating any). So one connection does it all: create the mode, add it to the output, set the CRTC to it.
// No library: the X server accepts the recorder's connection without authentication (Xvfb -ac), and
// the seven requests below are all it takes.
import { connect, type Socket } from 'node:net';

export interface ModeTimings {
  name: string;
  width: number;
  height: number;
  pixelClockHz: number;
  /** Pixels a line takes, blanking included (at most 65535). */
  lineTotal: number;
  /** Lines a frame takes, blanking included (at most 65535). */
  frameTotal: number;
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;
const randr = { queryVersion: 0, getScreenResources: 8, createMode: 16, addOutputMode: 18, setCrtcConfig: 21, setOutputPrimary: 30 } as const;
const queryExtensionOpcode = 98;
const answerTimeoutMs = 2000;

/** Puts the screen of X display `display` (such as ":99") in `mode`, which must be the screen's size. */
export async function setScreenMode(display: string, mode: ModeTimings): Promise<void> {
  const number = /^:(\d+)/.exec(display)?.[1];
  if (number === undefined) throw new Error(`not a local X display: ${display}`);
  await setScreenModeThrough(`/tmp/.X11-unix/X${number}`, mode);
}

/** The same, through the X server's socket at `socketPath`. */
export async function setScreenModeThrough(socketPath: string, mode: ModeTimings): Promise<void> {
  const x = await X11Connection.open(socketPath);
  try {
    const extension = await x.request(queryExtensionOpcode, 0, stringPart('RANDR', 2));
    if (extension.readUInt8(8) !== 1) throw new Error('the X server has no RandR extension');
    const major = extension.readUInt8(9);
    await x.request(major, randr.queryVersion, words(1, 5));
    const resources = await x.request(major, randr.getScreenResources, words(x.root));
    const [timestamp, configTimestamp] = [resources.readUInt32LE(8), resources.readUInt32LE(12)];
    const [crtcs, outputs] = [resources.readUInt16LE(16), resources.readUInt16LE(18)];
    if (crtcs < 1 || outputs < 1) throw new Error(`the X screen has ${crtcs} CRTCs and ${outputs} outputs`);
    const crtc = resources.readUInt32LE(32);
    const output = resources.readUInt32LE(32 + 4 * crtcs);
    const created = await x.request(major, randr.createMode, Buffer.concat([words(x.root), modeInfo(mode), padded(Buffer.from(mode.name))]));
    const modeId = created.readUInt32LE(8);
    x.send(major, randr.addOutputMode, words(output, modeId));
    const position = Buffer.alloc(4); // x, y: 0, 0
    const rotation = Buffer.from([1, 0, 0, 0]); // RR_Rotate_0, then 2 bytes of padding
    const set = await x.request(major, randr.setCrtcConfig, Buffer.concat([words(crtc, timestamp, configTimestamp), position, words(modeId), rotation, words(output)]));
    if (set.readUInt8(1) !== 0) throw new Error(`the X server refused the screen mode (RandR status ${set.readUInt8(1)})`);
    // Chromium reads the rate of the primary output's mode; Xvfb names none.
    x.send(major, randr.setOutputPrimary, words(x.root, output));
    await x.request(major, randr.queryVersion, words(1, 5)); // a reply, so that an error above is seen
  } finally {
    x.close();
  }
}

function words(...values: number[]): Buffer {
  const buffer = Buffer.alloc(4 * values.length);
  values.forEach((value, i) => buffer.writeUInt32LE(value >>> 0, 4 * i));
  return buffer;
}

function padded(bytes: Buffer): Buffer {
  return Buffer.concat([bytes, Buffer.alloc(pad4(bytes.length))]);
}

/** A request body that is a length (CARD16, then `unusedAfter` bytes) and a string. */
function stringPart(text: string, unusedAfter: number): Buffer {
  const head = Buffer.alloc(2 + unusedAfter);
  head.writeUInt16LE(text.length, 0);
  return Buffer.concat([head, padded(Buffer.from(text))]);
}

/** RandR's MODEINFO: 32 bytes. */
function modeInfo(mode: ModeTimings): Buffer {
  for (const [what, value] of [['line total', mode.lineTotal], ['frame total', mode.frameTotal]] as const) {
    if (!Number.isInteger(value) || value > 0xffff) throw new Error(`the mode's ${what} must be a whole number up to 65535, not ${value}`);
  }
  const info = Buffer.alloc(32);
  info.writeUInt32LE(0, 0); // id: the server assigns it
  info.writeUInt16LE(mode.width, 4);
  info.writeUInt16LE(mode.height, 6);
  info.writeUInt32LE(mode.pixelClockHz, 8);
  // Sync pulses at the end of the visible area: Xvfb scans nothing out.
  info.writeUInt16LE(mode.width, 12); // h-sync-start
  info.writeUInt16LE(mode.width, 14); // h-sync-end
  info.writeUInt16LE(mode.lineTotal, 16);
  info.writeUInt16LE(0, 18); // h-skew
  info.writeUInt16LE(mode.height, 20); // v-sync-start
  info.writeUInt16LE(mode.height, 22); // v-sync-end
  info.writeUInt16LE(mode.frameTotal, 24);
  info.writeUInt16LE(Buffer.byteLength(mode.name), 26);
  info.writeUInt32LE(0, 28); // mode-flags
  return info;
}

/** One X11 connection: requests in order, each reply or error matched to its request by sequence number. */
class X11Connection {
  private sequence = 0;
  private received = Buffer.alloc(0);
  private readonly waiting = new Map<number, { resolve: (reply: Buffer) => void; reject: (err: Error) => void }>();
  private failure?: Error;
  private readonly socket: Socket;
  /** The root window of the display's first screen. */
  readonly root: number;

  private constructor(socket: Socket, root: number) {
    this.socket = socket;
    this.root = root;
  }

  static async open(path: string): Promise<X11Connection> {
    const socket = connect(path);
    // An X server that stops answering must not hold the recorder's start: every wait ends here.
    socket.setTimeout(answerTimeoutMs, () => socket.destroy(new Error(`the X server did not answer within ${answerTimeoutMs} ms`)));
    const setup = await new Promise<Buffer>((resolve, reject) => {
      let data = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        if (data.length < 8 || data.length < 8 + 4 * data.readUInt16LE(6)) return;
        socket.off('data', onData);
        resolve(data);
      };
      socket.on('data', onData);
      socket.once('error', (err) => reject(new Error(`cannot connect to the X server at ${path}: ${err.message}`)));
      // Little-endian ('l'), protocol 11.0, no authorization.
      socket.write(Buffer.from([0x6c, 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    });
    if (setup.readUInt8(0) !== 1) {
      socket.destroy();
      throw new Error(`the X server refused the connection: ${setup.subarray(8, 8 + setup.readUInt8(1)).toString()}`);
    }
    const vendorLength = setup.readUInt16LE(24);
    const formats = setup.readUInt8(29);
    const root = setup.readUInt32LE(40 + vendorLength + pad4(vendorLength) + 8 * formats);
    const connection = new X11Connection(socket, root);
    socket.on('data', (chunk: Buffer) => connection.onData(chunk));
    socket.on('error', (err) => connection.fail(err));
    socket.on('close', () => connection.fail(new Error('the X server closed the connection')));
    return connection;
  }

  /** Sends a request that has no reply; an error it causes fails the next request that has one. */
  send(major: number, minor: number, body: Buffer): number {
    const length = (4 + body.length) / 4;
    const header = Buffer.alloc(4);
    header.writeUInt8(major, 0);
    header.writeUInt8(minor, 1);
    header.writeUInt16LE(length, 2);
    this.socket.write(Buffer.concat([header, body]));
    return ++this.sequence;
  }

  request(major: number, minor: number, body: Buffer): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    const sequence = this.send(major, minor, body);
    return new Promise((resolve, reject) => this.waiting.set(sequence, { resolve, reject }));
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.received = Buffer.concat([this.received, chunk]);
    while (this.received.length >= 32) {
      const kind = this.received.readUInt8(0);
      const size = kind === 1 ? 32 + 4 * this.received.readUInt32LE(4) : 32;
      if (this.received.length < size) return;
      const packet = this.received.subarray(0, size);
      this.received = this.received.subarray(size);
      const sequence = packet.readUInt16LE(2);
      if (kind === 0) {
        this.fail(new Error(`X error ${packet.readUInt8(1)} on request ${packet.readUInt8(10)}.${packet.readUInt16LE(8)} (value ${packet.readUInt32LE(4)})`));
      } else if (kind === 1) {
        const waiter = this.waiting.get(sequence);
        this.waiting.delete(sequence);
        waiter?.resolve(packet);
      } // events: none asked for
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const waiter of this.waiting.values()) waiter.reject(this.failure);
    this.waiting.clear();
  }
}
