// One running ffmpeg capture (a "part"): progress from -progress pipe:1, a promise for the first
// captured frame, and a graceful stop (SIGINT) so the container is finished properly.
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnBoundToParent } from '@recording-operator/common/process.ts';
import { settledWithin } from '@recording-operator/common/settled-within.ts';
import type { Logger } from 'pino';

export interface CaptureProgress {
  frames: number;
  droppedFrames: number;
  duplicatedFrames: number;
  /** Media time written so far, in seconds. */
  seconds: number;
  bytes: number;
}

export interface CapturePartOptions {
  env?: NodeJS.ProcessEnv;
  /** The output frame rate of a video part (constant: captureArgs sets -fps_mode cfr). */
  fps?: number;
  /** Every line ffmpeg writes to stderr (the picture-delay probe reads its own). */
  onStderrLine?: (line: string) => void;
}

export class CapturePart {
  readonly progress: CaptureProgress = { frames: 0, droppedFrames: 0, duplicatedFrames: 0, seconds: 0, bytes: 0 };
  /** When media started flowing. */
  private flowingAt?: number;
  /** When progress last arrived (ffmpeg reports every 0.5 s). */
  private progressAt = 0;
  /** Resolves when media is flowing (first video frame, or first audio for audio-only parts). */
  readonly flowing: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * Grabs the fps filter dropped (two in one slot) or repeated (a slot without a grab), which the
   * encoder's own counts no longer see: known when the part has ended (the filter reports then).
   */
  readonly slotting = { dropped: 0, duplicated: 0 };
  /** The sound has been quiet for autoStop.noMediaSeconds (ffmpeg's silencedetect says so). */
  quiet = false;
  /** The picture has been still for autoStop.noMediaSeconds (ffmpeg's freezedetect says so). */
  still = false;
  /** ffmpeg has exited and its output has been read to the end. */
  private closed = false;
  private stderrTail = '';
  private stderrLine = '';
  private readonly child: ChildProcess;
  readonly path: string;
  private readonly log: Logger;

  /** Frame rate of a video part: its media time is its frame count over this. */
  private readonly fps?: number;
  private readonly onStderrLine?: (line: string) => void;

  private constructor(child: ChildProcess, path: string, log: Logger, options: CapturePartOptions) {
    this.child = child;
    this.path = path;
    this.log = log;
    this.fps = options.fps;
    this.onStderrLine = options.onStderrLine;
    // 'close', not 'exit': only once stdout is drained has the final progress report (its media
    // seconds, which decide MAX_DURATION_REACHED) been read. After 'exit' it can still be on its way,
    // and a watchdog tick in between saw a part that ended half a second short of its limit.
    this.exited = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        this.closed = true;
        resolve({ code, signal });
      }),
    );
    let markFlowing: () => void = () => undefined;
    let failFlowing: (err: Error) => void = () => undefined;
    this.flowing = new Promise<void>((resolve, reject) => {
      markFlowing = resolve;
      failFlowing = reject;
    });
    this.flowing.catch(() => undefined);
    void this.exited.then(({ code, signal }) => failFlowing(new Error(`ffmpeg exited (${code ?? signal}) before capturing: ${this.errors()}`)));
    let block: Record<string, string> = {};
    let buffered = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        const eq = line.indexOf('=');
        if (eq < 0) continue;
        const key = line.slice(0, eq);
        block[key] = line.slice(eq + 1);
        if (key === 'progress') {
          this.applyProgress(block);
          block = {};
          if (this.flowingAt === undefined && (this.progress.frames > 0 || this.progress.seconds > 0)) {
            this.flowingAt = Date.now();
            markFlowing();
          }
        }
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-4000);
      const lines = (this.stderrLine + chunk).split('\n');
      this.stderrLine = lines.pop()!;
      for (const line of lines) {
        this.applyDetector(line);
        this.onStderrLine?.(line);
      }
    });
  }

  static start(args: string[], path: string, log: Logger, options: CapturePartOptions = {}): CapturePart {
    const child = spawnBoundToParent('ffmpeg', args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env });
    log.debug({ part: path }, 'ffmpeg started');
    return new CapturePart(child, path, log, options);
  }

  private applyProgress(block: Record<string, string>): void {
    const int = (key: string) => {
      const n = Number(block[key]);
      return Number.isFinite(n) ? n : 0;
    };
    this.progress.frames = int('frame');
    this.progress.droppedFrames = int('drop_frames');
    this.progress.duplicatedFrames = int('dup_frames');
    this.progress.bytes = int('total_size');
    // With -copyts, ffmpeg's out_time counts from the stamp it saw at its first report with any output,
    // up to half a second in: it fell short of the part's real length by that much, and MAX_DURATION
    // looked like a capture that ended early. A constant-rate video part's frames count exactly.
    const us = int('out_time_us');
    if (this.fps) this.progress.seconds = this.progress.frames / this.fps;
    else if (us > 0) this.progress.seconds = us / 1e6;
    this.progressAt = Date.now();
  }

  /** Lines of the detectors of captureArgs' noMediaDetectors, and the fps filter's final report. */
  private applyDetector(line: string): void {
    const slotted = /Parsed_fps_\d+ @ [^\]]+\] \d+ frames in, \d+ frames out; (\d+) frames dropped, (\d+) frames duplicated/.exec(line);
    if (slotted) {
      this.slotting.dropped = Number(slotted[1]);
      this.slotting.duplicated = Number(slotted[2]);
      return;
    }
    if (line.includes('silence_start:')) this.quiet = true;
    else if (line.includes('silence_end:')) this.quiet = false;
    else if (line.includes('freezedetect.freeze_start:')) this.still = true;
    else if (line.includes('freezedetect.freeze_end:')) this.still = false;
    else return;
    this.log.debug({ quiet: this.quiet, still: this.still }, 'media activity changed');
  }

  /** Media seconds written, extrapolated from the last progress report while ffmpeg is running. */
  liveSeconds(now = Date.now()): number {
    if (!this.running || this.progress.seconds === 0) return this.progress.seconds;
    return this.progress.seconds + Math.min(1, (now - this.progressAt) / 1000);
  }

  /** The last lines ffmpeg wrote to stderr, for error reports. */
  errors(): string {
    return this.stderrTail.trim().split('\n').slice(-5).join(' | ');
  }

  get exitCode(): number | null {
    return this.closed ? this.child.exitCode : null;
  }

  get running(): boolean {
    return !this.closed;
  }

  /** Ends a part that never started capturing (it still waited at its gate): there is nothing to finish. */
  abandon(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  /**
   * Asks ffmpeg to finish the file (SIGINT: it ends its loop, flushes the encoders and writes the
   * trailer, as for 'q'); SIGKILL if it does not exit in time. SIGINT is seen at the loop's next turn,
   * 'q' on stdin only when ffmpeg next reads the keyboard (every 0.1 s): stop → part ended 72-212 ms
   * with 'q', 69-82 with SIGINT (local recorder, 5 s 720p parts). A part runs at least minimumMs after
   * media started flowing: stopped sooner, it can end before its first audio packet was written, and a
   * file without its audio track fails verification. RECORDING comes at the first grabbed frame, before
   * ffmpeg's first progress report says media flows, so a stop that follows at once waits for that
   * report too (up to graceMs): without it, a stop 58 ms after RECORDING gave a file with no sound.
   */
  async stop(graceMs = 10_000, minimumMs = 1000): Promise<void> {
    if (!this.running) return;
    if (this.flowingAt === undefined) await settledWithin(this.flowing, graceMs);
    if (this.flowingAt !== undefined) {
      const wait = this.flowingAt + minimumMs - Date.now();
      if (wait > 0) await sleep(wait);
    }
    if (!this.running) return;
    this.child.kill('SIGINT');
    const sigkill = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const { code, signal } = await this.exited;
    clearTimeout(sigkill);
    this.log.debug({ part: this.path, code, signal }, 'ffmpeg stopped');
  }
}
