// Each recording's picture delay, measured, so its sound can be shifted to meet its picture.
//
// Why: a frame's way from the page to ffmpeg's stamp (Chromium's frame pipeline, one or two frames,
// then the wait for x11grab's next grab) is fixed within one capture but differs between captures by up
// to 70 ms, while a sound's way is the same every time (recorder-av-paths benchmark). A fixed audio
// delay therefore left recordings between -24 and +38 ms apart.
//
// How: the screen is probeRows taller than the recording. All through each capture part, the page
// shows a strip in those rows whose grey level is the page's clock (ms, modulo 256) at
// the animation frame that drew it. ffmpeg crops the strip off the recording and, in a branch of its
// filter graph, logs each grabbed strip's level with the frame's stamp (showinfo). Stamp minus level is
// that frame's delay from the page to ffmpeg; the median over the probe is the part's picture delay.
// The strip is outside the recording, so the recording shows nothing of it; the page's viewport is
// probeRows taller than the recording, a difference no call layout notices.

/** Rows below the recorded picture that carry the probe strip. */
export const probeRows = 2;
/**
 * After this long a part's shift is settled a first time (kept beside the part for a salvage); the
 * strip is read all through the part and the shift settled again, from every reading, when it ends.
 */
export const probeSeconds = 3;

/**
 * The picture delay that the capture's fixed audio delay (capture-args.ts) matches: a part with this
 * picture delay needs no shift. Calibrated with `npm run bench recorder-av-sync`: at 72 the corrected
 * recordings' own offsets were 7-10 ms (6 recordings, picture delays 37-74 ms), all alike, so 9 more.
 */
export const pictureDelayMatchedByCaptureMs = 81;

/**
 * A picture delay outside this range is not a delay but a misread strip (the page covered it, say). A
 * frame cannot reach ffmpeg before it was drawn, but it can come within a few ms: with the strip drawn
 * all through the part, Chromium draws every frame and delays of 8-63 ms were measured (720p). The
 * delay is known modulo 256 ms, so the upper bound also keeps "just before it was drawn" out.
 */
const plausibleDelayMs: [number, number] = [-5, 200];
/** Fewer strip readings than this, or fewer than half of them near the median, and the probe failed. */
const minimumReadings = 10;
const agreementMs = 25;

/**
 * The page's side: a strip in the top layer (above the page's own content) at the bottom of the
 * viewport, repainted in every animation frame with the page's clock, removed after `seconds`. A
 * string, evaluated in the page (the recorder is compiled without the DOM's types). It resolves with
 * the time of the first animation frame it painted in (ms since the epoch): where Chromium's frame
 * clock stands (grab-phase.ts).
 */
export function pictureProbeScript(seconds: number): string {
  return `new Promise((frameTime) => {
    const id = '__recorder_picture_probe';
    document.getElementById(id)?.remove();
    const strip = document.createElement('div');
    strip.id = id;
    strip.setAttribute('popover', 'manual');
    strip.style.cssText = 'position:fixed;inset:auto 0 0 0;width:auto;height:${probeRows}px;margin:0;padding:0;border:0;outline:0;overflow:hidden;pointer-events:none;z-index:2147483647;background:#000';
    document.documentElement.appendChild(strip);
    try { strip.showPopover(); } catch {}
    const end = performance.now() + ${Math.round(seconds * 1000)};
    const paint = (frame) => {
      frameTime(performance.timeOrigin + frame);
      const now = performance.now();
      if (now > end) { strip.remove(); return; }
      const level = Math.floor(performance.timeOrigin + now) % 256;
      strip.style.backgroundColor = 'rgb(' + level + ',' + level + ',' + level + ')';
      requestAnimationFrame(paint);
    };
    requestAnimationFrame(paint);
  })`;
}

/**
 * The filter branch that reads the strip of input `input` (the x11grab input's pad): cropped, grey,
 * logged per frame by showinfo at info level, for the whole part (ffmpeg exits only when every branch
 * has ended, so it ends with the part).
 */
export function probeBranch(input: string, width: number, height: number, partSeconds: number): string {
  return `${input}crop=${width}:${probeRows}:0:${height},trim=end=${partSeconds.toFixed(3)},format=gray,showinfo,nullsink`;
}

/**
 * Reads ffmpeg's stderr lines of one part: the x11grab input's start (the wall-clock stamp of its first
 * frame: with -copyts -start_at_zero, a frame's pts is its stamp less this; after the fps filter, its
 * slot's, which is the time it has in the file) and the strip's levels.
 */
export class PictureDelayReader {
  private inScreenInput = false;
  private startSeconds?: number;
  private readonly readings: { stampMs: number; level: number }[] = [];
  private frameSeen!: () => void;
  /**
   * Resolves at the first strip's line: the filter graph logs each grabbed frame before it is encoded,
   * ~0.1 s before ffmpeg's progress counts it (x264's frame threads, the muxer waiting for the sound).
   */
  readonly firstFrame = new Promise<void>((resolve) => (this.frameSeen = resolve));

  line(text: string): void {
    if (/^Input #\d+, /.test(text)) {
      this.inScreenInput = /^Input #\d+, x11grab,/.test(text);
      return;
    }
    if (this.inScreenInput && this.startSeconds === undefined) {
      const start = /\bstart: (\d+\.\d+)/.exec(text);
      if (start) this.startSeconds = Number(start[1]);
      return;
    }
    const frame = /Parsed_showinfo_\d+ @ [^\]]+\] n:\s*\d+ pts:\s*-?\d+ pts_time:(-?[\d.e+-]+) .*\bmean:\[(\d+)/.exec(text);
    if (!frame) return;
    this.frameSeen();
    if (this.startSeconds !== undefined) this.readings.push({ stampMs: (this.startSeconds + Number(frame[1])) * 1000, level: Number(frame[2]) });
  }

  /** The part's picture delay in ms, or undefined when the strip could not be read. */
  delayMs(): number | undefined {
    return pictureDelayFromReadings(this.readings);
  }

  /** How the frames' delays spread (pictureDelaySpread), or undefined when the strip could not be read. */
  spreadMs(): ReturnType<typeof pictureDelaySpread> {
    return pictureDelaySpread(this.readings);
  }

  /** What was read, for the log when no delay came of it. */
  summary(): { screenStartSeconds?: number; readings: number; firstLevels: number[] } {
    return { screenStartSeconds: this.startSeconds, readings: this.readings.length, firstLevels: this.readings.slice(0, 12).map((r) => r.level) };
  }
}

/**
 * Each new level (a new animation frame; a frame grabbed twice counts once, at its first grab, as a
 * flash is seen at its first frame) gives stamp - page time. The page time is only known modulo 256 ms,
 * so the delay is too; the plausible range is well inside that.
 */
export function pictureDelayFromReadings(readings: { stampMs: number; level: number }[]): number | undefined {
  const delays = frameDelays(readings);
  if (delays.length < minimumReadings) return undefined;
  const sorted = [...delays].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const agreeing = delays.filter((d) => Math.abs(d - median) <= agreementMs).length;
  if (agreeing * 2 < delays.length || median < plausibleDelayMs[0] || median > plausibleDelayMs[1]) return undefined;
  return Math.round(median * 10) / 10;
}

/** Each new level's delay in ms (see pictureDelayFromReadings), in the order read. */
function frameDelays(readings: { stampMs: number; level: number }[]): number[] {
  const wrapped: number[] = [];
  let previous: number | undefined;
  for (const { stampMs, level } of readings) {
    if (level !== previous) wrapped.push((((stampMs - level - 0.5) % 256) + 256) % 256);
    previous = level;
  }
  return wrapped.length ? unwrapped(wrapped) : [];
}

/**
 * How the frames' delays spread around the part's picture delay: the 5th, 50th and 95th percentile and
 * the largest, in ms. The shift puts the median on the sound, so a frame's own offset from its sound is
 * its delay less the median: a spread of one frame (33 ms) or more is what a single flash's offset can be.
 */
export function pictureDelaySpread(readings: { stampMs: number; level: number }[]): { p5: number; p50: number; p95: number; max: number } | undefined {
  const sorted = frameDelays(readings).sort((a, b) => a - b);
  if (sorted.length < minimumReadings) return undefined;
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
  return { p5: at(0.05), p50: at(0.5), p95: at(0.95), max: Math.round(sorted.at(-1)!) };
}

/**
 * Delays known modulo 256 ms, placed around their circular mean: a delay near 0 (or 256) would
 * otherwise be split between both ends of the range, and its median lost.
 */
function unwrapped(delays: number[]): number[] {
  const angle = (d: number) => (d / 256) * 2 * Math.PI;
  const mean = ((Math.atan2(delays.reduce((s, d) => s + Math.sin(angle(d)), 0), delays.reduce((s, d) => s + Math.cos(angle(d)), 0)) / (2 * Math.PI)) * 256 + 256) % 256;
  // The centre of the plausible range stays in it: a mean near 256 is a delay near 0.
  const centre = mean > 248 ? mean - 256 : mean;
  return delays.map((d) => centre + ((((d - centre + 128) % 256) + 256) % 256) - 128);
}

/**
 * Seconds to delay the sound of a part (negative: the picture waits) whose picture delay is
 * `pictureDelayMs` and whose first sound was stamped `soundLatenessMs` late (sound-lateness.ts). What
 * was not measured is taken to be as the capture's fixed delay assumes.
 */
export function audioShiftSeconds(pictureDelayMs: number | undefined, soundLatenessMs: number | undefined): number {
  const picture = pictureDelayMs === undefined ? 0 : pictureDelayMs - pictureDelayMatchedByCaptureMs;
  return Math.round(picture - (soundLatenessMs ?? 0)) / 1000;
}
