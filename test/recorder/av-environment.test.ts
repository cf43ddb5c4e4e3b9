// The recorder's display, sound card and browser settings that its cost and start time rest on, checked
// on the real Xvfb, PulseAudio and Chromium: the sink is ready to deliver sound at once, its sound keeps
// time with the wall clock while Chromium plays, and Chromium renders no faster than the capture takes.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { startCallPageServer, type CallPageServer } from '../../examples/call-page/server.ts';
import { sampleRate, startAvEnvironment, type AvEnvironment } from '../../recorder-image/src/display.ts';
import { CallPage } from '../../recorder-image/src/page.ts';

const run = promisify(execFile);
const log = pino({ level: 'silent' });

describe('recorder display and sound card', () => {
  let env: AvEnvironment;
  let server: CallPageServer;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'av-environment-'));
    env = await startAvEnvironment(640, 360, join(dir, 'runtime'), log);
    server = await startCallPageServer();
  });
  after(async () => {
    await env?.stop();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the null sink mixes in short blocks from the start, at 50 kHz', async () => {
    // An idle null sink mixes 2 s ahead; a listener would then wait up to 2 s for its first sound.
    const { stdout: sinks } = await run('pactl', ['list', 'sinks'], { env: env.env });
    const latencyUs = Number(/Latency: (\d+) usec/.exec(sinks)?.[1]);
    assert.ok(latencyUs < 100_000, `the sink is ${latencyUs} µs ahead`);
    const { stdout: info } = await run('pactl', ['info'], { env: env.env });
    assert.match(info, /Default Sample Specification: s16le 2ch 50000Hz/);
    assert.match(sinks, /Sample Specification: s16le 2ch 50000Hz/);
  });

  test('while Chromium plays, the captured sound counted in samples keeps time with the wall clock', async () => {
    // The capture counts the sound in samples from its first stamp, and stamps the picture with the wall
    // clock (capture-args.ts). A 48 kHz sink ran ~70 ppm fast while Chromium played into it (display.ts):
    // +1.4 ms over this test's 20 s, +4.5 ms a minute.
    const page = await CallPage.open({ url: `${server.url}/call/clock?participants=2`, width: 640, height: 360, env: env.env, workDir: dir, loadTimeoutMs: 30_000, log });
    try {
      const seconds = 20;
      const ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'info', '-nostats', '-use_wallclock_as_timestamps', '1', '-f', 'pulse', '-server', env.pulseServer, '-fragment_size', '1920', '-sample_rate', String(sampleRate), '-channels', '2', '-t', String(seconds), '-i', env.pulseSource, '-copyts', '-af', 'ashowinfo', '-f', 'null', '-'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      ffmpeg.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise((resolve) => ffmpeg.once('exit', resolve));
      assert.equal(code, 0, stderr.slice(-500));
      // pts counts in 1/rate; with -copyts it is the wall clock when the samples were read.
      const frames = [...stderr.matchAll(/ pts:(\d+) .*?rate:(\d+) nb_samples:(\d+)/g)].map((m) => ({ stamp: Number(m[1]) / Number(m[2]), seconds: Number(m[3]) / Number(m[2]) }));
      assert.ok(frames.length > seconds * 50, `${frames.length} sound frames in ${seconds} s`);
      const drift = soundDriftMs(frames, 5);
      assert.ok(Math.abs(drift.perMinute) < 1, `the counted sound moved ${drift.perMinute.toFixed(2)} ms a minute against the wall clock (per 5 s: ${drift.windows.map((v) => v.toFixed(2)).join(', ')} ms)`);
    } finally {
      await page.close();
    }
  });

  // Without its energy saver setting Chromium renders at 60 Hz on Xvfb, twice what a 30 fps capture takes.
  for (const [captureFps, expectedHz] of [[30, 30], [60, 60], [undefined, 30]] as const) {
    test(`Chromium renders at ${expectedHz} Hz for ${captureFps ? `a ${captureFps} fps capture` : 'an audio-only recording'}`, async () => {
      const page = await CallPage.open({ url: `${server.url}/call/rate?participants=1`, width: 640, height: 360, captureFps, env: env.env, workDir: dir, loadTimeoutMs: 30_000, log });
      try {
        // A string: the tests are compiled without the DOM's types.
        const rate = await page.evaluate<number>(`new Promise((resolve) => {
          let frames = 0;
          const t0 = performance.now();
          const tick = () => {
            frames++;
            if (performance.now() - t0 < 2000) requestAnimationFrame(tick);
            else resolve(frames / ((performance.now() - t0) / 1000));
          };
          requestAnimationFrame(tick);
        })`);
        assert.ok(Math.abs(rate - expectedHz) <= expectedHz * 0.15, `${rate.toFixed(1)} frames per second`);
      } finally {
        await page.close();
      }
    });
  }
});

/**
 * How far the sound's sample count moves against its wall-clock stamps. A frame can be read late, never
 * early, so the earliest (stamp - seconds counted before it) in each window is where the sound's start
 * really was by that window's count; its slope over the windows is the drift.
 */
function soundDriftMs(frames: { stamp: number; seconds: number }[], windowSeconds: number): { perMinute: number; windows: number[] } {
  const earliest: { at: number; start: number }[] = [];
  let counted = 0;
  for (const frame of frames) {
    const window = Math.floor(counted / windowSeconds);
    const start = frame.stamp - counted;
    if (!earliest[window] || start < earliest[window].start) earliest[window] = { at: counted, start };
    counted += frame.seconds;
  }
  const whole = earliest.slice(0, Math.floor(counted / windowSeconds)); // the last window may be short
  const n = whole.length;
  const meanAt = whole.reduce((sum, w) => sum + w.at, 0) / n;
  const meanStart = whole.reduce((sum, w) => sum + w.start, 0) / n;
  const slope = whole.reduce((sum, w) => sum + (w.at - meanAt) * (w.start - meanStart), 0) / whole.reduce((sum, w) => sum + (w.at - meanAt) ** 2, 0);
  return { perMinute: -slope * 60_000, windows: whole.map((w) => (w.start - whole[0]!.start) * 1000) };
}
