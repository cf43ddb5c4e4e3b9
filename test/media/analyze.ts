// What a viewer would notice in a recording, measured with ffmpeg's own detectors: black, frozen and
// silent stretches, loudness, and pixels of a decoded frame; and the settings its video was encoded with.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function ffmpegLog(args: string[]): Promise<string> {
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-nostats', '-loglevel', 'info', ...args, '-f', 'null', '-'], { maxBuffer: 64 << 20 });
  return stderr;
}

export interface Stretch {
  start: number;
  end?: number;
}

function stretches(log: string, startKey: string, endKey: string): Stretch[] {
  const out: Stretch[] = [];
  for (const line of log.split('\n')) {
    const start = new RegExp(`${startKey}:\\s*([\\d.]+)`).exec(line);
    if (start) out.push({ start: Number(start[1]) });
    const end = new RegExp(`${endKey}:\\s*([\\d.]+)`).exec(line);
    if (end && out.length) out[out.length - 1]!.end = Number(end[1]);
  }
  return out;
}

/** Black stretches of at least minSeconds. */
export async function blackStretches(file: string, minSeconds = 0.5): Promise<Stretch[]> {
  return stretches(await ffmpegLog(['-i', file, '-an', '-vf', `blackdetect=d=${minSeconds}:pix_th=0.10`]), 'black_start', 'black_end');
}

/** Frozen stretches (no visible change) of at least minSeconds. */
export async function frozenStretches(file: string, minSeconds = 1): Promise<Stretch[]> {
  return stretches(await ffmpegLog(['-i', file, '-an', '-vf', `freezedetect=n=0.001:d=${minSeconds}`]), 'freeze_start', 'freeze_end');
}

/** Silent stretches (below -50 dB) of at least minSeconds. */
export async function silentStretches(file: string, minSeconds = 1): Promise<Stretch[]> {
  return stretches(await ffmpegLog(['-i', file, '-vn', '-af', `silencedetect=n=-50dB:d=${minSeconds}`]), 'silence_start', 'silence_end');
}

export async function meanVolumeDb(file: string): Promise<number> {
  const log = await ffmpegLog(['-i', file, '-vn', '-af', 'volumedetect']);
  const match = /mean_volume:\s*(-?[\d.]+|-inf) dB/.exec(log);
  return match ? Number(match[1] === '-inf' ? -Infinity : match[1]) : -Infinity;
}

/**
 * The settings x264 encoded a file's video with, as it wrote them into the stream itself (a SEI message:
 * "x264 - core … - options: cabac=1 ref=1 …"), name → value; empty when no x264 wrote the video.
 */
export function x264Options(file: string): Record<string, string> {
  const match = /x264 - core [^\0]*? - options: ([^\0]*)/.exec(readFileSync(file).toString('latin1'));
  return Object.fromEntries((match?.[1] ?? '').split(' ').filter((o) => o.includes('=')).map((o) => o.split('=', 2) as [string, string]));
}

export interface Frame {
  width: number;
  height: number;
  rgb(x: number, y: number): [number, number, number];
}

export async function frameAt(file: string, seconds: number, width: number, height: number): Promise<Frame> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-ss', String(seconds), '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
    encoding: 'buffer',
    maxBuffer: width * height * 3 + 1024,
  });
  const data = stdout as unknown as Buffer;
  if (data.length !== width * height * 3) throw new Error(`decoded ${data.length} bytes, expected a ${width}x${height} RGB frame`);
  return {
    width,
    height,
    rgb(x, y) {
      const i = (y * width + x) * 3;
      return [data[i]!, data[i + 1]!, data[i + 2]!];
    },
  };
}

/** Whether a color is within `tolerance` of the expected one in every channel. */
export function near(actual: [number, number, number], expected: [number, number, number], tolerance = 40): boolean {
  return actual.every((v, i) => Math.abs(v - expected[i]!) <= tolerance);
}

/**
 * Times at which the picture turns bright (mean luma above half) and at which a sound starts (after at
 * least 0.2 s below -30 dB): the flashes and beeps of the demo page's pattern=flash. With keepStamps the
 * file's own timestamps are used as they are (ffmpeg's -copyts).
 */
export async function flashesAndBeeps(file: string, keepStamps = false): Promise<{ flashes: number[]; beeps: number[] }> {
  const copyts = keepStamps ? ['-copyts'] : [];
  const video = await run('ffmpeg', ['-v', 'error', ...copyts, '-i', file, '-map', '0:v', '-vf', 'signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-', '-f', 'null', '-'], { maxBuffer: 64 << 20 });
  const flashes: number[] = [];
  let time = 0;
  let wasBright = false;
  for (const line of video.stdout.split('\n')) {
    const pts = /pts_time:([\d.]+)/.exec(line);
    if (pts) time = Number(pts[1]);
    const y = /YAVG=([\d.]+)/.exec(line);
    if (y) {
      const bright = Number(y[1]) > 128;
      if (bright && !wasBright) flashes.push(time);
      wasBright = bright;
    }
  }
  const audio = await ffmpegLog([...copyts, '-i', file, '-map', '0:a', '-af', 'silencedetect=n=-30dB:d=0.2']);
  const beeps = [...audio.matchAll(/silence_end: ([\d.]+)/g)].map((m) => Number(m[1]));
  return { flashes, beeps };
}

/** Seconds from each white flash to its nearest beep (audio after video is positive), within half a second. */
export async function flashBeepOffsets(file: string): Promise<number[]> {
  const { flashes, beeps } = await flashesAndBeeps(file);
  return flashes.map((f) => beeps.map((b) => b - f).reduce((best, d) => (Math.abs(d) < Math.abs(best) ? d : best), Infinity)).filter((d) => Math.abs(d) < 0.5);
}
