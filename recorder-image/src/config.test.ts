import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';

function secretsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'secrets-'));
  for (const [name, value] of Object.entries(files)) writeFileSync(join(dir, name), value);
  return dir;
}

const fullSecrets = { 'control-token': 'a'.repeat(32), 'storage-access-key-id': 'AK', 'storage-secret-access-key': 'SK' };
const base = (dir: string) => ({
  recordingId: 'ns/rec',
  url: 'https://meet.example.com/call/1',
  output: { container: 'mp4', video: { codec: 'H264', width: 1280, height: 720, fps: 30 }, audio: { codec: 'AAC', channels: 2 } },
  maxDurationSeconds: 600,
  storage: { type: 's3', endpoint: 'https://s3.example.com', bucket: 'recs', objectKey: 'a/b' },
  secretsDir: dir,
});
const load = (config: unknown) => loadConfig({ RECORDER_CONFIG: JSON.stringify(config) });

test('a valid configuration loads with defaults and secrets', () => {
  const { config, secrets } = load(base(secretsDir(fullSecrets)));
  assert.equal(config.output.audio.bitrate, 128_000);
  assert.equal(config.storage.retryWindowSeconds, 600);
  assert.equal(config.startSignal.wait, false);
  assert.deepEqual(secrets.storage, { type: 's3', accessKey: 'AK', secretKey: 'SK', sessionToken: undefined });
});

test('azure storage: the container SAS is the only storage secret read', () => {
  const dir = secretsDir({ 'control-token': 'a'.repeat(32), 'storage-azure-sas-token': 'sv=2024&sp=rcw&sig=x' });
  const { config, secrets } = load({ ...base(dir), storage: { type: 'azure', endpoint: 'https://acct.blob.core.windows.net', bucket: 'recs', objectKey: 'a/b' } });
  assert.equal(config.storage.type, 'azure');
  assert.deepEqual(secrets.storage, { type: 'azure', sasToken: 'sv=2024&sp=rcw&sig=x' });
  assert.throws(() => load({ ...base(secretsDir({ 'control-token': 'a'.repeat(32) })), storage: { type: 'azure', endpoint: 'https://acct.blob.core.windows.net', bucket: 'recs', objectKey: 'a/b' } }), /storage-azure-sas-token cannot be read \(ENOENT\)/);
  assert.throws(() => load({ ...base(dir), storage: { type: 'azure', endpoint: 'https://acct.blob.core.windows.net', bucket: 'recs', objectKey: 'a/b', region: 'x' } }), /RECORDER_CONFIG\.storage/);
});

test('bad settings are named with what is allowed', () => {
  const dir = secretsDir(fullSecrets);
  const cases: [(c: Record<string, any>) => void, RegExp][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
    [(c) => (c.url = 'file:///etc/passwd'), /RECORDER_CONFIG\.url/],
    [(c) => (c.output.video.width = 1281), /RECORDER_CONFIG\.output\.video\.width/],
    [(c) => (c.output.audio.codec = 'FLAC'), /RECORDER_CONFIG\.output\.audio\.codec/],
    [(c) => (c.maxDurationSeconds = 0), /RECORDER_CONFIG\.maxDurationSeconds/],
    [(c) => (c.storage.bucket = 'x'), /RECORDER_CONFIG\.storage\.bucket/],
    [(c) => (c.unexpected = true), /RECORDER_CONFIG\.\(root\).*unexpected/],
    [(c) => (c.output.container = 'webm'), /output\.container: webm cannot hold H264 video/],
    [(c) => (c.output.audio.codec = 'OPUS'), /output\.audio\.codec: H264 video takes AAC or MP3 audio, not OPUS/],
    [(c) => { delete c.output.video; c.output.container = 'mp4'; }, /audio-only AAC is written as m4a, not mp4/],
    [(c) => { c.output.video.codec = 'VP8'; c.output.container = 'webm'; c.output.audio.codec = 'OPUS'; c.rtmp = { url: 'rtmp://x/live' }; }, /rtmp: live streaming needs H264 video/],
  ];
  for (const [edit, message] of cases) {
    const config = structuredClone(base(dir)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    edit(config);
    assert.throws(() => load(config), (err: Error) => err instanceof ConfigError && message.test(err.message), String(message));
  }
});

test('missing, empty or short secrets are refused with the file named', () => {
  assert.throws(() => load(base(secretsDir({ ...fullSecrets, 'storage-secret-access-key': '' }))), /storage-secret-access-key is empty/);
  const noKey: Record<string, string> = { ...fullSecrets };
  delete noKey['storage-access-key-id'];
  assert.throws(() => load(base(secretsDir(noKey))), /storage-access-key-id cannot be read \(ENOENT\)/);
  assert.throws(() => load(base(secretsDir({ ...fullSecrets, 'control-token': 'short' }))), /control-token must hold at least 16 characters/);
});

test('JSON and presence errors', () => {
  assert.throws(() => loadConfig({ RECORDER_CONFIG: '{' }), /RECORDER_CONFIG is not valid JSON/);
  assert.throws(() => loadConfig({}), /RECORDER_CONFIG \(JSON\) or RECORDER_CONFIG_FILE must be set/);
  assert.throws(() => loadConfig({ RECORDER_CONFIG_FILE: '/nonexistent/config.json' }), /RECORDER_CONFIG_FILE \/nonexistent\/config.json cannot be read/);
});
