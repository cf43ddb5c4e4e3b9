import assert from 'node:assert/strict';
import { test } from 'node:test';
import { soundLatenessMs, SoundLatenessReader } from './sound-lateness.ts';

/** 10 ms fragments of a sound that began at `began` (s), each stamped when read: `lateMs[i]` after it was complete. */
function frames(began: number, lateMs: number[]) {
  return lateMs.map((late, i) => ({ pts: began + (i * 480) / 48_000 + late / 1000, samples: 480, rate: 48_000 }));
}

test('the first stamp is compared with the earliest the sound can have begun', () => {
  const onTime = frames(0.25, Array.from({ length: 40 }, () => 3));
  assert.equal(soundLatenessMs(onTime), 0, 'read with a constant delay: nothing to put back (the constant is calibrated)');
  // Read in bursts, as ffmpeg reads PulseAudio: the first three fragments at once (the first 21 ms after
  // it was complete, the third 1 ms), later three more at once. The third was the least late: 20 ms.
  const bursts = frames(0.25, [21, 11, 1, 3, 3, 3, 33, 23, 13, 3, ...Array.from({ length: 30 }, () => 3)]);
  assert.equal(soundLatenessMs(bursts), 20);
});

test('too few frames tell nothing', () => {
  assert.equal(soundLatenessMs(frames(0, [5, 3, 3])), undefined);
});

test('the reader takes ashowinfo lines', () => {
  const reader = new SoundLatenessReader();
  for (const [n, f] of frames(-0.021, [9, ...Array.from({ length: 25 }, () => 2)]).entries()) {
    reader.line(`[Parsed_ashowinfo_6 @ 0x5580] n:${n} pts:${Math.round(f.pts * 1e6)} pts_time:${f.pts.toFixed(6)} pos:-1 fmt:s16 channels:2 chlayout:stereo rate:48000 nb_samples:480 checksum:00000000 plane_checksums: [ 00000000 ]`);
  }
  reader.line('[Parsed_showinfo_3 @ 0x5581] n:   0 pts:      0 pts_time:0 pos: -1 fmt:gray mean:[12] stdev:[0.0]');
  assert.equal(reader.latenessMs(), 7);
});
