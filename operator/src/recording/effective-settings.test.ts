import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CallType, Recording } from '@recording-operator/common/api/generated/types.ts';
import { callUrl, urlAllowed } from './call-url.ts';
import { podName } from './desired-pod.ts';
import { containerFor, effectiveSettings, SettingsError } from './effective-settings.ts';
import { objectKey } from './recorder-spec.ts';

const callType = (recording: CallType['spec']['recording'] = {}, extra: Partial<CallType['spec']> = {}): CallType => ({
  metadata: { name: 'meetings' },
  spec: { recording, callUrlTemplate: 'https://meet.example.com/{callId}?layout={layout}', storage: { bucket: 'recs', path: 'prod' }, ...extra },
});
const recording = (spec: Partial<Recording['spec']> = {}): Recording => ({
  metadata: { name: 'standup', namespace: 'team-a', creationTimestamp: new Date('2026-11-21T10:11:12Z'), uid: 'u1' },
  spec: { callType: 'meetings', callId: 'daily', ...spec },
});

test('defaults: 720p H.264 30 fps, AAC stereo, grid, 2 h', () => {
  const s = effectiveSettings(callType(), recording());
  assert.deepEqual(s.video, { codec: 'H264', width: 1280, height: 720, fps: 30, bitrate: undefined, quality: '720p' });
  assert.deepEqual(s.audio, { codec: 'AAC', channels: 2, bitrate: 128_000, exportFile: false });
  assert.equal(s.layout.name, 'grid');
  assert.equal(s.maxDurationSeconds, 7200);
  assert.equal(containerFor(s), 'mp4');
});

test('the override wins field by field and objects merge', () => {
  const s = effectiveSettings(
    callType({ quality: '1080p', video: { fps: 25 }, layout: { name: 'spotlight', options: { 'grid.columns': 4 } }, maxDurationSeconds: 600 }),
    recording({ settingsOverride: { layout: { options: { 'video.background_color': '#000000' } } }, maxDurationSeconds: 900 }),
  );
  assert.equal(s.video?.width, 1920);
  assert.equal(s.video?.fps, 25);
  assert.equal(s.layout.name, 'spotlight');
  assert.deepEqual(s.layout.options, { 'grid.columns': 4, 'video.background_color': '#000000' });
  assert.equal(s.maxDurationSeconds, 900, 'spec.maxDurationSeconds overrides both');
});

test('a quality in the override replaces an explicit size in the CallType, and the reverse', () => {
  assert.equal(effectiveSettings(callType({ video: { width: 1000, height: 500 } }), recording({ settingsOverride: { quality: '360p' } })).video?.width, 640);
  const explicit = effectiveSettings(callType({ quality: '1080p' }), recording({ settingsOverride: { video: { width: 800, height: 600 } } }));
  assert.deepEqual([explicit.video?.width, explicit.video?.height], [800, 600]);
});

test('audioOnly in the override drops the CallType video settings', () => {
  const s = effectiveSettings(callType({ quality: '1080p', video: { codec: 'H264' }, layout: { name: 'grid' } }), recording({ settingsOverride: { audioOnly: true, audio: { codec: 'MP3' } } }));
  assert.equal(s.video, undefined);
  assert.equal(containerFor(s), 'mp3');
});

test('codecs are checked on the merged settings, naming both sources', () => {
  assert.throws(() => effectiveSettings(callType({ video: { codec: 'VP8' }, audio: { codec: 'OPUS' } }), recording({ settingsOverride: { audio: { codec: 'AAC' } } })), (e: Error) => e instanceof SettingsError && /VP8 needs audio.codec OPUS or VORBIS/.test(e.message));
  assert.throws(() => effectiveSettings(callType({ audio: { codec: 'AAC' } }), recording({ settingsOverride: { audio: { codec: 'OPUS' } } })), /audio.codec OPUS needs video.codec VP8/);
  const vp8 = effectiveSettings(callType({ video: { codec: 'VP8' } }), recording());
  assert.equal(vp8.audio.codec, 'OPUS', 'VP8 without an audio codec gets Opus');
  assert.equal(containerFor(vp8), 'webm');
});

test('the call URL: template, layout and options in the query string', () => {
  const ct = callType({ layout: { name: 'spotlight', options: { 'grid.position': 'top' } } });
  const url = new URL(callUrl(ct, recording({ callId: 'a b/c' }), effectiveSettings(ct, recording())));
  assert.equal(url.origin + url.pathname, 'https://meet.example.com/a%20b%2Fc');
  assert.equal(url.searchParams.get('layout'), 'spotlight');
  assert.equal(url.searchParams.get('grid.position'), 'top');
});

test('spec.url must match allowedUrls or the template origin; nothing else is opened', () => {
  const ct = callType({}, { allowedUrls: ['https://*.slides.example.com', 'https://docs.example.com/public/'] });
  const settings = effectiveSettings(ct, recording());
  assert.ok(callUrl(ct, recording({ url: 'https://meet.example.com/other' }), settings));
  assert.ok(callUrl(ct, recording({ url: 'https://deck.slides.example.com/1' }), settings));
  assert.ok(callUrl(ct, recording({ url: 'https://docs.example.com/public/a' }), settings));
  for (const bad of ['https://evil.example.com/', 'https://docs.example.com/private/a', 'http://meet.example.com/x', 'https://slides.example.com.evil.net/']) {
    assert.throws(() => callUrl(ct, recording({ url: bad }), settings), /is not in the CallType's allowedUrls/, bad);
  }
  assert.equal(urlAllowed('https://meet.example.com:8443/x', ['https://meet.example.com/']), false, 'the port is part of the origin');
});

test('object keys are stable and follow the template', () => {
  const ct = callType({ fileNamePrefix: 'rec/', fileNameTemplate: '{date}/{callId}-{time}' });
  const r = recording();
  assert.equal(objectKey(r, 'meetings', ct.spec.storage, effectiveSettings(ct, r)), 'prod/rec/2026-11-21/daily-101112');
  assert.equal(objectKey(r, 'meetings', ct.spec.storage, effectiveSettings(callType(), r)), 'prod/daily/standup-1795255872');
});

test('Pod names fit 63 characters and stay distinct', () => {
  assert.equal(podName('standup'), 'standup-recorder');
  const long = podName('x'.repeat(60));
  assert.ok(long.length <= 63);
  assert.notEqual(long, podName(`${'x'.repeat(59)}y`));
});
