// The start gate with real ffmpeg: held before its inputs open, going on once the gate opens.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CaptureGate } from './capture-gate.ts';
import { probe } from './finalize.ts';

const dir = mkdtempSync(join(tmpdir(), 'capture-gate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function ffmpegBehind(gate: CaptureGate, output: string) {
  const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...gate.inputArgs(), '-f', 'lavfi', '-i', 'sine=sample_rate=48000', '-map', '1:a', '-t', '1', output], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, exited };
}

test('ffmpeg waits at the gate, with its output not yet opened, and records once it opens', async () => {
  const gate = CaptureGate.create(join(dir, 'gate-a'));
  const output = join(dir, 'a.wav');
  const { exited } = ffmpegBehind(gate, output);
  const early = await Promise.race([exited.then(() => 'exited'), sleep(1500).then(() => 'waiting')]);
  assert.equal(early, 'waiting', 'ffmpeg did not go past its gate');
  assert.equal(existsSync(output), false, 'no output opened behind a shut gate');
  await gate.open(exited);
  assert.equal(existsSync(gate.path), false, 'the FIFO is removed once open');
  assert.equal(await exited, 0);
  assert.ok(Math.abs((await probe(output)).durationSeconds - 1) < 0.05, 'the second of sound after the gate');
});

test('opening the gate of an ffmpeg that has exited fails, rather than waiting for ever', async () => {
  const gate = CaptureGate.create(join(dir, 'gate-b'));
  const { child, exited } = ffmpegBehind(gate, join(dir, 'b.wav'));
  child.kill('SIGKILL');
  await assert.rejects(gate.open(exited), /ffmpeg exited before it reached its start gate/);
  gate.remove();
  assert.equal(existsSync(gate.path), false);
});
