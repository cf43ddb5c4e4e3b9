import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { pino } from 'pino';
import { earlyStartOptions, startEarly } from './early-start.ts';

const video = { codec: 'H264', width: 1280, height: 720, fps: 30 };
const withConfig = (config: unknown, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ RECORDER_CONFIG: JSON.stringify(config), ...extra });

test('the early start reads the picture and the work directory from the configuration as it came', () => {
  const workDir = mkdtempSync(join(tmpdir(), 'early-'));
  assert.deepEqual(earlyStartOptions(withConfig({ recordingId: 'calls/a', workDir, output: { video } })), { video: { width: 1280, height: 720, fps: 30 }, workDir, recordingId: 'calls/a' });
  assert.deepEqual(earlyStartOptions(withConfig({ output: { audio: { codec: 'AAC' } } })), { workDir: '/recordings', recordingId: undefined }, 'sound only, the default work directory');
  const file = join(workDir, 'config.json');
  writeFileSync(file, JSON.stringify({ workDir, output: { video } }));
  assert.equal(earlyStartOptions({ RECORDER_CONFIG_FILE: file })?.workDir, workDir, 'from RECORDER_CONFIG_FILE');
});

test('the early start starts nothing unless the configuration plainly says what to start', () => {
  const workDir = mkdtempSync(join(tmpdir(), 'early-'));
  const nothing: [string, NodeJS.ProcessEnv][] = [
    ['no configuration', {}],
    ['a standby recorder', withConfig({ workDir, output: { video } }, { RECORDER_STANDBY: '{}' })],
    ['not JSON', { RECORDER_CONFIG: '{output:' }],
    ['an unreadable file', { RECORDER_CONFIG_FILE: join(workDir, 'missing.json') }],
    ['no output', withConfig({ workDir })],
    ['a width beyond the largest', withConfig({ workDir, output: { video: { ...video, width: 100_000 } } })],
    ['an odd height', withConfig({ workDir, output: { video: { ...video, height: 721 } } })],
    ['a frame rate as text', withConfig({ workDir, output: { video: { ...video, fps: '30' } } })],
    ['an empty work directory name', withConfig({ workDir: '', output: { video } })],
  ];
  for (const [what, env] of nothing) assert.equal(earlyStartOptions(env), undefined, what);
});

test('a restarted recorder with parts to salvage starts no browser', () => {
  const workDir = join(mkdtempSync(join(tmpdir(), 'early-')), 'work');
  mkdirSync(workDir);
  writeFileSync(join(workDir, 'part-000.mp4'), 'x');
  assert.equal(earlyStartOptions(withConfig({ workDir, output: { video } })), undefined);
});

test('a work directory that cannot be made starts nothing early, and does not end the process', () => {
  const env = withConfig({ workDir: '/dev/null/work', output: { video } });
  assert.equal(startEarly(env, pino({ level: 'silent' })), undefined);
});
