// The join with real ffmpeg: the extras it writes in the same run, and the recording when they fail.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { joinParts, probe, readFinished } from './finalize.ts';
import { mediaProfile } from './media-profile.ts';

const dir = mkdtempSync(join(tmpdir(), 'finalize-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const output = { container: 'mp4', video: { codec: 'H264', width: 320, height: 240, fps: 30, bitrate: 500_000 }, audio: { codec: 'AAC', channels: 2, bitrate: 128_000 }, exportAudio: true, thumbnail: true } as const;
const profile = mediaProfile(output);

/**
 * A part as the capture writes it (fragmented, a keyframe every 2 s), whose picture tells its time:
 * frame n has luma 2n, so the keyframes at 0, 2 and 4 s are 0, 120 and 240 (121 and 255 in a JPEG's full range).
 */
function capturedPart(name: string, seconds: number, partProfile = profile): string {
  const path = join(dir, name);
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', "nullsrc=s=320x240:r=30,geq=lum='mod(2*N\\,256)':cb=128:cr=128",
    '-f', 'lavfi', '-i', 'sine=f=1000:sample_rate=48000', '-t', String(seconds),
    ...partProfile.videoEncoder, ...partProfile.audioEncoder, ...partProfile.partMuxerOptions, '-f', partProfile.partFormat, path,
  ]);
  return path;
}

/** The mean brightness of a picture, from its pixels as ffmpeg decodes them. */
function brightness(path: string): number {
  const gray = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'gray', '-']);
  return gray.reduce((sum, v) => sum + v, 0) / gray.length;
}

test('the join writes the audio file and the thumbnail in its own run: the keyframe from a second before the moment', async () => {
  const part = capturedPart('part-000.mp4', 5);
  const target = join(dir, 'joined.mp4');
  const extras = { audioPath: join(dir, 'joined.audio.m4a'), thumbnail: { path: join(dir, 'joined.jpg'), atSeconds: 2.5 } };
  const made = await joinParts([{ path: part, audioShiftSeconds: 0.04 }], profile, dir, target, undefined, extras);
  assert.deepEqual(made, extras);
  const recording = await readFinished(target, profile).first;
  // 5 s of picture, the sound 40 ms later, and AAC's last frame rounding up: 5.04-5.15 s.
  assert.ok(recording.durationSeconds > 5 && recording.durationSeconds < 5.2, `the recording lasts ${recording.durationSeconds} s`);

  const audio = await probe(extras.audioPath);
  assert.equal(audio.video, undefined);
  assert.deepEqual(audio.audio, { codec: 'aac', channels: 2, sampleRate: 48000 });
  assert.ok(Math.abs(audio.durationSeconds - recording.durationSeconds) < 0.05, 'the audio file is the recording\'s sound, shifted as it is');

  const thumbnail = await probe(extras.thumbnail.path);
  assert.deepEqual([thumbnail.video?.codec, thumbnail.video?.width, thumbnail.video?.height], ['mjpeg', 640, 480]);
  // 2.5 s asked: the first keyframe from 1.5 s is frame 60 at 2 s (frame 0 would be 0, frame 120 255).
  assert.ok(Math.abs(brightness(extras.thumbnail.path) - 121) < 8, `the thumbnail's brightness ${brightness(extras.thumbnail.path)} is frame 60's`);
});

test('a cut (a lowered maximum duration) ends the recording and its audio file there, with the thumbnail made beside', async () => {
  const part = capturedPart('part-cut.mp4', 5);
  const target = join(dir, 'cut.mp4');
  const extras = { audioPath: join(dir, 'cut.audio.m4a'), thumbnail: { path: join(dir, 'cut.jpg'), atSeconds: 1.5 } };
  for (const audioShiftSeconds of [0.04, -0.04, 0]) {
    const made = await joinParts([{ path: part, audioShiftSeconds }], profile, dir, target, 3, extras);
    assert.deepEqual(made, extras);
    const lasts = (await readFinished(target, profile).first).durationSeconds;
    // 3 s, the later stream 40 ms on and AAC's last frame rounding up; the 5 s part was 5.0-5.1 s.
    assert.ok(lasts > 2.9 && lasts < 3.2, `shift ${audioShiftSeconds}: cut at 3 s, the recording lasts ${lasts} s`);
    const audio = (await probe(extras.audioPath)).durationSeconds;
    assert.ok(audio > 2.9 && audio < 3.2, `shift ${audioShiftSeconds}: the audio file lasts ${audio} s`);
    // From 0.5 s: the keyframe at 2 s (frame 60).
    assert.ok(Math.abs(brightness(extras.thumbnail.path) - 121) < 8, `the thumbnail's brightness ${brightness(extras.thumbnail.path)} is frame 60's`);
  }
});

/** Each stream's first presentation stamp, in seconds, as ffprobe reads the file. */
function streamStarts(path: string): { video: number; audio: number } {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,start_time', '-of', 'csv=p=0', path], { encoding: 'utf8' });
  const starts = Object.fromEntries(out.trim().split('\n').map((line) => line.split(',')).map(([type, start]) => [type, Number(start)]));
  return { video: starts.video, audio: starts.audio };
}

test('a shift moves the later stream by its amount, the picture\'s own start delay (B-frames) kept', async () => {
  const sizes = [output, { ...output, video: { ...output.video, width: 1280, height: 720 } }];
  for (const sized of sizes) {
    const sizedProfile = mediaProfile(sized);
    const part = capturedPart(`part-${sized.video.width}.mp4`, 2, sizedProfile);
    const original = streamStarts(part);
    for (const audioShiftSeconds of [0.04, -0.04]) {
      const target = join(dir, `shifted-${sized.video.width}.mp4`);
      await joinParts([{ path: part, audioShiftSeconds }], sizedProfile, dir, target);
      const starts = streamStarts(target);
      // The sound 40 ms later, or the picture; 320x240 has B-frames (its picture starts 67 ms in), 720p none.
      const expected = audioShiftSeconds > 0 ? { video: original.video, audio: original.audio + 0.04 } : { video: original.video + 0.04, audio: original.audio };
      const label = `${sized.video.width}x${sized.video.height}, shift ${audioShiftSeconds}: ${JSON.stringify({ original, starts })}`;
      assert.ok(Math.abs(starts.video - expected.video) < 0.002 && Math.abs(starts.audio - expected.audio) < 0.002, label);
    }
  }
});

test('parts joined end to end: the thumbnail counts from the first part\'s start', async () => {
  const parts = [capturedPart('part-a.mp4', 3), capturedPart('part-b.mp4', 3)].map((path) => ({ path, audioShiftSeconds: 0 }));
  const thumbnail = { path: join(dir, 'two.jpg'), atSeconds: 4 };
  const made = await joinParts(parts, profile, dir, join(dir, 'two.mp4'), undefined, { thumbnail });
  assert.deepEqual(made, { audioPath: undefined, thumbnail });
  const { durationSeconds } = await readFinished(join(dir, 'two.mp4'), profile).first;
  assert.ok(durationSeconds > 5.9 && durationSeconds < 6.2, `the joined parts last ${durationSeconds} s`);
  // From 3 s: the second part's first frame (its own frame 0, brightness 0), not the first part's keyframe at 2 s (121).
  assert.ok(brightness(thumbnail.path) < 6, `the thumbnail's brightness ${brightness(thumbnail.path)} is the second part's first frame`);
});

test('an extra that cannot be written leaves the recording joined, and says it was not made', async () => {
  const part = capturedPart('part-x.mp4', 2);
  const target = join(dir, 'alone.mp4');
  const extras = { thumbnail: { path: join(dir, 'no-such-dir', 'alone.jpg'), atSeconds: 1 } };
  const made = await joinParts([{ path: part, audioShiftSeconds: 0.03 }], profile, dir, target, undefined, extras);
  assert.deepEqual(made, {});
  assert.equal(existsSync(extras.thumbnail.path), false);
  assert.ok((await readFinished(target, profile).first).durationSeconds > 1.9, 'the recording was joined on its own');
});
