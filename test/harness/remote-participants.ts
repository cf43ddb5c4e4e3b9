// The other side of a call, for tests and benchmarks: four (or n) participants who send VP8 video and
// Opus voice over WebRTC to the demo call page a recorder opens with media=remote, from outside the
// recorder's process tree, as a real call's people are elsewhere.
//
// They send media encoded once, ahead of time: each participant's clip (a moving test picture in its
// own colour, a voice that speaks in its turn) is made by ffmpeg and cached; during a call this module
// paces the clip's frames out as RTP packets, and werift, a WebRTC stack in JavaScript, carries them
// to the page (ICE, DTLS, SRTP on 127.0.0.1). A browser encoding live pictures instead took 0.9-1.2
// cores of this 2-core machine beside the recorder, whose capture then stalled for 0.6-1.2 s at a time;
// ffmpeg processes pacing the packets would have shared their libraries' pages with the recorder's
// ffmpeg and shrunk its PSS by 20 MiB. Encoding is a sender's cost, not the recorder's; decoding, which
// is, happens in full.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket } from 'werift';
import { cacheDir } from './paths.ts';

export interface RemoteParticipants {
  /** The call page a recorder (or the plain pipeline) opens to receive them. */
  callUrl: string;
  /** Resolves once every participant's connection is up and sending. */
  connected: Promise<void>;
  stop(): Promise<void>;
}

const clipSeconds = 8; // four speakers, two seconds each
const clipVersion = 2; // bump when the clip's recipe changes
const fps = 30;
const opusFrameMs = 20;

interface Clip {
  /** VP8 frames, one per 1/30 s, the first a keyframe. */
  video: Buffer[];
  /** Opus packets, one per 20 ms. */
  audio: Buffer[];
}

/** One participant's clip: 640x360 VP8 at 30 fps with a keyframe each second, and Opus voice. */
function clipFor(index: number): Clip {
  const dir = join(cacheDir, 'bench', `participant-clips-v${clipVersion}`);
  const video = join(dir, `participant-${index}.ivf`);
  const audio = join(dir, `participant-${index}.opus`);
  if (!existsSync(video) || !existsSync(audio)) {
    mkdirSync(dir, { recursive: true });
    const partial = (file: string) => `${file}.partial-${process.pid}`;
    // Speaks (full volume) in its two seconds of every eight, murmurs (-20 dB) otherwise: never silent.
    const turn = `volume='if(eq(mod(floor(t/2),4),${index % 4}),1,0.1)':eval=frame`;
    execFileSync('ffmpeg', [
      '-v', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=${fps}:duration=${clipSeconds}`,
      '-f', 'lavfi', '-i', `sine=frequency=${220 + 110 * index}:sample_rate=48000:duration=${clipSeconds}`,
      // As a browser's real-time encoder sends: no invisible alt-ref frames, no look-ahead; a keyframe
      // each second, since a packet stream cannot answer the receiver's requests for one.
      '-map', '0:v', '-vf', `hue=h=${index * 90}`,
      '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '800k', '-g', String(fps), '-keyint_min', String(fps), '-auto-alt-ref', '0', '-lag-in-frames', '0',
      '-f', 'ivf', partial(video),
      '-map', '1:a', '-af', turn, '-c:a', 'libopus', '-b:a', '32k', '-frame_duration', String(opusFrameMs), '-application', 'voip',
      '-f', 'ogg', partial(audio),
    ]);
    renameSync(partial(video), video);
    renameSync(partial(audio), audio);
  }
  return { video: ivfFrames(readFileSync(video)), audio: oggPackets(readFileSync(audio)).slice(2) }; // after OpusHead and OpusTags
}

/** The frames of an IVF file: a 32-byte header, then per frame a 12-byte header (size, pts) and the frame. */
function ivfFrames(file: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = file.readUInt16LE(6); at + 12 <= file.length; ) {
    const size = file.readUInt32LE(at);
    frames.push(file.subarray(at + 12, at + 12 + size));
    at += 12 + size;
  }
  return frames;
}

/** The packets of an Ogg stream: pages of 255-byte laced segments, a packet ending at a shorter one. */
function oggPackets(file: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  let pending: Buffer[] = [];
  for (let at = 0; at + 27 <= file.length; ) {
    if (file.toString('latin1', at, at + 4) !== 'OggS') throw new Error(`not an Ogg page at byte ${at}`);
    const segments = file[at + 26]!;
    let data = at + 27 + segments;
    for (let i = 0; i < segments; i++) {
      const size = file[at + 27 + i]!;
      pending.push(file.subarray(data, data + size));
      data += size;
      if (size < 255) {
        packets.push(Buffer.concat(pending));
        pending = [];
      }
    }
    at = data;
  }
  return packets;
}

let calls = 0;

/** `pageUrl` is the demo server's address; `query` the call page's options (participants=n, layout=…). */
export function startRemoteParticipants(pageUrl: string, query: string): RemoteParticipants {
  const callId = `bench-${process.pid}-${++calls}`;
  const count = Number(new URLSearchParams(query).get('participants') ?? 4);
  const participants = Array.from({ length: count }, (_, i) => new Participant(pageUrl, callId, i));
  const connected = Promise.all(participants.map((p) => p.join())).then(() => undefined);
  connected.catch(() => undefined); // reported to whoever awaits it, not as an unhandled rejection
  return {
    callUrl: `${pageUrl}/call/${callId}?${query}&media=remote`,
    connected,
    async stop() {
      await Promise.all(participants.map((p) => p.leave()));
    },
  };
}

class Participant {
  private readonly connection = new RTCPeerConnection({
    codecs: {
      video: [new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb' }] })],
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })],
    },
    // Loopback only.
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
    iceUseIpv6: false,
    iceUseTcp: false,
    // One transport for both tracks from the start: with werift's default, the second one it gathers
    // before the page's answer bundles them is never closed (its socket kept the process alive).
    bundlePolicy: 'max-bundle',
  });
  private readonly video = new MediaStreamTrack({ kind: 'video' });
  private readonly audio = new MediaStreamTrack({ kind: 'audio' });
  private pacer?: NodeJS.Timeout;
  private left = false;
  private readonly pageUrl: string;
  private readonly callId: string;
  private readonly index: number;

  constructor(pageUrl: string, callId: string, index: number) {
    this.pageUrl = pageUrl;
    this.callId = callId;
    this.index = index;
  }

  /** Offers, takes the page's answer, and once connected starts sending the clip. */
  async join(): Promise<void> {
    const clip = clipFor(this.index);
    this.connection.addTransceiver(this.video, { direction: 'sendonly' });
    this.connection.addTransceiver(this.audio, { direction: 'sendonly' });
    await this.connection.setLocalDescription(await this.connection.createOffer());
    while (this.connection.iceGatheringState !== 'complete') await this.connection.iceGatheringStateChange.asPromise();
    const { type, sdp } = this.connection.localDescription!;
    await this.post(`offer-${this.index}`, { type, sdp });
    await this.connection.setRemoteDescription(await this.take(`answer-${this.index}`));
    while (this.connection.connectionState !== 'connected') {
      if (this.left || this.connection.connectionState === 'failed') throw new Error(`participant ${this.index}: connection ${this.connection.connectionState}`);
      await this.connection.connectionStateChange.asPromise();
    }
    if (!this.left) this.send(clip);
  }

  async leave(): Promise<void> {
    this.left = true;
    clearInterval(this.pacer);
    await this.connection.close();
  }

  /**
   * Sends the clip, looped, each frame and voice packet when its time comes (checked every 5 ms;
   * the receiver's jitter buffer takes the rest). A VP8 frame goes in packets of at most 1,100 bytes
   * behind a one-byte payload descriptor (RFC 7741: S set on a frame's first), the last one marked.
   */
  private send(clip: Clip): void {
    const start = performance.now();
    const video = { sent: 0, sequence: 0 };
    const audio = { sent: 0, sequence: 0 };
    const maxPayload = 1100;
    this.pacer = setInterval(() => {
      const elapsed = performance.now() - start;
      for (; video.sent <= (elapsed * fps) / 1000; video.sent++) {
        const frame = clip.video[video.sent % clip.video.length]!;
        const timestamp = (video.sent * (90_000 / fps)) >>> 0;
        for (let at = 0; at < frame.length; at += maxPayload) {
          const last = at + maxPayload >= frame.length;
          const payload = Buffer.concat([Buffer.from([at === 0 ? 0x10 : 0x00]), frame.subarray(at, at + maxPayload)]);
          this.video.writeRtp(new RtpPacket(new RtpHeader({ payloadType: 96, sequenceNumber: video.sequence++ & 0xffff, timestamp, marker: last }), payload));
        }
      }
      for (; audio.sent <= elapsed / opusFrameMs; audio.sent++) {
        const packet = clip.audio[audio.sent % clip.audio.length]!;
        const timestamp = (audio.sent * 48 * opusFrameMs) >>> 0;
        this.audio.writeRtp(new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: audio.sequence++ & 0xffff, timestamp }), packet));
      }
    }, 5);
  }

  private mailbox(name: string): string {
    return `${this.pageUrl}/signal/${this.callId}/${name}`;
  }

  private async post(name: string, description: unknown): Promise<void> {
    const res = await fetch(this.mailbox(name), { method: 'POST', body: JSON.stringify(description) });
    if (!res.ok) throw new Error(`${this.mailbox(name)}: HTTP ${res.status}`);
  }

  private async take(name: string): Promise<{ type: 'answer'; sdp: string }> {
    while (!this.left) {
      const res = await fetch(this.mailbox(name));
      if (res.status === 200) return (await res.json()) as { type: 'answer'; sdp: string };
      if (res.status !== 204) throw new Error(`${this.mailbox(name)}: HTTP ${res.status}`);
    }
    throw new Error(`participant ${this.index} left before the page answered`);
  }
}
