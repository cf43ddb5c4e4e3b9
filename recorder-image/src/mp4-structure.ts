// Reads a finished MP4 (or M4A) the way a player starts it: the box tree, the header (moov) and each
// track's sample tables, and checks that the media they point at is all in the file. This is the
// post-stop check of the recording in-process: ffprobe read the same header, but as a process of its
// own it cost ~190 ms of the user's wait after a stop on a busy 2-core machine (the stop split of
// `npm run bench pod-start`), and it did not see a file cut short behind its header.
import { open } from 'node:fs/promises';
import type { ProbeResult } from './finalize.ts';

/** Why a file is not a whole, playable MP4. */
export class Mp4StructureError extends Error {}

interface Box {
  type: string;
  /** Where the box's content starts and ends (after its header), in the buffer or file it was read from. */
  start: number;
  end: number;
}

/** The boxes laid end to end in `data` between `from` and `to`; throws when one runs past `to`. */
function childBoxes(data: Buffer, from: number, to: number, where: string): Box[] {
  const boxes: Box[] = [];
  let at = from;
  while (at < to) {
    if (to - at < 8) throw new Mp4StructureError(`${where}: ${to - at} stray bytes where a box should start`);
    let size = data.readUInt32BE(at);
    const type = data.toString('latin1', at + 4, at + 8);
    let header = 8;
    if (size === 1) {
      size = Number(data.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) size = to - at;
    if (size < header || at + size > to) throw new Mp4StructureError(`${where}: box '${type}' runs past its parent`);
    boxes.push({ type, start: at + header, end: at + size });
    at += size;
  }
  return boxes;
}

function child(data: Buffer, parent: Box, type: string, where: string): Box {
  const found = childBoxes(data, parent.start, parent.end, where).find((b) => b.type === type);
  if (!found) throw new Mp4StructureError(`${where} has no '${type}' box`);
  return found;
}

/** Follows a path of box types down from `parent`, e.g. ['mdia', 'minf', 'stbl']. */
function descend(data: Buffer, parent: Box, path: string[], where: string): Box {
  let box = parent;
  for (const type of path) box = child(data, box, type, `${where}/${box.type}`);
  return box;
}

/** A full box's version, and where its fields start. */
function fullBox(data: Buffer, box: Box): { version: number; fields: number } {
  return { version: data.readUInt8(box.start), fields: box.start + 4 };
}

/** (timescale, duration) of an mvhd or mdhd box: both put them after the creation and modification times. */
function timescaleAndDuration(data: Buffer, box: Box): { timescale: number; duration: number } {
  const { version, fields } = fullBox(data, box);
  if (version === 1) return { timescale: data.readUInt32BE(fields + 16), duration: Number(data.readBigUInt64BE(fields + 20)) };
  return { timescale: data.readUInt32BE(fields + 8), duration: data.readUInt32BE(fields + 12) };
}

/** An MPEG-4 descriptor inside an esds box: its tag and where its content lies. */
function descriptor(data: Buffer, at: number): { tag: number; start: number; end: number } {
  const tag = data.readUInt8(at);
  let length = 0;
  let i = at + 1;
  // The length is written 7 bits a byte, the top bit saying another byte follows (at most 4).
  for (let n = 0; n < 4; n++, i++) {
    const byte = data.readUInt8(i);
    length = (length << 7) | (byte & 0x7f);
    if (!(byte & 0x80)) break;
  }
  return { tag, start: i + 1, end: i + 1 + length };
}

/** Reads `count` bits at a time, most significant first, from data[start, end). */
function bitReader(data: Buffer, start: number, end: number): (count: number) => number {
  let position = start * 8;
  return (count) => {
    let value = 0;
    for (let i = 0; i < count; i++, position++) {
      if (position >= end * 8) throw new Mp4StructureError('AudioSpecificConfig is cut short');
      value = value * 2 + ((data[position >> 3]! >> (7 - (position & 7))) & 1);
    }
    return value;
  };
}

const aacSampleRates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** The audio codec, channels and rate an mp4a entry's esds declares (the AAC config, when it is AAC). */
function mp4aFacts(data: Buffer, entry: Box, entryChannels: number, entryRate: number): { codec: string; channels: number; sampleRate: number } {
  // An audio sample entry's own fields take 28 bytes; its boxes follow.
  const esds = childBoxes(data, entry.start + 28, entry.end, 'mp4a').find((b) => b.type === 'esds');
  if (!esds) throw new Mp4StructureError("the audio sample entry has no 'esds' box");
  const es = descriptor(data, esds.start + 4);
  if (es.tag !== 0x03) throw new Mp4StructureError('esds does not start with an ES descriptor');
  const flags = data.readUInt8(es.start + 2);
  let at = es.start + 3;
  if (flags & 0x80) at += 2; // depends on another stream
  if (flags & 0x40) at += 1 + data.readUInt8(at); // a URL
  if (flags & 0x20) at += 2; // an OCR stream
  const config = descriptor(data, at);
  if (config.tag !== 0x04) throw new Mp4StructureError('esds has no decoder config descriptor');
  const objectType = data.readUInt8(config.start);
  if (objectType === 0x69 || objectType === 0x6b) return { codec: 'mp3', channels: entryChannels, sampleRate: entryRate };
  if (objectType !== 0x40) return { codec: `mp4a object type 0x${objectType.toString(16)}`, channels: entryChannels, sampleRate: entryRate };
  const specific = descriptor(data, config.start + 13);
  if (specific.tag !== 0x05 || specific.end - specific.start < 2) throw new Mp4StructureError('AAC without its AudioSpecificConfig');
  // AudioSpecificConfig: 5 bits object type (31: 6 more follow), 4 bits rate index (15: 24 bits of rate), 4 bits channels.
  const bits = bitReader(data, specific.start, specific.end);
  if (bits(5) === 31) bits(6);
  const rateIndex = bits(4);
  const sampleRate = rateIndex === 15 ? bits(24) : (aacSampleRates[rateIndex] ?? entryRate);
  const channelConfig = bits(4);
  // Configuration 7 is 8 channels; 0 means the channels are described in the stream itself.
  const channels = channelConfig === 7 ? 8 : channelConfig === 0 ? entryChannels : channelConfig;
  return { codec: 'aac', channels, sampleRate };
}

/** The channels an MPEG audio frame header declares: its channel mode 3 is mono, the others two channels. */
function mp3Channels(header: Buffer): number {
  if (header.readUInt16BE(0) >> 5 !== 0x7ff) throw new Mp4StructureError('the MP3 track does not start with a frame header');
  return header.readUInt8(3) >> 6 === 3 ? 1 : 2;
}

const videoCodecs: Record<string, string> = { avc1: 'h264', avc3: 'h264', vp08: 'vp8', vp09: 'vp9', hev1: 'hevc', hvc1: 'hevc', av01: 'av1' };

interface Track {
  handler: string;
  video?: ProbeResult['video'];
  audio?: ProbeResult['audio'];
  /** Each chunk's file offset and byte length, from stco/co64, stsc and stsz. */
  chunks: { offset: number; bytes: number }[];
}

function readTrack(data: Buffer, trak: Box, index: number): Track {
  const where = `moov/trak[${index}]`;
  const mdia = child(data, trak, 'mdia', where);
  const hdlr = child(data, mdia, 'hdlr', `${where}/mdia`);
  const handler = data.toString('latin1', hdlr.start + 8, hdlr.start + 12);
  const { timescale } = timescaleAndDuration(data, child(data, mdia, 'mdhd', `${where}/mdia`));
  const stbl = descend(data, mdia, ['minf', 'stbl'], where);
  const stblWhere = `${where}/mdia/minf/stbl`;

  const sizes = child(data, stbl, 'stsz', stblWhere);
  const fixedSize = data.readUInt32BE(sizes.start + 4);
  const sampleCount = data.readUInt32BE(sizes.start + 8);
  if (!fixedSize && sizes.start + 12 + 4 * sampleCount > sizes.end) throw new Mp4StructureError(`${stblWhere}/stsz lists fewer sizes than its ${sampleCount} samples`);
  const sampleBytes = (i: number) => fixedSize || data.readUInt32BE(sizes.start + 12 + 4 * i);

  const offsetsBox = childBoxes(data, stbl.start, stbl.end, stblWhere).find((b) => b.type === 'stco' || b.type === 'co64');
  if (!offsetsBox) throw new Mp4StructureError(`${stblWhere} has no chunk offsets (stco or co64)`);
  const wide = offsetsBox.type === 'co64';
  const chunkCount = data.readUInt32BE(offsetsBox.start + 4);
  const offsetAt = (i: number) => (wide ? Number(data.readBigUInt64BE(offsetsBox.start + 8 + 8 * i)) : data.readUInt32BE(offsetsBox.start + 8 + 4 * i));
  if (offsetsBox.start + 8 + (wide ? 8 : 4) * chunkCount > offsetsBox.end) throw new Mp4StructureError(`${stblWhere}/${offsetsBox.type} lists fewer offsets than its ${chunkCount} chunks`);

  // stsc: runs of chunks with the same number of samples, each run from its first chunk (1-based).
  const runsBox = child(data, stbl, 'stsc', stblWhere);
  const runCount = data.readUInt32BE(runsBox.start + 4);
  const runs = Array.from({ length: runCount }, (_, i) => ({ firstChunk: data.readUInt32BE(runsBox.start + 8 + 12 * i), samplesPerChunk: data.readUInt32BE(runsBox.start + 12 + 12 * i) }));
  const chunks: Track['chunks'] = [];
  let sample = 0;
  for (let c = 0, run = 0; c < chunkCount; c++) {
    while (run + 1 < runs.length && runs[run + 1]!.firstChunk <= c + 1) run++;
    const samples = runs[run]?.samplesPerChunk ?? 0;
    let bytes = 0;
    for (let s = 0; s < samples && sample < sampleCount; s++, sample++) bytes += sampleBytes(sample);
    chunks.push({ offset: offsetAt(c), bytes });
  }
  if (sample !== sampleCount) throw new Mp4StructureError(`${stblWhere}: the chunks hold ${sample} of the track's ${sampleCount} samples`);

  const stsd = child(data, stbl, 'stsd', stblWhere);
  const [entry] = childBoxes(data, stsd.start + 8, stsd.end, `${stblWhere}/stsd`);
  if (!entry) throw new Mp4StructureError(`${stblWhere}/stsd has no sample entry`);
  if (handler === 'vide') {
    // A visual sample entry: 8 bytes of reference, 16 reserved, then width and height.
    const stts = child(data, stbl, 'stts', stblWhere);
    let ticks = 0;
    for (let i = 0, n = data.readUInt32BE(stts.start + 4); i < n; i++) ticks += data.readUInt32BE(stts.start + 8 + 8 * i) * data.readUInt32BE(stts.start + 12 + 8 * i);
    const video = {
      codec: videoCodecs[entry.type] ?? entry.type,
      width: data.readUInt16BE(entry.start + 24),
      height: data.readUInt16BE(entry.start + 26),
      fps: ticks ? (sampleCount * timescale) / ticks : 0,
    };
    return { handler, video, chunks };
  }
  if (handler === 'soun') {
    // An audio sample entry: 8 bytes of reference, 8 reserved, then channels, sample size, 4 reserved, rate (16.16).
    const entryChannels = data.readUInt16BE(entry.start + 16);
    const entryRate = data.readUInt32BE(entry.start + 24) >>> 16;
    const audio = entry.type === 'mp4a' ? mp4aFacts(data, entry, entryChannels, entryRate) : { codec: entry.type.toLowerCase(), channels: entryChannels, sampleRate: entryRate };
    return { handler, audio, chunks };
  }
  return { handler, chunks };
}

/**
 * What a finished MP4 holds, read from its header, after checking that it is whole: its top-level
 * boxes fill the file exactly, the header comes before the media (a player can start before the
 * download ends: +faststart), and every track's samples lie inside the file's media box.
 */
export async function readMp4(path: string): Promise<ProbeResult> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const top: Box[] = [];
    const header = Buffer.alloc(16);
    for (let at = 0; at < size; ) {
      const { bytesRead } = await file.read(header, 0, 16, at);
      if (bytesRead < 8) throw new Mp4StructureError(`the file ends ${size - at} bytes into a box header`);
      let boxSize = header.readUInt32BE(0);
      let headerSize = 8;
      if (boxSize === 1) {
        boxSize = Number(header.readBigUInt64BE(8));
        headerSize = 16;
      } else if (boxSize === 0) boxSize = size - at;
      const type = header.toString('latin1', 4, 8);
      if (boxSize < headerSize) throw new Mp4StructureError(`box '${type}' at byte ${at} has an impossible size ${boxSize}`);
      if (at + boxSize > size) throw new Mp4StructureError(`the file is cut short: box '${type}' needs ${at + boxSize - size} bytes more than the file has`);
      top.push({ type, start: at + headerSize, end: at + boxSize });
      at += boxSize;
    }
    const moovIndex = top.findIndex((b) => b.type === 'moov');
    const mdatIndex = top.findIndex((b) => b.type === 'mdat');
    if (moovIndex < 0) throw new Mp4StructureError("the file has no header ('moov' box)");
    if (mdatIndex >= 0 && mdatIndex < moovIndex) throw new Mp4StructureError('the header comes after the media: the file cannot start playing before it is all downloaded');
    const moovBox = top[moovIndex]!;
    const data = Buffer.alloc(moovBox.end - moovBox.start);
    await file.read(data, 0, data.length, moovBox.start);
    const moov: Box = { type: 'moov', start: 0, end: data.length };
    const movie = timescaleAndDuration(data, child(data, moov, 'mvhd', 'moov'));
    const tracks = childBoxes(data, 0, data.length, 'moov')
      .filter((b) => b.type === 'trak')
      .map((trak, i) => readTrack(data, trak, i));
    const media = top.filter((b) => b.type === 'mdat');
    for (const [i, track] of tracks.entries()) {
      const outside = track.chunks.find((c) => !media.some((m) => c.offset >= m.start && c.offset + c.bytes <= m.end));
      if (outside) throw new Mp4StructureError(`track ${i} (${track.handler}) has ${outside.bytes} bytes at byte ${outside.offset}, outside the file's media`);
    }
    const audioTrack = tracks.find((t) => t.audio);
    if (audioTrack?.audio?.codec === 'mp3' && audioTrack.chunks[0]) {
      // An MP3 entry states 2 channels whatever the stream holds (ffmpeg's MP4 muxer): the first frame's header says.
      const frameHeader = Buffer.alloc(4);
      await file.read(frameHeader, 0, 4, audioTrack.chunks[0].offset);
      audioTrack.audio.channels = mp3Channels(frameHeader);
    }
    return {
      durationSeconds: movie.timescale ? movie.duration / movie.timescale : 0,
      video: tracks.find((t) => t.video)?.video,
      audio: audioTrack?.audio,
    };
  } catch (err) {
    // A header field that points past its box reads past the buffer: that, too, is a broken file.
    if (err instanceof RangeError) throw new Mp4StructureError(`a header field points outside its box (${err.message})`, { cause: err });
    throw err;
  } finally {
    await file.close();
  }
}
