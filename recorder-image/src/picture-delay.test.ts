import assert from 'node:assert/strict';
import { test } from 'node:test';
import { audioShiftSeconds, pictureDelayFromReadings, pictureDelayMatchedByCaptureMs, PictureDelayReader, pictureDelaySpread } from './picture-delay.ts';

/** Readings of a capture whose frames reach ffmpeg `delayMs` after the page drew them, 30 frames/s. */
function readings(delayMs: number, count: number, pageStartMs = 1_764_590_000_123.4) {
  return Array.from({ length: count }, (_, i) => {
    const drawnAt = pageStartMs + i * (1000 / 30);
    return { stampMs: drawnAt + delayMs, level: Math.floor(drawnAt) % 256 };
  });
}

test('the picture delay is stamp less page time, whatever the clock modulo 256', () => {
  for (const delay of [0.5, 3.1, 8.4, 38.2, 71.6, 104.9]) {
    for (const start of [1_764_590_000_000, 1_764_590_000_250.7, 1_764_590_000_511.1]) {
      const measured = pictureDelayFromReadings(readings(delay, 60, start));
      assert.ok(measured !== undefined && Math.abs(measured - delay) <= 0.6, `${delay} ms from ${start}: ${measured}`);
    }
  }
});

test('a frame grabbed twice counts at its first grab, as a flash is seen at its first frame', () => {
  const once = readings(50, 40);
  const twice = once.flatMap((r) => [r, { stampMs: r.stampMs + 1000 / 30, level: r.level }]);
  assert.ok(Math.abs(pictureDelayFromReadings(twice)! - 50) <= 0.6);
});

test('the spread shows frames a whole frame later than most: each one a flash that would be a frame off its sound', () => {
  // 90 frames at 40 ms, every tenth a frame (33 ms) later; the clock crosses 256 ms on the way.
  const mixed = readings(40, 90).map((r, i) => (i % 10 === 9 ? { ...r, stampMs: r.stampMs + 1000 / 30 } : r));
  const spread = pictureDelaySpread(mixed)!;
  assert.deepEqual([spread.p5, spread.p50], [40, 40]);
  for (const late of [spread.p95, spread.max]) assert.ok(Math.abs(late - 73.3) <= 1, `${JSON.stringify(spread)}: a frame later`);
  assert.equal(pictureDelaySpread(readings(40, 5)), undefined, 'too few readings');
});

test('a strip that cannot be read gives no delay: too few readings, no agreement, or implausible', () => {
  assert.equal(pictureDelayFromReadings(readings(60, 5)), undefined, 'too few');
  const noise = Array.from({ length: 60 }, (_, i) => ({ stampMs: 1_764_590_000_000 + i * 33.3, level: (i * 97) % 256 }));
  assert.equal(pictureDelayFromReadings(noise), undefined, 'page content under the strip, not the strip');
  assert.equal(pictureDelayFromReadings(readings(-30, 60)), undefined, 'grabbed before it was drawn');
});

test('the reader takes the x11grab input start and showinfo lines from ffmpeg stderr', () => {
  const reader = new PictureDelayReader();
  const start = 1_764_590_000.1; // the x11grab input's first stamp
  const lines = [
    "Input #0, pulse, from 'recorder.monitor':",
    '  Duration: N/A, start: 1764589999.987000, bitrate: 1536 kb/s',
    "Input #1, x11grab, from ':99.0+0,0':",
    `  Duration: N/A, start: ${start.toFixed(6)}, bitrate: N/A`,
    ...readings(64, 45, start * 1000 - 64).map(
      (r, n) => `[Parsed_showinfo_3 @ 0x55d1] n:${String(n).padStart(4)} pts:${String(n * 33333).padStart(7)} pts_time:${((r.stampMs - start * 1000) / 1000).toFixed(6)} pos: -1 fmt:gray sar:1/1 s:1280x2 i:P iskey:1 type:I checksum:0 plane_checksum:[0] mean:[${r.level}] stdev:[0.0]`,
    ),
  ];
  for (const line of lines) reader.line(line);
  const delay = reader.delayMs();
  assert.ok(delay !== undefined && Math.abs(delay - 64) <= 0.6, String(delay));
});

test("the reader tells of the first frame at its strip's first line, and not before", async () => {
  const reader = new PictureDelayReader();
  let seen = false;
  void reader.firstFrame.then(() => (seen = true));
  for (const line of ["Input #1, x11grab, from ':99.0+0,0':", '  Duration: N/A, start: 1764590000.100000, bitrate: N/A', 'frame=    0 fps=0.0 q=0.0 size=       0kB']) reader.line(line);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(seen, false, 'no frame line yet');
  reader.line('[Parsed_showinfo_3 @ 0x55d1] n:   0 pts:      0 pts_time:0 pos: -1 fmt:gray sar:1/1 s:1280x2 i:P iskey:1 type:I checksum:0 plane_checksum:[0] mean:[17] stdev:[0.0]');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(seen, true);
});

test('the sound moves by the picture delay less the one the capture already allows for, and back by its lateness', () => {
  assert.equal(audioShiftSeconds(undefined, undefined), 0, "not measured: the capture's fixed delay stands");
  assert.equal(audioShiftSeconds(pictureDelayMatchedByCaptureMs, 0), 0);
  assert.equal(audioShiftSeconds(pictureDelayMatchedByCaptureMs + 30, 0), 0.03, 'a slower picture: the sound later');
  assert.equal(audioShiftSeconds(pictureDelayMatchedByCaptureMs - 25, undefined), -0.025, 'a faster picture: the sound earlier');
  assert.equal(audioShiftSeconds(pictureDelayMatchedByCaptureMs, 12), -0.012, 'a sound stamped late: put back');
  assert.equal(audioShiftSeconds(undefined, 12), -0.012);
});
