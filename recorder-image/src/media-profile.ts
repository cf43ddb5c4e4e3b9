// How a configured output becomes encoder settings, file names and MIME types. Pure.
import type { RecorderConfig } from '@recording-operator/common/protocol/recorder-config.ts';

type Output = RecorderConfig['output'];

export interface MediaProfile {
  extension: string;
  contentType: string;
  /** ffmpeg muxer for capture parts (crash-safe: fragmented MP4, Matroska clusters, Ogg pages, MP3 frames). */
  partFormat: string;
  partMuxerOptions: string[];
  videoEncoder: string[];
  /**
   * The encoder stores every frame in display order (no B-frames), so a join can move the picture's
   * stamps as it reads them (finalize.ts); with B-frames that would lose the picture's start delay.
   */
  videoInDisplayOrder: boolean;
  audioEncoder: string[];
  /** Separate audio file (exportAudio): extension and MIME type of the copied audio stream. */
  audioExport: { extension: string; contentType: string; format: string };
}

/** Default video bitrate by pixel count, near what the hosted recording services produce. */
export function defaultVideoBitrate(width: number, height: number): number {
  const pixels = width * height;
  if (pixels <= 640 * 360) return 1_000_000;
  if (pixels <= 854 * 480) return 1_500_000;
  if (pixels <= 1280 * 720) return 3_000_000;
  if (pixels <= 1920 * 1080) return 5_000_000;
  return 8_000_000;
}

/**
 * x264's settings by size: its speed, its threads (x264Threads) and its quality floor. From 720p up:
 * the ultrafast preset with CABAC and the deblocking filter put back. Measured on our 2-core machines
 * with the demo page at 1080p30 and 5 Mbit/s (capture and encode, ffmpeg alone): superfast 0.90 core,
 * this 0.56; SSIM against the uncompressed capture 0.99707 for superfast, 0.99736 for this (plain
 * ultrafast 0.99714: CABAC buys the difference, deblocking hides block edges at low bitrates). At a
 * fixed bitrate superfast's extra analysis does not pay on call pages. Smaller sizes afford veryfast.
 */
export function x264Settings(width: number, height: number): string[] {
  if (!x264Ultrafast(width, height)) return ['-preset', 'veryfast', '-x264-params', x264QualityFloor, ...x264Threads(width, height)];
  return ['-preset', 'ultrafast', '-x264-params', `cabac=1:deblock=1:${x264QualityFloor}`, ...x264Threads(width, height)];
}

/**
 * The finest quantizer x264 may use. The bitrate is a target, and on a call page most of the picture
 * stands still: the rest fits in far fewer bits, so rate control alone drove the quantizer down to
 * 4-12 (near lossless) and spent the whole target coding the participants' videos, themselves already
 * compressed, almost exactly. 18 is where x264's output is commonly taken as visually lossless; the
 * quantizer goes no lower, and harder pictures still get the whole target. Measured on 10 s of the
 * 4-participant call page (raw grabs, encoded as the recorder does): 720p at 3 Mbit/s, file 1.89 →
 * 0.72 MB, luma PSNR against the grabs 58.8 → 47.7 dB, x264's instructions -19 %; 1080p at 5 Mbit/s,
 * 1.80 → 0.62 MB, 54.5 → 45.1 dB, -16 %; side by side at 2× no difference shows on the page's text.
 * Live at 720p (ffmpeg as the recorder runs it, four interleaved pairs of 20 s): 0.008 core less.
 */
const x264QualityFloor = 'qpmin=18';

/**
 * VP8's finest quantizer (0-63; libvpx's own floor is 4), for the reason of x264QualityFloor. On 10 s
 * of the call page at 720p and 3 Mbit/s: file 1.35 → 0.76 MB, luma PSNR 43.3 → 42.8 dB (realtime VP8
 * is coarser than x264 anyway), libvpx's instructions -5 %; side by side at 2× no difference shows.
 */
const vp8QualityFloor = 10;

/** The sizes x264Settings encodes with ultrafast, which makes no B-frames (veryfast makes up to 3). */
function x264Ultrafast(width: number, height: number): boolean {
  return width * height >= 1280 * 720;
}

/**
 * x264's threads, fixed by output size. Left to x264 they follow the node's cores, not the Pod's CPU
 * allowance (1.5 per core: 3 on our 2-core machines, 48 on a 32-core node), and every thread holds
 * frames of its own and delays the output by a frame, so the recording's memory and latency would
 * follow the node rather than what was measured here.
 * - Below 1080p one thread keeps up with room to spare (ultrafast at 720p: a few ms a frame), and every
 *   thread x264 adds costs the hand-over between threads each frame: one instead of two at 720p, ffmpeg
 *   0.019 core less on average over seven interleaved pairs on the call page, lower in six (2026-12-03;
 *   offline the encoding work is the same), and every frame kept with the control plane beside
 *   (recorder-frames.bench.ts, 720p); two instead of three saved 10 MiB.
 * - At 1080p one thread fell behind the capture at times (ffmpeg's grab queue grew: 166 MiB peak
 *   against 126-134), so two. Against x264's three: ffmpeg 0.01 core less (0.588 against 0.598, lower
 *   in three interleaved rounds of 20 s); with the filters on one thread too, the whole recorder's peak
 *   PSS 572-597 MiB against 598-636 (four interleaved recordings), and every frame kept with the control
 *   plane beside (recorder-frames.bench.ts: 914 of 914).
 * - Above 1080p (1440p) three, x264's own count on the machines the figures come from.
 */
function x264Threads(width: number, height: number): string[] {
  const pixels = width * height;
  if (belowFullHd({ width, height })) return ['-threads', '1'];
  return ['-threads', pixels <= 1920 * 1080 ? '2' : '3'];
}

/** Smaller than 1080p: where the encoder keeps up with room to spare on 2 cores (fewer threads, a shorter grab queue). */
export function belowFullHd(size: { width: number; height: number }): boolean {
  return size.width * size.height < 1920 * 1080;
}

/**
 * Each finished fragment, cluster or page goes to the disk at once. Without this ffmpeg keeps up to
 * 32 KiB of it in its output buffer, so a crash left the last fragment cut short, and a cut sample
 * ends reading there: a SIGKILL test lost one more second than the fragment being written.
 */
const flushEachUnit = ['-flush_packets', '1'];
const fragmentedMp4 = ['-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-frag_duration', '1000000', ...flushEachUnit];

export function mediaProfile(output: Output): MediaProfile {
  const { video, audio } = output;
  const audioEncoder = {
    AAC: ['-c:a', 'aac'],
    MP3: ['-c:a', 'libmp3lame'],
    OPUS: ['-c:a', 'libopus', '-application', 'audio'],
    VORBIS: ['-c:a', 'libvorbis'],
  }[audio.codec];
  const audioArgs = [...audioEncoder, '-b:a', String(audio.bitrate), '-ac', String(audio.channels), '-ar', '48000'];
  const audioExport = {
    AAC: { extension: 'm4a', contentType: 'audio/mp4', format: 'ipod' },
    MP3: { extension: 'mp3', contentType: 'audio/mpeg', format: 'mp3' },
    OPUS: { extension: 'ogg', contentType: 'audio/ogg', format: 'ogg' },
    VORBIS: { extension: 'ogg', contentType: 'audio/ogg', format: 'ogg' },
  }[audio.codec];

  if (!video) {
    const part = { AAC: ['mp4', fragmentedMp4], MP3: ['mp3', flushEachUnit], OPUS: ['ogg', flushEachUnit], VORBIS: ['ogg', flushEachUnit] } as const;
    const [partFormat, partMuxerOptions] = part[audio.codec];
    return { ...audioExport, partFormat, partMuxerOptions: [...partMuxerOptions], videoEncoder: [], videoInDisplayOrder: true, audioEncoder: audioArgs, audioExport };
  }
  const bitrate = video.bitrate ?? defaultVideoBitrate(video.width, video.height);
  const gop = String(video.fps * 2);
  if (video.codec === 'H264') {
    return {
      extension: 'mp4',
      contentType: 'video/mp4',
      partFormat: 'mp4',
      partMuxerOptions: fragmentedMp4,
      videoEncoder: [
        '-c:v', 'libx264', ...x264Settings(video.width, video.height), '-pix_fmt', 'yuv420p',
        '-b:v', String(bitrate), '-maxrate', String(Math.round(bitrate * 1.5)), '-bufsize', String(bitrate * 2),
        '-g', gop, '-keyint_min', gop, '-sc_threshold', '0',
      ],
      videoInDisplayOrder: x264Ultrafast(video.width, video.height),
      audioEncoder: audioArgs,
      audioExport,
    };
  }
  return {
    extension: 'webm',
    contentType: 'video/webm',
    partFormat: 'webm',
    partMuxerOptions: ['-cluster_time_limit', '1000', ...flushEachUnit],
    videoEncoder: ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', String(bitrate), '-qmin', String(vp8QualityFloor), '-g', gop, '-auto-alt-ref', '0', '-threads', '2'],
    // Without alternate reference frames VP8 has nothing stored out of order.
    videoInDisplayOrder: true,
    audioEncoder: audioArgs,
    audioExport,
  };
}
