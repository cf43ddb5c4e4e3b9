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
// How: the gate opens 24 ms past a frame time. ffmpeg opens its screen input first (capture-args.ts),
// and x11grab's clock starts as it opens: the first grab came 38-52 ms after the gate (most often 40
// at 720p, 44-48 at 1080p), and the grabs 26-28 ms past a frame time at 720p, 30-32 or 1-9 (past the
// next) at 1080p. Where they must fall differs by size: a frame reaches the screen 4-20 ms after its
// frame time at 720p (grabs at 17-18 ms took some frames a frame late, grabs at 3-5 ms some a frame
// early) and later at 1080p (the 11-25 ms above). A gate at 14 ms put 720p's grabs at 17-21 ms; at 24
// no frame of 20 recordings (10 at each size, 2026-12-03) was taken early or late. Before, ffmpeg
// opened the sound first and the screen's clock also waited for PulseAudio's stream and its first
// fragment: the first grab came 55-64 ms after the gate, up to 140 when the machine was busy, moving
// the grabs by up to a frame.
//
// The phase holds for the whole part because Chromium draws exactly as often as x11grab grabs, on the
// same clock: the screen's mode says so (screen-refresh.ts). Before it, Chromium's frames were 33,332
// µs apart (two 16,666 µs ticks of its assumed 60 Hz, throttled to 30 Hz; rAF times over 20 s at 1080p,
// residuals under 0.1 ms) against x11grab's 33,333: the phase moved 2.4 ms a minute, through the bad
// range for about 6 of every 19 minutes. Each part (a resume starts one) is placed afresh.

/** Where in Chromium's frame interval the gate opens, in ms after a frame time. */
export const gateOpensAfterFrameMs = 24;

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
