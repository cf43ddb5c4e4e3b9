// The ffmpeg command that captures one part (a recording is one part per stretch between pauses). Pure.
// Lessons from our measurements (ENGINEERING.md and the A/V benchmark): read audio in 10 ms fragments;
// always -framerate (x11grab defaults to 29.97) and a constant output frame rate; write a crash-safe
// container. ENGINEERING.md's "pulse input before x11grab" held for inputs stamped at their own zero;
// stamped on the wall clock (below) the order does not move the sound, and x11grab goes first so that
// its grab clock starts when the gate says (grab-phase.ts).
// A/V sync: every input is stamped with the wall clock when ffmpeg reads it. -copyts -start_at_zero
// alone would start each input at its own zero, and the two inputs' first reads are tens of ms apart
// (the first grab came 39-67 ms after the first sound, measured when the sound opened first), a
// different amount in every recording; -isync puts the sound on the screen's zero, so both keep their
// wall-clock distance. What still differs between recordings (the picture's delay, the first sound's
// lateness) is measured in the same graph (picture-delay.ts, sound-lateness.ts) and corrected at the
// join.
import type { RecorderConfig } from '@recording-operator/common/protocol/recorder-config.ts';
import { sampleRate } from './display.ts';
import { belowFullHd, type MediaProfile } from './media-profile.ts';
import { probeBranch, probeRows } from './picture-delay.ts';
import { continuousSound, soundProbeBranch } from './sound-lateness.ts';

export interface CaptureSources {
  /** X display, such as ":99". */
  display: string;
  /** PulseAudio server address, such as unix:/run/pulse/native. */
  pulseServer: string;
  /** Monitor source of the null sink Chromium plays into. */
  pulseSource: string;
  /** Local copy of the watermark image. */
  watermarkFile?: string;
  /** The input ffmpeg opens first and waits at until the part is due (CaptureGate.inputArgs). */
  gateInput?: string[];
}

const margin = 16;
/**
 * Both inputs state their format themselves: ffmpeg need not read ahead to learn it. Its default
 * read-ahead (5 MB) is two screen grabs at 720p, one more grab interval before the first frame.
 */
const quickOpen = ['-probesize', '32', '-analyzeduration', '0'];
/**
 * The filter graphs run in ffmpeg's own thread. Left to ffmpeg, a graph gets a thread per core of the
 * node (not of the Pod's CPU allowance), and the conversion (scale) is cut into that many slices every
 * frame: on 2 cores the hand-over cost more than it shared, and on a 32-core node each frame would wake
 * 32 threads. Measured with ffmpeg as the recorder runs it on the live call page, four interleaved
 * pairs of 20 s each: 720p 0.328 → 0.302 core (lower or equal in all four), 1080p 0.606 → 0.579 (lower
 * in all four). x264's own threads are fixed by size too (media-profile.ts, x264Threads).
 */
export const oneFilterThread = ['-filter_threads', '1', '-filter_complex_threads', '1'];
/** Grabs left out at the start of each part (see the fps filter in captureArgs). */
const skippedFirstGrabs = 2;
const pulseFragmentBytes = 1920;

/**
 * The screen's pixels (bgr0) to the encoders' yuv420p, in the graph rather than left to the scaler
 * ffmpeg inserts before the encoder. That one halves the chroma's width in plain C (swscale's "half"
 * input readers have no SIMD); full_chroma_inp reads it at full width with SIMD and halves it in the
 * horizontal scaler. Measured with bicubic filtering on 600 grabs of the 4-participant call page at
 * 720p (ffmpeg 5.1, CPU time per second of picture, reading the grabs aside): 0.091 → 0.050 core;
 * 0.19 → 0.11 at 1080p; the luma identical, the chroma nearer a Lanczos reference (PSNR 50 dB against 46).
 *
 * The area filter halves the chroma as a 2×2 average (as libyuv does for WebRTC) instead of bicubic's
 * 8 taps: 10 % fewer instructions (40 grabs at 720p, callgrind). Against the Lanczos reference it is
 * further off (44 dB), but that is not what a viewer sees: back in RGB after x264, against the grabs,
 * PSNR 29.46 dB instead of bicubic's 29.38 at 720p, 32.01 instead of 31.92 at 1080p (the sharper chroma
 * rings at the call page's colour edges), and files 1-2.5 % smaller.
 */
const toEncoderFormat = 'scale=flags=area+full_chroma_inp,format=yuv420p';

/**
 * How much longer a frame takes than a sound from the page to ffmpeg's stamp, the sound's capture
 * fragment aside. Measured (recorder-av-paths benchmark): a frame 51-107 ms, typically 72 (Chromium's
 * compositor takes one or two frames, then the picture waits up to a frame for the next grab; both are
 * fixed for a recording); a sound 31 ms plus its fragment. Those two alone give 41 ms; the finished
 * files' own offsets (flash-and-beep benchmark, which also sees what encoding and muxing add) centre on
 * 0 at 50: 12 recordings between -24 and +29 ms, without any shift between -64 and -11.
 */
const pictureLagOverSoundMs = 50;

/**
 * How much later to stamp the sound, so that it meets the picture it belongs to: the frame's longer
 * way, less the fragment (a fragment is stamped when it is complete: 10 ms for stereo, 20 for mono).
 */
export function audioDelaySeconds(channels: number): number {
  const fragmentSeconds = pulseFragmentBytes / (sampleRate * 2 * channels);
  return pictureLagOverSoundMs / 1000 - fragmentSeconds;
}

/**
 * autoStop.noMediaSeconds: ffmpeg's detectors log when the sound has been quiet, or the picture still,
 * for that long (CapturePart reads them). Quiet is below -50 dB: no voice, at most an open microphone's
 * hiss. Still is ffmpeg's default of less than -60 dB change between frames.
 */
export function noMediaDetectors(seconds: number): { audio: string; video: string } {
  return { audio: `silencedetect=noise=-50dB:duration=${seconds}`, video: `freezedetect=duration=${seconds}` };
}

function watermarkPosition(position: NonNullable<RecorderConfig['watermark']>['position']): string {
  const x = position.startsWith('left') ? String(margin) : `main_w-overlay_w-${margin}`;
  const y = position.endsWith('top') ? String(margin) : `main_h-overlay_h-${margin}`;
  return `${x}:${y}`;
}

/**
 * @param limitSeconds media seconds this part may still record: ffmpeg stops exactly there (-t), which a
 *   watchdog cannot do because the encoder's reported time lags the capture when it is busy.
 */
export function captureArgs(
  config: RecorderConfig,
  profile: MediaProfile,
  sources: CaptureSources,
  partPath: string,
  limitSeconds: number,
  rtmpTarget?: string,
): string[] {
  const { video, audio } = config.output;
  const noMediaSeconds = config.autoStop.noMediaSeconds;
  // Info level: the detectors and the picture-delay probe log there, and so does the x11grab input's
  // start stamp the probe needs; the fps filter reports the grabs it dropped or repeated at verbose
  // level, once, when the part ends. Audio-only parts need info level only for the detectors.
  const args = ['-hide_banner', '-loglevel', video ? 'verbose' : noMediaSeconds > 0 ? 'info' : 'warning', '-nostats', '-progress', 'pipe:1', '-stats_period', '0.5', '-y', ...oneFilterThread];
  // Inputs are opened in order: the gate, when there is one, holds back the others (and never is mapped).
  const gate = sources.gateInput ?? [];
  // The screen first: x11grab's grab clock starts when its input opens, and the gate is timed for that
  // moment (grab-phase.ts). Opened after the sound, the clock also waited for PulseAudio's stream to be
  // set up, which took longer when the machine was busy and moved the grabs' phase by up to a frame.
  const screen = gate.length ? 1 : 0;
  const sound = video ? screen + 1 : screen;
  const watermark = sound + 1;
  args.push(...gate);
  if (video) {
    // The screen is probeRows taller than the recording: the strip below it is the picture-delay probe.
    args.push(
      '-thread_queue_size', String(grabQueueFrames(video)), ...quickOpen, '-use_wallclock_as_timestamps', '1',
      '-f', 'x11grab', '-framerate', String(video.fps), '-video_size', `${video.width}x${video.height + probeRows}`, '-draw_mouse', '0',
      '-i', `${sources.display}.0+0,0`,
    );
  }
  // Sound and picture are aligned on the wall clock at which each was read, from the screen's zero
  // (-isync: the x11grab input). A sound-only part has nothing to align: its own stamps, from 0, and
  // ffmpeg's progress then counts from 0 too (with -copyts it does not).
  const alignToPicture = video ? ['-use_wallclock_as_timestamps', '1', '-itsoffset', audioDelaySeconds(audio.channels).toFixed(3), '-isync', String(screen)] : [];
  args.push(
    '-thread_queue_size', '4096', ...quickOpen, ...alignToPicture,
    '-f', 'pulse', '-server', sources.pulseServer, '-fragment_size', String(pulseFragmentBytes), '-sample_rate', String(sampleRate), '-channels', String(audio.channels),
    '-i', sources.pulseSource,
  );
  const maps: string[] = [];
  if (video) {
    // After the conversion to the encoder's format, so the freeze detector compares the smaller frames.
    const freeze = noMediaSeconds > 0 ? `,${noMediaDetectors(noMediaSeconds).video}` : '';
    // The constant frame rate is made here, each grab in the slot nearest its stamp, so that the probe
    // reads the frames with the times they will have in the file. Left to the encoder's -fps_mode cfr,
    // frames could sit up to a slot from their stamps for a whole recording (it re-slots only beyond
    // 1.1 frames): recordings came out one frame apart. The slots count from the first frame kept; the
    // first grabs are left out, as the very first can come late (a cold grab) and would put every later
    // frame near a slot's edge, where the grab's jitter moves frames between slots.
    const graph = [`[${screen}:v]trim=start_frame=${skippedFirstGrabs},fps=${video.fps}:round=near,split=2[screen][probe]`, probeBranch('[probe]', video.width, video.height, limitSeconds)];
    const picture = `[screen]crop=${video.width}:${video.height}:0:0,${toEncoderFormat}`;
    if (sources.watermarkFile && config.watermark) {
      args.push('-use_wallclock_as_timestamps', '1', '-i', sources.watermarkFile);
      const { width, height, position } = config.watermark;
      const scale = width || height ? `scale=${width ?? -1}:${height ?? -1}` : 'null';
      // Overlaid on the converted picture: the still watermark is converted once, not every frame.
      graph.push(`[${watermark}:v]${scale}[wm]`, `${picture}[pic]`, `[pic][wm]overlay=${watermarkPosition(position)}:format=yuv420${freeze}[v]`);
    } else {
      graph.push(`${picture}${freeze}[v]`);
    }
    // The sound in the same graph: counted from its first stamp, and that stamp's lateness measured.
    const quiet = noMediaSeconds > 0 ? `,${noMediaDetectors(noMediaSeconds).audio}` : '';
    graph.push(`[${sound}:a]asplit=2[sound][soundprobe]`, soundProbeBranch('[soundprobe]', limitSeconds), `[sound]${continuousSound}${quiet}[a]`);
    args.push('-filter_complex', graph.join(';'));
    maps.push('-map', '[v]', '-map', '[a]');
  } else {
    maps.push('-map', `${sound}:a`);
    if (noMediaSeconds > 0) maps.push('-filter:a', noMediaDetectors(noMediaSeconds).audio);
  }
  if (video) args.push('-copyts', '-start_at_zero');
  args.push(...maps, ...profile.videoEncoder, ...profile.audioEncoder);
  if (video) args.push('-fps_mode', 'cfr', '-r', String(video.fps));
  args.push('-t', limitSeconds.toFixed(3));
  if (rtmpTarget) {
    // One encode, two destinations; a failing live stream must never stop the recording.
    const fileOptions = [`f=${profile.partFormat}`, ...pairs(profile.partMuxerOptions)].join(':');
    args.push('-flags', '+global_header', '-f', 'tee', `[${fileOptions}]${partPath}|[f=flv:onfail=ignore]${rtmpTarget}`);
  } else {
    args.push(...profile.partMuxerOptions, '-f', profile.partFormat, partPath);
  }
  return args;
}

/** ['-movflags', 'x', '-frag_duration', '1'] → ['movflags=x', 'frag_duration=1'] for the tee muxer. */
function pairs(options: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < options.length; i += 2) out.push(`${options[i]!.replace(/^-/, '')}=${options[i + 1]!.replace(/:/g, '\\:')}`);
  return out;
}

/**
 * How many grabs may wait for the encoder. Each holds a shared-memory image of the whole screen (3.7 MB
 * at 720p, 8 MB at 1080p) in ffmpeg and in Xvfb, and x11grab's pool keeps as many as ever waited at once.
 * At 1080p a second of them (with 1,024 a recording on 2 saturated cores grew to 1.9 GB PSS in 50 s, a
 * 4 s backlog once; with 30 it stayed at 1.1 GB, keeping pace). Below it the encoder has room to spare
 * and a quarter of a second is enough: at 720p the pool stays at 9 images instead of 15 (22 MB less).
 */
export function grabQueueFrames(video: { width: number; height: number; fps: number }): number {
  return belowFullHd(video) ? Math.ceil(video.fps / 4) : video.fps;
}
