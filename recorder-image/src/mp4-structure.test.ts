// The in-process MP4 check against ffprobe, on files real ffmpeg writes the way the recorder's join does,
// and on the broken files it must refuse.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { probe } from './finalize.ts';
import { Mp4StructureError, readMp4 } from './mp4-structure.ts';

const dir = mkdtempSync(join(tmpdir(), 'mp4-structure-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function ffmpeg(...args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
}

const picture = (size: string, rate: number) => ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}`];
const tone = (rate: number) => ['-f', 'lavfi', '-i', `sine=f=1000:sample_rate=${rate}`];

/** A captured part (fragmented, as media-profile.ts writes them), joined as joinParts does: sound shifted, +faststart. */
function joinedRecording(): string {
  const part = join(dir, 'part.mp4');
  ffmpeg(...picture('1280x720', 30), ...tone(48000), '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-ac', '2',
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-frag_duration', '1000000', '-f', 'mp4', part);
  const joined = join(dir, 'joined.mp4');
  ffmpeg('-i', part, '-itsoffset', '0.030', '-i', part, '-map', '0:v', '-map', '1:a', '-c', 'copy', '-movflags', '+faststart', '-f', 'mp4', joined);
  return joined;
}

function expectSameAsFfprobe(actual: Awaited<ReturnType<typeof readMp4>>, expected: Awaited<ReturnType<typeof probe>>): void {
  assert.ok(Math.abs(actual.durationSeconds - expected.durationSeconds) < 0.001, `duration ${actual.durationSeconds} s, ffprobe ${expected.durationSeconds} s`);
  assert.deepEqual(actual.audio, expected.audio);
  assert.deepEqual(actual.video && { ...actual.video, fps: actual.video.fps.toFixed(3) }, expected.video && { ...expected.video, fps: expected.video.fps.toFixed(3) });
}

test('a joined 720p H.264 + AAC recording reads as ffprobe reads it', async () => {
  const file = joinedRecording();
  const read = await readMp4(file);
  expectSameAsFfprobe(read, await probe(file));
  assert.equal(read.video?.codec, 'h264');
  assert.equal(read.audio?.channels, 2);
});

test('mono AAC in M4A and mono MP3 beside H.264 read as ffprobe reads them', async () => {
  const m4a = join(dir, 'mono.m4a');
  ffmpeg(...tone(48000), '-t', '2', '-c:a', 'aac', '-ac', '1', '-movflags', '+faststart', '-f', 'ipod', m4a);
  expectSameAsFfprobe(await readMp4(m4a), await probe(m4a));
  assert.equal((await readMp4(m4a)).video, undefined);

  // The MP3 entry says 2 channels whatever it holds: the channels come from the stream's first frame.
  const mp3 = join(dir, 'mp3.mp4');
  ffmpeg(...picture('640x360', 25), ...tone(44100), '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'libmp3lame', '-ac', '1', '-movflags', '+faststart', '-f', 'mp4', mp3);
  const read = await readMp4(mp3);
  expectSameAsFfprobe(read, await probe(mp3));
  assert.deepEqual(read.audio, { codec: 'mp3', channels: 1, sampleRate: 44100 });
});

test('files that are not whole or cannot start playing are refused, with what is wrong', async () => {
  const whole = readFileSync(joinedRecording());
  const broken = (name: string, bytes: Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  // ffprobe reads only the header of a file cut short behind it, and called this one fine.
  const cut = broken('cut.mp4', whole.subarray(0, whole.length - 1000));
  assert.ok((await probe(cut)).durationSeconds > 0);
  await assert.rejects(readMp4(cut), (err: Error) => err instanceof Mp4StructureError && /cut short: box 'mdat' needs 1000 bytes more/.test(err.message));

  const stray = broken('stray.mp4', whole);
  appendFileSync(stray, Buffer.from([1, 2, 3]));
  await assert.rejects(readMp4(stray), /the file ends 3 bytes into a box header/);

  // A chunk offset pointing past the media: the first entry of the first stco.
  const misplaced = Buffer.from(whole);
  const stco = misplaced.indexOf('stco', 0, 'latin1');
  misplaced.writeUInt32BE(whole.length + 4096, stco + 12);
  await assert.rejects(readMp4(broken('misplaced.mp4', misplaced)), /track 0 \(vide\) has \d+ bytes at byte \d+, outside the file's media/);

  // Written without +faststart: the header trails the media.
  const trailing = join(dir, 'trailing.mp4');
  ffmpeg('-i', join(dir, 'joined.mp4'), '-c', 'copy', '-f', 'mp4', trailing);
  assert.ok((await probe(trailing)).durationSeconds > 0, 'ffprobe reads it');
  await assert.rejects(readMp4(trailing), /the header comes after the media/);

  await assert.rejects(readMp4(broken('noise.mp4', Buffer.alloc(64, 0x41))), /impossible size|cut short/);
  const headerless = Buffer.alloc(16);
  headerless.writeUInt32BE(16, 0);
  headerless.write('free', 4, 'latin1');
  await assert.rejects(readMp4(broken('headerless.mp4', headerless)), /no header \('moov' box\)/);
});
