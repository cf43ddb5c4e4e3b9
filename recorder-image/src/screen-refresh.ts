// The screen's refresh rate, set so that Chromium draws on the same beat as ffmpeg grabs.
//
// Why: Chromium times its frames from the screen's refresh rate, which Xvfb does not report; it then
// assumes 60 Hz, a frame every 16,666 µs (1/60 s in whole µs, cut short), and the energy saver takes
// every other one: 33,332 µs. x11grab grabs every 33,333 µs (1/30 s, rounded). The grabs' place
// between Chromium's frames (grab-phase.ts) then moved 2.4 ms a minute (measured): a long recording's
// picture came later and later against its sound, by up to a frame, then jumped back. A screen mode
// whose refresh rate makes Chromium's frame interval the grab interval, to the µs, keeps that place
// for the whole part. Both count on the same clock (CLOCK_MONOTONIC).
import type { Logger } from 'pino';
import { setScreenMode, type ModeTimings } from './x11-randr.ts';

/** x11grab's time between grabs, µs: 1/fps rounded (av_rescale_q). */
export function grabIntervalUs(fps: number): number {
  return Math.round(1_000_000 / fps);
}

/** Chromium's time between frames, µs, on a screen of `refreshHz`: 1/refresh in whole µs, cut short. */
export function chromiumFrameIntervalUs(refreshHz: number): number {
  return Math.trunc(1_000_000 / refreshHz);
}

/**
 * A screen mode of width × height whose refresh rate gives Chromium the grab interval of `fps`: the
 * rate whose period is half a µs past that interval, so that neither the mode's whole-Hz pixel clock
 * nor Chromium's single-precision rate can push it into the next µs.
 */
export function refreshModeFor(width: number, height: number, fps: number): ModeTimings & { refreshHz: number } {
  const wanted = 1_000_000 / (grabIntervalUs(fps) + 0.5);
  // Only the clock and the totals' product matter (Xvfb scans nothing out). Ten million pixels a frame
  // make the clock's whole Hz fine enough, even at 5 fps; each total stays within its 16 bits.
  const lineTotal = Math.max(width, 4096);
  const frameTotal = Math.max(height, Math.ceil(10_000_000 / lineTotal));
  const pixelClockHz = Math.round(wanted * lineTotal * frameTotal);
  return { name: `${width}x${height}@${fps}`, width, height, lineTotal, frameTotal, pixelClockHz, refreshHz: pixelClockHz / (lineTotal * frameTotal) };
}

/** Puts Xvfb's screen (`display`, width × height) in the mode of refreshModeFor. */
export async function setScreenRefresh(display: string, width: number, height: number, fps: number, log: Logger): Promise<void> {
  const mode = refreshModeFor(width, height, fps);
  await setScreenMode(display, mode);
  log.debug({ display, mode: mode.name, refreshHz: mode.refreshHz }, 'screen refresh rate set');
}
