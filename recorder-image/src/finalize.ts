// Turns the captured parts into the deliverables: one file (parts joined without re-encoding, so a
// paused stretch is simply absent), checked with ffprobe against what was asked for, plus the separate
// audio file and a thumbnail when wanted.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readFileInLargeChunks } from '@recording-operator/common/file-read.ts';
import type { RecorderConfig } from '@recording-operator/common/protocol/recorder-config.ts';
import { oneFilterThread } from './capture-args.ts';
import type { MediaProfile } from './media-profile.ts';
import { readMp4 } from './mp4-structure.ts';

const run = promisify(execFile);

/**
 * The thumbnail's decoder and encoder on one thread each, and its scaler too (oneFilterThread, as in the
 * capture): left to ffmpeg each would start a thread per core of the node, not of the Pod, for one picture.
 */
const oneThread = ['-threads', '1'];

async function ffmpeg(args: string[]): Promise<void> {
  try {
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...oneFilterThread, ...args], { maxBuffer: 16 << 20 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim().slice(-600) ?? '';
    throw new Error(`ffmpeg ${args.join(' ').slice(0, 200)} failed: ${stderr}`, { cause: err });
  }
}

export interface ProbeResult {
  durationSeconds: number;
  video?: { codec: string; width: number; height: number; fps: number };
  audio?: { codec: string; channels: number; sampleRate: number };
}

export async function probe(path: string): Promise<ProbeResult> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', path], { maxBuffer: 16 << 20 });
  const info = JSON.parse(stdout) as {
    format?: { duration?: string };
    streams?: { codec_type: string; codec_name: string; width?: number; height?: number; avg_frame_rate?: string; r_frame_rate?: string; channels?: number; sample_rate?: string }[];
  };
  const v = info.streams?.find((s) => s.codec_type === 'video');
  const a = info.streams?.find((s) => s.codec_type === 'audio');
  const rate = (r?: string) => {
    const [n, d] = (r ?? '0/1').split('/').map(Number);
    return d ? n! / d : 0;
  };
  return {
    durationSeconds: Number(info.format?.duration ?? 0),
    video: v && { codec: v.codec_name, width: v.width ?? 0, height: v.height ?? 0, fps: rate(v.avg_frame_rate) || rate(v.r_frame_rate) },
    audio: a && { codec: a.codec_name, channels: a.channels ?? 0, sampleRate: Number(a.sample_rate ?? 0) },
  };
}

/** MP4 and M4A: written with their header first (+faststart), and read by mp4-structure.ts. */
function isMp4(profile: MediaProfile): boolean {
  return profile.extension === 'mp4' || profile.extension === 'm4a';
}

/** How the finished file was read: `first` is what the upload waits for. */
export interface FinishedReadings {
  first: Promise<ProbeResult>;
  /** ffprobe's own reading, when `first` was not it: awaited before UPLOADED, while the file uploads. */
  byFfprobe?: Promise<ProbeResult>;
}

/**
 * What the finished file holds, read as a player would start it. MP4 and M4A are read in-process, which
 * also checks that all the media their header points at is in the file (mp4-structure.ts), and by
 * ffprobe beside it, since every output is read by ffprobe before it is UPLOADED (ENGINEERING.md) but
 * its process start need not hold up the upload. WebM, MP3 and Ogg are read by ffprobe alone.
 */
export function readFinished(path: string, profile: MediaProfile): FinishedReadings {
  if (!isMp4(profile)) return { first: probe(path) };
  const byFfprobe = probe(path);
  byFfprobe.catch(() => undefined); // awaited by the caller, after the upload
  return { first: readMp4(path), byFfprobe };
}

const expectedCodec = { H264: 'h264', VP8: 'vp8', AAC: 'aac', MP3: 'mp3', OPUS: 'opus', VORBIS: 'vorbis' } as const;

/** Why the file is not what was asked for, or undefined when it is. */
export function verifyOutput(result: ProbeResult, output: RecorderConfig['output']): string | undefined {
  if (!(result.durationSeconds > 0)) return 'the file has no duration';
  if (!result.audio) return 'the file has no audio stream';
  if (result.audio.codec !== expectedCodec[output.audio.codec]) return `audio is ${result.audio.codec}, expected ${expectedCodec[output.audio.codec]}`;
  if (result.audio.channels !== output.audio.channels) return `audio has ${result.audio.channels} channels, expected ${output.audio.channels}`;
  if (!output.video) return result.video ? 'an audio-only file has a video stream' : undefined;
  if (!result.video) return 'the file has no video stream';
  if (result.video.codec !== expectedCodec[output.video.codec]) return `video is ${result.video.codec}, expected ${expectedCodec[output.video.codec]}`;
  if (result.video.width !== output.video.width || result.video.height !== output.video.height) {
    return `video is ${result.video.width}x${result.video.height}, expected ${output.video.width}x${output.video.height}`;
  }
  return undefined;
}

/** A captured part, and how much later its sound must play to meet its picture (picture-delay.ts). */
export interface CapturedPart {
  path: string;
  audioShiftSeconds: number;
}

/** How a part is read with its sound shifted to its picture (stream copy). */
interface ShiftedPart {
  inputs: string[];
  maps: string[];
  /** Where the shifted sound is. */
  audio: string;
  /** Output options that shift the recording's stamps, and those of them its sound alone needs. */
  shift: string[];
  audioShift: string[];
}

/**
 * A part read with its sound shifted: the later stream's stamps are moved on as the part is read once
 * (setts). Nothing starts before 0: a negative shift delays the picture instead. A picture with B-frames
 * would lose its start delay to setts (a byte-for-byte comparison caught 67 ms lost), so there the part
 * is read twice, the picture from one input and the sound from the other, the picture's offset
 * (-itsoffset): on a 55 s 720p part that took 0.27 s where setts takes 0.19, with the same bytes out.
 */
function shiftedPart(part: CapturedPart, profile: MediaProfile): ShiftedPart {
  const shift = shiftMs(part);
  const once = { inputs: ['-i', part.path], maps: ['-map', '0'], audio: '0:a' };
  if (shift === 0) return { ...once, shift: [], audioShift: [] };
  const seconds = (Math.abs(shift) / 1000).toFixed(3);
  const later = `setts=ts=TS+${seconds}/TB`;
  if (shift > 0) return { ...once, shift: ['-bsf:a', later], audioShift: ['-bsf:a', later] };
  if (profile.videoInDisplayOrder) return { ...once, shift: ['-bsf:v', later], audioShift: [] };
  return { inputs: ['-itsoffset', seconds, '-i', part.path, '-i', part.path], maps: ['-map', '0:v', '-map', '1:a'], audio: '1:a', shift: [], audioShift: [] };
}

/** The shift in whole ms: ffmpeg's offsets are written with ms precision. */
function shiftMs(part: CapturedPart): number {
  return Math.round(part.audioShiftSeconds * 1000);
}

/** Files the join's own ffmpeg run writes beside the recording, so that no other process starts after a stop. */
export interface JoinExtras {
  /** The sound alone, stream-copied (as exportAudio writes it). */
  audioPath?: string;
  /** A JPEG of the first keyframe from a second before `atSeconds` (keyframes come every 2 s: media-profile.ts). */
  thumbnail?: { path: string; atSeconds: number };
}

/** A join's ffmpeg inputs, and what the extras read. */
interface JoinInputs extends ShiftedPart {
  /** The joined picture, unshifted, as one more input (for the thumbnail). */
  picture: string[];
}

/**
 * The extra outputs' ffmpeg arguments. The thumbnail reads the picture through an input of its own,
 * sought a second before its moment and decoding only keyframes: one or two of them, where
 * seeking to the very frame in a separate ffmpeg cost a process start and ~230 ms of the user's wait
 * after a stop. Its own input, because a stream both copied and decoded with -skip_frame loses the
 * output's -t cut (ffmpeg 5.1: a lowered maximum duration's file kept its whole picture).
 */
function extraOutputs(extras: JoinExtras, inputs: JoinInputs, profile: MediaProfile, maxSeconds?: number): { input: string[]; output: string[] } {
  const cut = maxSeconds ? ['-t', maxSeconds.toFixed(3)] : [];
  const output: string[] = [];
  if (extras.audioPath) output.push('-map', inputs.audio, '-c', 'copy', ...inputs.audioShift, ...cut, '-f', profile.audioExport.format, extras.audioPath);
  if (!extras.thumbnail) return { input: [], output };
  const from = Math.max(extras.thumbnail.atSeconds - 1, 0).toFixed(3);
  // The thumbnail's input comes after the recording's: its index is their number.
  const index = inputs.inputs.filter((arg) => arg === '-i').length;
  output.push('-map', `${index}:v`, '-vf', 'scale=640:-2', ...oneThread, '-frames:v', '1', '-q:v', '4', '-update', '1', '-f', 'image2', extras.thumbnail.path);
  // The input reads 3 s from there (a keyframe comes within 2 s): read to the end, its keyframes were all
  // decoded while the recording was copied, 0.25 s more of a 55 s 720p join.
  return { input: [...oneThread, '-skip_frame', 'nokey', '-ss', from, '-t', '3', ...inputs.picture], output };
}

/** The extras that are there after a join (an extra output that failed leaves its file missing or empty). */
async function extrasMade(extras: JoinExtras): Promise<JoinExtras> {
  const exists = async (path?: string) => path !== undefined && ((await stat(path).catch(() => undefined))?.size ?? 0) > 0;
  return { audioPath: (await exists(extras.audioPath)) ? extras.audioPath : undefined, thumbnail: (await exists(extras.thumbnail?.path)) ? extras.thumbnail : undefined };
}

/** The muxer of a joined file: ffmpeg names M4A's "ipod". */
function joinFormat(profile: MediaProfile): string {
  return profile.extension === 'm4a' ? 'ipod' : profile.extension;
}

/** The inputs that read the parts, each with its sound shifted to its picture. */
async function joinInputs(parts: CapturedPart[], profile: MediaProfile, workDir: string): Promise<JoinInputs> {
  if (parts.length === 1) {
    const part = parts[0]!;
    return { ...shiftedPart(part, profile), picture: ['-i', part.path] };
  }
  // Several parts: each shifted on its own (a part's shift is its own capture's), then concatenated.
  const format = joinFormat(profile);
  const synced: string[] = [];
  for (const part of parts) {
    if (shiftMs(part) === 0) {
      synced.push(part.path);
      continue;
    }
    const path = `${part.path}.synced.${profile.extension}`;
    const { inputs, maps, shift } = shiftedPart(part, profile);
    await ffmpeg([...inputs, ...maps, '-c', 'copy', ...shift, '-f', format, path]);
    synced.push(path);
  }
  const list = join(workDir, 'parts.txt');
  await writeFile(list, synced.map((p) => `file '${p.replace(/'/g, "'\\''")}'`).join('\n') + '\n');
  const concat = ['-f', 'concat', '-safe', '0', '-i', list];
  return { inputs: concat, maps: ['-map', '0'], audio: '0:a', shift: [], audioShift: [], picture: concat };
}

/**
 * Joins the parts (stream copy) into the final file, each with its sound shifted to its picture, and
 * writes the extras in the same run. `maxSeconds` cuts it there: a maximum duration lowered while
 * recording stops the capture a moment late (ffmpeg's -t cannot be changed in flight). Returns the
 * extras it made: when they fail, the recording is joined again on its own (the recording comes first)
 * and the caller makes the missing extras from it.
 */
export async function joinParts(parts: CapturedPart[], profile: MediaProfile, workDir: string, target: string, maxSeconds?: number, extras: JoinExtras = {}): Promise<JoinExtras> {
  if (parts.length === 0) throw new Error('nothing was captured');
  const outputOptions = [...(isMp4(profile) ? ['-movflags', '+faststart'] : []), ...(maxSeconds ? ['-t', maxSeconds.toFixed(3)] : [])];
  const format = joinFormat(profile);
  const inputs = await joinInputs(parts, profile, workDir);
  const output = [...inputs.maps, '-c', 'copy', ...inputs.shift, ...outputOptions, '-f', format, target];
  if (!extras.audioPath && !extras.thumbnail) {
    await ffmpeg([...inputs.inputs, ...output]);
    return {};
  }
  const extra = extraOutputs(extras, inputs, profile, maxSeconds);
  const together = await ffmpeg([...inputs.inputs, ...extra.input, ...output, ...extra.output]).then(
    () => true,
    () => false,
  );
  if (!together) await ffmpeg([...inputs.inputs, ...output]);
  return together ? extrasMade(extras) : {};
}

export async function exportAudio(source: string, profile: MediaProfile, target: string): Promise<void> {
  await ffmpeg(['-i', source, '-vn', '-map', '0:a', '-c:a', 'copy', '-f', profile.audioExport.format, target]);
}

/** Where the thumbnail is taken: the middle, or 10 s in when that is later (past the first moments of a call). */
export function thumbnailSeconds(durationSeconds: number): number {
  return Math.min(Math.max(durationSeconds / 2, 0), 10);
}

/** A thumbnail in a process of its own, for when the join could not make it. */
export async function makeThumbnail(source: string, durationSeconds: number, target: string): Promise<void> {
  await ffmpeg([...oneThread, '-ss', thumbnailSeconds(durationSeconds).toFixed(2), '-i', source, '-frames:v', '1', '-vf', 'scale=640:-2', ...oneThread, '-q:v', '4', target]);
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of readFileInLargeChunks(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
