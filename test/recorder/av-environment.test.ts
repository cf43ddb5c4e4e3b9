// The recorder's display, sound card and browser settings that its cost and start time rest on, checked
// on the real Xvfb, PulseAudio and Chromium: the sink is ready to deliver sound at once, everything runs
// at 48 kHz, and Chromium renders no faster than the capture takes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { startCallPageServer, type CallPageServer } from '../../examples/call-page/server.ts';
import { startAvEnvironment, type AvEnvironment } from '../../recorder-image/src/display.ts';
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

  test('the null sink mixes in short blocks from the start, at 48 kHz', async () => {
    // An idle null sink mixes 2 s ahead; a listener would then wait up to 2 s for its first sound.
    const { stdout: sinks } = await run('pactl', ['list', 'sinks'], { env: env.env });
    const latencyUs = Number(/Latency: (\d+) usec/.exec(sinks)?.[1]);
    assert.ok(latencyUs < 100_000, `the sink is ${latencyUs} µs ahead`);
    const { stdout: info } = await run('pactl', ['info'], { env: env.env });
    assert.match(info, /Default Sample Specification: s16le 2ch 48000Hz/);
    assert.match(sinks, /Sample Specification: s16le 2ch 48000Hz/);
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
