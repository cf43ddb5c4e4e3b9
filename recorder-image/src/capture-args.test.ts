import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recorderConfigSchema, type RecorderConfigInput } from '@recording-operator/common/protocol/recorder-config.ts';
import { captureArgs, grabQueueFrames } from './capture-args.ts';
import { defaultVideoBitrate, mediaProfile, x264Settings } from './media-profile.ts';

const sources = { display: ':7', pulseServer: 'unix:/run/p/native', pulseSource: 'recorder.monitor' };
const config = (extra: Partial<RecorderConfigInput> = {}) =>
  recorderConfigSchema.parse({
    recordingId: 'ns/r',
    url: 'https://meet.example.com/x',
    output: { container: 'mp4', video: { codec: 'H264', width: 1280, height: 720, fps: 30 }, audio: { codec: 'AAC', channels: 2 } },
    maxDurationSeconds: 60,
    storage: { type: 's3', endpoint: 'https://s3.example.com', bucket: 'recs', objectKey: 'k' },
    ...extra,
  });

test('x11grab is listed before pulse (its grab clock starts as it opens), with the fragment size that keeps A/V in sync', () => {
  const c = config();
  const args = captureArgs(c, mediaProfile(c.output), sources, '/w/part-000.mp4', 60);
  const pulse = args.indexOf('pulse');
  const x11 = args.indexOf('x11grab');
  assert.ok(x11 > 0 && pulse > x11, 'the screen input first');
  assert.equal(args[args.indexOf('-fragment_size') + 1], '1920');
  assert.ok(args.includes('-copyts') && args.includes('-start_at_zero'), 'input times kept, shifted to 0');
  assert.equal(args.filter((a) => a === '-use_wallclock_as_timestamps').length, 2, 'both inputs on the wall clock');
  assert.equal(args[args.indexOf('-itsoffset') + 1], '0.040', "the sound waits for the picture's longer way, less its 10 ms fragment");
  assert.ok(args.indexOf('-itsoffset') > x11 && args.indexOf('-itsoffset') < pulse, 'an input option of the audio input');
  assert.equal(args[args.indexOf('-isync') + 1], '0', "the sound starts from the screen's zero, not its own");
  assert.ok(args.indexOf('-isync') > x11 && args.indexOf('-isync') < pulse, 'an input option of the audio input');
  assert.equal(args[args.indexOf('-framerate') + 1], '30', 'x11grab would default to 29.97');
  assert.equal(args[args.indexOf('-fps_mode') + 1], 'cfr');
  assert.equal(args[args.indexOf('-video_size') + 1], '1280x722', 'the screen with the picture-delay probe strip below the recording');
  const graph = args[args.indexOf('-filter_complex') + 1]!;
  assert.equal(
    graph,
    [
      '[0:v]trim=start_frame=2,fps=30:round=near,split=2[screen][probe]',
      '[probe]crop=1280:2:0:720,trim=end=60.000,format=gray,showinfo,nullsink',
      '[screen]crop=1280:720:0:0,scale=flags=area+full_chroma_inp,format=yuv420p[v]',
      '[1:a]asplit=2[sound][soundprobe]',
      '[soundprobe]atrim=end=3.000,ashowinfo,anullsink',
      '[sound]asetpts=N/SR/TB+STARTPTS[a]',
    ].join(';'),
    'frames in their slots before the probe reads them; the recording is the screen less the strip, converted for the encoder with the chroma read at full width (SIMD); the sound counted from its first stamp; the picture probe reads the whole part, the sound probe its first 3 s, and both go nowhere else',
  );
  assert.deepEqual(args.filter((a, i) => args[i - 1] === '-map'), ['[v]', '[a]']);
  assert.equal(args[args.indexOf('-loglevel') + 1], 'verbose', 'showinfo and the input start stamp log at info level, the fps filter its drops at verbose');
  assert.equal(args[args.indexOf('-i', x11) + 1], ':7.0+0,0');
  assert.equal(args[args.indexOf('-t') + 1], '60.000');
  assert.match(args.join(' '), /-movflags \+frag_keyframe\+empty_moov\+default_base_moof/, 'fragmented MP4 survives a crash');
  assert.equal(args.at(-1), '/w/part-000.mp4');
});

test("the filter graphs run in ffmpeg's own thread, however many cores the node has", () => {
  for (const output of [config().output, config({ output: { container: 'mp3', audio: { codec: 'MP3', channels: 1 } } }).output]) {
    const args = captureArgs(config({ output }), mediaProfile(output), sources, '/w/p', 10);
    assert.equal(args[args.indexOf('-filter_complex_threads') + 1], '1');
    assert.equal(args[args.indexOf('-filter_threads') + 1], '1');
    assert.ok(args.indexOf('-filter_complex_threads') < args.indexOf('-i'), 'a global option, before the inputs');
  }
});

test('a watermark is scaled and overlaid in its corner', () => {
  const c = config({ watermark: { url: 'https://x.example.com/w.png', width: 120, height: 60, position: 'right bottom' } });
  const args = captureArgs(c, mediaProfile(c.output), { ...sources, watermarkFile: '/w/wm.png' }, '/w/p.mp4', 10);
  const filter = args[args.indexOf('-filter_complex') + 1]!;
  assert.match(filter, /\[2:v\]scale=120:60\[wm\];\[screen\]crop=1280:720:0:0,scale=flags=area\+full_chroma_inp,format=yuv420p\[pic\];\[pic\]\[wm\]overlay=main_w-overlay_w-16:main_h-overlay_h-16:format=yuv420\[v\]/);
  assert.equal(args[args.indexOf('-map') + 1], '[v]');
});

test('behind a start gate every input, map and sync reference moves one on, and the gate is opened first and never used', () => {
  const gateInput = ['-f', 's16le', '-i', '/run/gate'];
  const c = config({ watermark: { url: 'https://x.example.com/w.png', width: 120, height: 60, position: 'right bottom' } });
  const args = captureArgs(c, mediaProfile(c.output), { ...sources, watermarkFile: '/w/wm.png', gateInput }, '/w/p.mp4', 10);
  const inputs = args.flatMap((a, i) => (a === '-i' ? [args[i + 1]] : []));
  assert.deepEqual(inputs, ['/run/gate', ':7.0+0,0', 'recorder.monitor', '/w/wm.png']);
  assert.equal(args[args.indexOf('-isync') + 1], '1', 'the sound starts from the screen\'s zero: input 1 now');
  const graph = args[args.indexOf('-filter_complex') + 1]!;
  assert.match(graph, /^\[1:v\]trim=start_frame=2,/);
  assert.match(graph, /\[3:v\]scale=120:60\[wm\]/);
  assert.match(graph, /\[2:a\]asplit=2\[sound\]\[soundprobe\]/);
  assert.doesNotMatch(graph, /\[0:/, 'nothing reads the gate');

  const audioOnly = config({ output: { container: 'mp3', audio: { codec: 'MP3', channels: 1 } } });
  const sound = captureArgs(audioOnly, mediaProfile(audioOnly.output), { ...sources, gateInput }, '/w/p.mp3', 10);
  assert.deepEqual(sound.filter((a, i) => sound[i - 1] === '-map'), ['1:a']);
});

test('a part shorter than the probe reads the strip only while it lasts (ffmpeg exits when every branch has ended)', () => {
  const c = config();
  const args = captureArgs(c, mediaProfile(c.output), sources, '/w/p.mp4', 1.5);
  assert.match(args[args.indexOf('-filter_complex') + 1]!, /\[probe\][^;]*,trim=end=1\.500,.*\[soundprobe\]atrim=end=1\.500,/);
});

test('the grab queue: a quarter of a second below 1080p, a second from 1080p up', () => {
  assert.equal(grabQueueFrames({ width: 1280, height: 720, fps: 30 }), 8);
  assert.equal(grabQueueFrames({ width: 1280, height: 720, fps: 60 }), 15);
  assert.equal(grabQueueFrames({ width: 1920, height: 1080, fps: 30 }), 30);
  const c = config();
  const args = captureArgs(c, mediaProfile(c.output), sources, '/w/part-000.mp4', 60);
  assert.equal(args[args.lastIndexOf('-thread_queue_size', args.indexOf('x11grab')) + 1], '8', 'the x11grab input takes it');
});

test('audio-only captures no display', () => {
  const c = config({ output: { container: 'mp3', audio: { codec: 'MP3', channels: 1 } } });
  const args = captureArgs(c, mediaProfile(c.output), sources, '/w/p.mp3', 10);
  assert.equal(args.indexOf('x11grab'), -1);
  assert.deepEqual(args.slice(args.indexOf('-c:a'), args.indexOf('-c:a') + 2), ['-c:a', 'libmp3lame']);
  assert.equal(args[args.indexOf('-ac') + 1], '1');
  // Nothing to align with: its own stamps from 0, so that ffmpeg's progress (the part's length) is exact.
  for (const option of ['-copyts', '-start_at_zero', '-use_wallclock_as_timestamps', '-itsoffset']) assert.ok(!args.includes(option), option);
});

test('RTMP goes through the tee muxer so a failing stream never stops the file', () => {
  const c = config({ rtmp: { url: 'rtmp://live.example.com/app' } });
  const args = captureArgs(c, mediaProfile(c.output), sources, '/w/p.mp4', 10, 'rtmp://live.example.com/app/KEY');
  assert.equal(args[args.indexOf('-f', args.indexOf('-t')) + 1], 'tee');
  assert.match(args.at(-1)!, /^\[f=mp4:movflags=\+frag_keyframe\+empty_moov\+default_base_moof:frag_duration=1000000:flush_packets=1\]\/w\/p\.mp4\|\[f=flv:onfail=ignore\]rtmp:\/\/live\.example\.com\/app\/KEY$/);
});

test('encoder choices by size and codec', () => {
  assert.deepEqual(x264Settings(854, 480), ['-preset', 'veryfast', '-x264-params', 'qpmin=18', '-threads', '1']);
  assert.deepEqual(x264Settings(1280, 720), ['-preset', 'ultrafast', '-x264-params', 'cabac=1:deblock=1:qpmin=18', '-threads', '1']);
  assert.deepEqual(x264Settings(1920, 1080), ['-preset', 'ultrafast', '-x264-params', 'cabac=1:deblock=1:qpmin=18', '-threads', '2']);
  assert.deepEqual(x264Settings(1080, 1920), x264Settings(1920, 1080));
  assert.deepEqual(x264Settings(2560, 1440).slice(-2), ['-threads', '3'], "x264's threads never follow the node's cores");
  assert.deepEqual(x264Settings(720, 1280), x264Settings(1280, 720), 'portrait sizes count pixels like landscape');
  assert.equal(defaultVideoBitrate(1280, 720), 3_000_000);
  assert.equal(defaultVideoBitrate(720, 1280), 3_000_000, 'portrait sizes count pixels like landscape');
  const vp8 = mediaProfile(config({ output: { container: 'webm', video: { codec: 'VP8', width: 640, height: 360, fps: 30 }, audio: { codec: 'OPUS', channels: 2 } } }).output);
  assert.equal(vp8.extension, 'webm');
  assert.equal(vp8.contentType, 'video/webm');
  assert.equal(vp8.audioExport.extension, 'ogg');
  assert.ok(vp8.videoEncoder.includes('libvpx'));
  assert.equal(vp8.videoEncoder[vp8.videoEncoder.indexOf('-qmin') + 1], '10', "VP8's quality floor");
});

test('autoStop.noMediaSeconds adds the silence and freeze detectors at info level, and nothing otherwise', () => {
  const off = config();
  const plain = captureArgs(off, mediaProfile(off.output), sources, '/w/p.mp4', 10);
  assert.ok(!plain.join(' ').includes('detect'));
  const quietSound = config({ output: { container: 'mp3', audio: { codec: 'MP3', channels: 1 } } });
  const quiet = captureArgs(quietSound, mediaProfile(quietSound.output), sources, '/w/p.mp3', 10);
  assert.equal(quiet[quiet.indexOf('-loglevel') + 1], 'warning', 'sound only, without detectors: nothing to read at info level');

  const on = config({ autoStop: { noMediaSeconds: 30 } });
  const args = captureArgs(on, mediaProfile(on.output), sources, '/w/p.mp4', 10);
  assert.ok(['info', 'verbose'].includes(args[args.indexOf('-loglevel') + 1]!), 'the detectors log at info level');
  assert.match(args[args.indexOf('-filter_complex') + 1]!, /\[screen\]crop=1280:720:0:0,scale=flags=area\+full_chroma_inp,format=yuv420p,freezedetect=duration=30\[v\];/, 'on the recorded picture, not the probe strip');
  assert.match(args[args.indexOf('-filter_complex') + 1]!, /\[sound\]asetpts=N\/SR\/TB\+STARTPTS,silencedetect=noise=-50dB:duration=30\[a\]$/, 'on the recorded sound');

  const marked = config({ autoStop: { noMediaSeconds: 5 }, watermark: { url: 'https://x.example.com/w.png', position: 'left top' } });
  const withWatermark = captureArgs(marked, mediaProfile(marked.output), { ...sources, watermarkFile: '/w/wm.png' }, '/w/p.mp4', 10);
  assert.match(withWatermark[withWatermark.indexOf('-filter_complex') + 1]!, /overlay=16:16:format=yuv420,freezedetect=duration=5\[v\];/, 'after the overlay, in the one video graph');
  for (const a of [args, withWatermark]) assert.ok(!a.includes('-filter:v') && !a.includes('-filter:a'), 'a stream takes one graph only');

  const audioOnly = config({ autoStop: { noMediaSeconds: 5 }, output: { container: 'mp3', audio: { codec: 'MP3', channels: 1 } } });
  const sound = captureArgs(audioOnly, mediaProfile(audioOnly.output), sources, '/w/p.mp3', 10);
  assert.equal(sound[sound.indexOf('-filter:a') + 1], 'silencedetect=noise=-50dB:duration=5');
  assert.ok(!sound.join(' ').includes('freezedetect'));
});
