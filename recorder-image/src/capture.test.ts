import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { CapturePart } from './capture.ts';
import { probe } from './finalize.ts';

const dir = mkdtempSync(join(tmpdir(), 'capture-part-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Real ffmpeg, read in real time (-re) like a live capture, with the -copyts of captureArgs: its
// progress reports out_time from the stamp at its first report (about 0.4 s in here), not from 0:
// before the fix this part counted 2.6 s.
test('a video part ends at its -t limit, and its length is its frames over its rate, not out_time', async () => {
  const path = join(dir, 'part.mp4');
  const args = [
    '-hide_banner', '-loglevel', 'warning', '-nostats', '-progress', 'pipe:1', '-stats_period', '0.5', '-y',
    '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30',
    '-copyts', '-start_at_zero', '-c:v', 'libx264', '-preset', 'ultrafast', '-fps_mode', 'cfr', '-r', '30', '-t', '3', '-f', 'mp4', path,
  ];
  const part = CapturePart.start(args, path, pino({ level: 'silent' }), { fps: 30 });
  assert.equal(part.running, true);
  assert.equal(part.exitCode, null, 'no exit code while running');
  await part.exited;
  assert.equal(part.running, false);
  assert.equal(part.exitCode, 0);
  assert.equal(part.progress.frames, 90);
  assert.equal(part.progress.seconds, 3, 'the final report was read before the part counted as ended');
  assert.ok(Math.abs((await probe(path)).durationSeconds - 3) < 0.05);
});

// The fps filter, as captureArgs slots grabs: 32 grabs a second into 30 slots drop about two a second,
// and the part knows how many once it has ended (the encoder's own counts stay 0).
test('grabs the fps filter dropped are counted when the part ends', async () => {
  const path = join(dir, 'slotted.mp4');
  const args = [
    '-hide_banner', '-loglevel', 'verbose', '-nostats', '-progress', 'pipe:1', '-stats_period', '0.5', '-y',
    '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=32',
    '-filter_complex', '[0:v]fps=30:round=near[v]', '-map', '[v]', '-c:v', 'libx264', '-preset', 'ultrafast', '-fps_mode', 'cfr', '-r', '30', '-t', '2', '-f', 'mp4', path,
  ];
  const part = CapturePart.start(args, path, pino({ level: 'silent' }), { fps: 30 });
  await part.exited;
  assert.equal(part.progress.droppedFrames + part.progress.duplicatedFrames, 0, 'the encoder sees a constant rate');
  assert.ok(part.slotting.dropped >= 3 && part.slotting.dropped <= 6, `dropped ${part.slotting.dropped}`);
  assert.equal(part.slotting.duplicated, 0);
});

// RECORDING comes at the first grabbed frame, before ffmpeg's first progress report: a stop at that
// moment must still give a file with both tracks (CI once got one without its sound, 58 ms in).
test('a part stopped the moment it starts still runs its minimum, and keeps its sound', async () => {
  const path = join(dir, 'instant.mp4');
  const args = [
    '-hide_banner', '-loglevel', 'warning', '-nostats', '-progress', 'pipe:1', '-stats_period', '0.5', '-y',
    '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30',
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=48000',
    '-map', '0:v', '-map', '1:a', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-fps_mode', 'cfr', '-r', '30', '-t', '20', '-f', 'mp4', path,
  ];
  const part = CapturePart.start(args, path, pino({ level: 'silent' }), { fps: 30 });
  const asked = Date.now();
  await part.stop(10_000, 1000);
  assert.ok(Date.now() - asked >= 1000, 'it ran its minimum after media flowed');
  assert.ok(Date.now() - asked < 10_000, 'and was stopped then, not at its -t limit');
  assert.equal(part.running, false);
  const info = await probe(path);
  assert.equal(info.audio?.codec, 'aac');
  assert.equal(info.video?.codec, 'h264');
  assert.ok(info.durationSeconds >= 1, `${info.durationSeconds} s`);
});
