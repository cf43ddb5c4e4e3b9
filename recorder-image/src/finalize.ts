// Turns the captured parts into the deliverables: one file (parts joined without re-encoding, so a
// paused stretch is simply absent), checked with ffprobe against what was asked for, plus the separate
// audio file and a thumbnail when wanted.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RecorderConfig } from '@recording-operator/common/protocol/recorder-config.ts';
import type { MediaProfile } from './media-profile.ts';

const run = promisify(execFile);

async function ffmpeg(args: string[]): Promise<void> {
  try {
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { maxBuffer: 16 << 20 });
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

/**
 * ffmpeg inputs that read a part with its sound shifted (stream copy): the part twice, the picture
 * from one, the sound from the other, the later of the two offset. Nothing starts before 0: a negative
 * shift delays the picture instead, which some muxers could not place otherwise.
 */
function shiftedInputs(part: CapturedPart): string[] {
  const shift = shiftMs(part);
  if (shift === 0) return ['-i', part.path, '-map', '0'];
  const offset = ['-itsoffset', (Math.abs(shift) / 1000).toFixed(3)];
  const [video, audio] = shift > 0 ? [[], offset] : [offset, []];
  return [...video, '-i', part.path, ...audio, '-i', part.path, '-map', '0:v', '-map', '1:a'];
}

/** The shift in whole ms: ffmpeg's offsets are written with ms precision. */
function shiftMs(part: CapturedPart): number {
  return Math.round(part.audioShiftSeconds * 1000);
}

/**
 * Joins the parts (stream copy) into the final file, each with its sound shifted to its picture.
 * `maxSeconds` cuts it there: a maximum duration lowered while recording stops the capture a moment
 * late (ffmpeg's -t cannot be changed in flight).
 */
export async function joinParts(parts: CapturedPart[], profile: MediaProfile, workDir: string, target: string, maxSeconds?: number): Promise<void> {
  if (parts.length === 0) throw new Error('nothing was captured');
  const outputOptions = [...(profile.extension === 'mp4' || profile.extension === 'm4a' ? ['-movflags', '+faststart'] : []), ...(maxSeconds ? ['-t', maxSeconds.toFixed(3)] : [])];
  const format = profile.extension === 'm4a' ? 'ipod' : profile.extension;
  if (parts.length === 1) {
    await ffmpeg([...shiftedInputs(parts[0]!), '-c', 'copy', ...outputOptions, '-f', format, target]);
    return;
  }
  // Several parts: each shifted on its own (a part's shift is its own capture's), then concatenated.
  const synced: string[] = [];
  for (const part of parts) {
    if (shiftMs(part) === 0) {
      synced.push(part.path);
      continue;
    }
    const path = `${part.path}.synced.${profile.extension}`;
    await ffmpeg([...shiftedInputs(part), '-c', 'copy', '-f', format, path]);
    synced.push(path);
  }
  const list = join(workDir, 'parts.txt');
  await writeFile(list, synced.map((p) => `file '${p.replace(/'/g, "'\\''")}'`).join('\n') + '\n');
  await ffmpeg(['-f', 'concat', '-safe', '0', '-i', list, '-map', '0', '-c', 'copy', ...outputOptions, '-f', format, target]);
}

export async function exportAudio(source: string, profile: MediaProfile, target: string): Promise<void> {
  await ffmpeg(['-i', source, '-vn', '-map', '0:a', '-c:a', 'copy', '-f', profile.audioExport.format, target]);
}

export async function makeThumbnail(source: string, durationSeconds: number, target: string): Promise<void> {
  const at = Math.min(Math.max(durationSeconds / 2, 0), 10);
  await ffmpeg(['-ss', at.toFixed(2), '-i', source, '-frames:v', '1', '-vf', 'scale=640:-2', '-q:v', '4', target]);
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
