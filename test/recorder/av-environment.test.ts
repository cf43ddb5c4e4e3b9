// The recorder's display, sound card and browser settings that its cost and start time rest on, checked
// on the real Xvfb, PulseAudio and Chromium: the sink is ready to deliver sound at once, its sound keeps
// time with the wall clock while Chromium plays, and Chromium renders no faster than the capture takes.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { startCallPageServer, type CallPageServer } from '../../examples/call-page/server.ts';
import { sampleRate, startAvEnvironment, type AvEnvironment } from '../../recorder-image/src/display.ts';
import { startBrowser } from '../../recorder-image/src/browser-start.ts';
import { CallPage } from '../../recorder-image/src/page.ts';
import { grabIntervalUs } from '../../recorder-image/src/screen-refresh.ts';
import { median } from '../bench/figures.ts';

const run = promisify(execFile);
const log = pino({ level: 'silent' });

describe('recorder display and sound card', () => {
  let env: AvEnvironment;
  let server: CallPageServer;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'av-environment-'));
    env = await startAvEnvironment(640, 360, 30, join(dir, 'runtime'), log);
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

  test("the sink's own listener steps aside while ffmpeg listens, and back in before ffmpeg stops: the sink stays in short blocks", async () => {
    const pactl = async (...args: string[]) => (await run('pactl', args, { env: env.env })).stdout;
    const rows = (text: string) => text.trim().split('\n').filter(Boolean).map((line) => line.split('\t'));
    /** The source each record stream listens to. */
    const listeningTo = async () => {
      const sources = new Map(rows(await pactl('list', 'short', 'sources')).map(([index, name]) => [index, name]));
      return rows(await pactl('list', 'short', 'source-outputs')).map(([, source]) => sources.get(source)).sort();
    };
    const sinkLatencyUs = async (name: string) => Number(new RegExp(`Name: ${name}\\n[\\s\\S]*?Latency: (\\d+) usec`).exec(await pactl('list', 'sinks'))?.[1]);
    const capture = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'pulse', '-server', env.pulseServer, '-fragment_size', '1920', '-sample_rate', String(sampleRate), '-channels', '2', '-i', env.pulseSource, '-t', '60', '-f', 'null', '-'], { stdio: 'ignore' });
    const captureEnded = new Promise((resolve) => capture.once('exit', resolve));
    try {
      for (let i = 0; (await listeningTo()).length < 2; i++) {
        assert.ok(i < 100, 'ffmpeg did not start listening within 5 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      await env.sinkListener.stepAside();
      assert.deepEqual(await listeningTo(), ['parking.monitor', 'recorder.monitor']);
      assert.match(await pactl('list', 'short', 'sinks'), /\tparking\t.*\tSUSPENDED/, 'the parking sink mixes nothing');
      assert.ok((await sinkLatencyUs('recorder')) < 100_000, 'ffmpeg alone keeps the sink in short blocks');
      await env.sinkListener.stepIn();
      assert.deepEqual(await listeningTo(), ['recorder.monitor', 'recorder.monitor']);
    } finally {
      capture.kill('SIGINT');
      await captureEnded;
    }
    await new Promise((r) => setTimeout(r, 300));
    const latencyUs = await sinkLatencyUs('recorder');
    assert.ok(latencyUs < 100_000, `after ffmpeg left the sink is ${latencyUs} µs ahead`);
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
      const drift = soundDriftMs(frames, 1);
      assert.ok(Math.abs(drift.perMinute) < 1, `the counted sound moved ${drift.perMinute.toFixed(2)} ms a minute against the wall clock (per second: ${drift.windows.map((v) => v.toFixed(2)).join(', ')} ms)`);
    } finally {
      await page.close();
    }
  });

  test("a closed page leaves nothing of its browser behind: neither the profile nor the lock socket's directory", async () => {
    const page = await CallPage.open({ url: `${server.url}/call/rate?participants=1`, width: 640, height: 360, env: env.env, workDir: dir, loadTimeoutMs: 30_000, log });
    const profiles = readdirSync(dir).filter((name) => name.startsWith('chromium-'));
    assert.equal(profiles.length, 1, `profiles in the work directory: ${profiles.join(', ')}`);
    const socketDir = dirname(readlinkSync(join(dir, profiles[0]!, 'SingletonSocket')));
    assert.ok(existsSync(socketDir), `${socketDir} while the page is open`);
    await page.close();
    assert.ok(!existsSync(socketDir), `${socketDir} is still there`);
    assert.ok(!existsSync(join(dir, profiles[0]!)), 'the profile is still there');
  });

  // Chromium draws on the screen's beat (screen-refresh.ts); Xvfb alone has none, and Chromium then
  // drew at 60 Hz, halved by its energy saver to frames 33,332 µs apart: a µs off the grabs.
  for (const fps of [30, 60, 25]) {
    test(`for a ${fps} fps capture Chromium draws exactly as often as ffmpeg grabs: every ${grabIntervalUs(fps)} µs`, async () => {
      const frameTimes = await animationFrameTimes({ width: 640, height: 360, fps }, 4);
      const interval = fittedIntervalUs(frameTimes);
      assert.ok(Math.abs(interval - grabIntervalUs(fps)) < 0.5, `frames ${interval.toFixed(2)} µs apart over ${frameTimes.length} frames`);
    });
  }

  test('for an audio-only recording Chromium draws at 30 Hz', async () => {
    const frameTimes = await animationFrameTimes(undefined, 2);
    const rate = 1_000_000 / fittedIntervalUs(frameTimes);
    assert.ok(Math.abs(rate - 30) <= 30 * 0.15, `${rate.toFixed(1)} frames per second`);
  });

  /** The times (ms) of Chromium's animation frames over `seconds`, in a recorder's own screen and browser. */
  async function animationFrameTimes(video: { width: number; height: number; fps: number } | undefined, seconds: number): Promise<number[]> {
    const started = startBrowser({ video, workDir: dir, log });
    try {
      const { page } = await started.browser;
      await started.environment;
      await page.load({ url: `${server.url}/call/rate?participants=1`, loadTimeoutMs: 30_000 });
      // A string: the tests are compiled without the DOM's types.
      return await page.evaluate<number[]>(`new Promise((resolve) => {
        const times = [];
        const tick = (t) => {
          times.push(t);
          if (t - times[0] < ${seconds * 1000}) requestAnimationFrame(tick);
          else resolve(times);
        };
        requestAnimationFrame(tick);
      })`);
    } finally {
      await started.close();
    }
  }
});

/**
 * How far the sound's sample count moves against its wall-clock stamps. A frame can be read late, never
 * early, so the earliest (stamp - seconds counted before it) in each window is where the sound's start
 * really was by that window's count; its slope over the windows is the drift. The slope is the median
 * of the pairwise slopes: on a busy machine a window's earliest read can still be late by a few tenths
 * of a ms, and a least-squares line through 5 s windows was once pulled to 1 ms a minute by one.
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
  const slope = medianPairwiseSlope(whole.map((w) => [w.at, w.start]));
  return { perMinute: -slope * 60_000, windows: whole.map((w) => (w.start - whole[0]!.start) * 1000) };
}

/** The least-squares time between frames, µs: the frames' own jitter (well under a ms) averages out. */
function fittedIntervalUs(frameTimesMs: number[]): number {
  return leastSquaresSlope(frameTimesMs.map((t, i) => [i, t])) * 1000;
}

/** The median of the slopes between every two of `points` ([x, y]): one stray point cannot move it. */
function medianPairwiseSlope(points: [number, number][]): number {
  const slopes = points.flatMap(([x1, y1], i) => points.slice(i + 1).map(([x2, y2]) => (y2 - y1) / (x2 - x1)));
  return median(slopes);
}

/** The slope of the least-squares line through `points` ([x, y]). */
function leastSquaresSlope(points: [number, number][]): number {
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / points.length;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / points.length;
  const covariance = points.reduce((sum, [x, y]) => sum + (x - meanX) * (y - meanY), 0);
  const variance = points.reduce((sum, [x]) => sum + (x - meanX) ** 2, 0);
  return covariance / variance;
}
