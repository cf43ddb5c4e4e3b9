// When to let a capture part's ffmpeg start, so that its grabs fall between Chromium's frames.
//
// Why: Chromium draws at 30 Hz on a frame clock of its own, and x11grab grabs at 30 Hz on a clock that
// starts when its input opens. A frame reaches the screen some ms after its frame time (its raster and
// draw, longer at 1080p on 2 cores); a grab that falls inside that spread takes some frames at once
// and others a whole frame later, and in the file those frames (a flash against its beep) are a frame
// late. 64 recordings at 1080p, unaligned, by the phase of their grabs against the frame clock (the
// part's picture delay modulo a frame, logged as grabPhaseMs): with it between 11 and 25 ms, 19 of 44
// had frames a frame late or early, 12 of them flash/beep pairs beyond ±33 ms; between 25 ms and 10 ms
// past the next frame, 2 of 20, and no pair beyond.
//
// How: the gate opens just before Chromium's next frame. ffmpeg's screen input then opens between two
// frames, and the grabs came out 20.6-30.1 ms past a frame time in 9 of 12 recordings at 1080p (0.7 and
// 3.5 in two, also good; 10.4 in one, at a busy moment: its first grab came 79 ms after the gate,
// against 62-72 in most). Opened elsewhere in the frame the result moves with it, but not one for one:
// opened just after a frame, while Chromium draws, ffmpeg took ~10 ms longer to its first grab.
//
// The phase holds for the whole part because Chromium draws exactly as often as x11grab grabs, on the
// same clock: the screen's mode says so (screen-refresh.ts). Before it, Chromium's frames were 33,332
// µs apart (two 16,666 µs ticks of its assumed 60 Hz, throttled to 30 Hz; rAF times over 20 s at 1080p,
// residuals under 0.1 ms) against x11grab's 33,333: the phase moved 2.4 ms a minute, through the bad
// range for about 6 of every 19 minutes. Each part (a resume starts one) is placed afresh.

/** Where in Chromium's frame interval the gate opens, in ms after a frame time. */
export const gateOpensAfterFrameMs = 33;

/**
 * Ms to wait before opening the gate, given the time of a recent Chromium frame and now (both ms since
 * the epoch): the next moment `afterFrameMs` past a frame time.
 */
export function gateDelayMs(frameTimeMs: number, nowMs: number, fps: number, afterFrameMs = gateOpensAfterFrameMs): number {
  const interval = 1000 / fps;
  return (((frameTimeMs + afterFrameMs - nowMs) % interval) + interval) % interval;
}

/** The wall clock in ms since the epoch, to the microsecond (Date.now() has whole ms). */
export function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}
