// Where the A/V offset of a recording comes from: the delay of the sound and of the picture, each from
// the page's own clock to ffmpeg's wall-clock stamps, per recording. The recorder's environment
// (display.ts, page.ts) with an ffmpeg that keeps absolute stamps; the flash-and-beep page logs
// Date.now() as it starts each beep, in the same animation frame as the flash. The picture's delay is
// split in two with the X server's damage events: Chromium's frame pipeline (draw call → present) and
// the wait from the present to ffmpeg's next grab.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { startCallPageServer } from '../../examples/call-page/server.ts';
import { startAvEnvironment } from '../../recorder-image/src/display.ts';
import { CallPage } from '../../recorder-image/src/page.ts';
import { flashesAndBeeps } from '../media/analyze.ts';
import { emit, median } from './figures.ts';
import { watchScreenUpdates } from './screen-updates.ts';

const run = promisify(execFile);
const log = pino({ level: 'silent' });
const ms = (seconds: number) => Math.round(seconds * 1000);

/** Seconds from each cue to the first of the events within -0.1..0.5 s after it. */
function delays(cues: number[], events: number[]): number[] {
  return cues.flatMap((cue) => {
    const after = events.map((e) => e - cue).filter((d) => d > -0.1 && d < 0.5);
    return after.length ? [Math.min(...after)] : [];
  });
}

const server = await startCallPageServer();
const dir = mkdtempSync(join(tmpdir(), 'bench-av-paths-'));
const runs: { audio_ms: number; video_ms: number; grab_wait_ms: number }[] = [];
try {
  for (let i = 0; i < 5; i++) {
    const env = await startAvEnvironment(1280, 720, 30, join(dir, `runtime-${i}`), log);
    const page = await CallPage.open({ url: `${server.url}/call/bench?participants=1&pattern=flash`, width: 1280, height: 720, captureFps: 30, env: env.env, workDir: dir, loadTimeoutMs: 30_000, log });
    const cues: number[] = [];
    page.on('console', (text) => {
      const cue = /^CUE (\d+(\.\d+)?)$/.exec(text);
      if (cue) cues.push(Number(cue[1]) / 1000);
    });
    // A string: the tests are compiled without the DOM's types.
    await page.evaluate(`(() => {
      const create = AudioContext.prototype.createOscillator;
      AudioContext.prototype.createOscillator = function () {
        const osc = create.call(this);
        const start = osc.start.bind(osc);
        osc.start = (...args) => { console.log('CUE ' + (performance.timeOrigin + performance.now())); return start(...args); };
        return osc;
      };
    })()`);
    // Stamps relative to a base second, so that they keep their precision in ffmpeg's printouts.
    const base = Math.floor(Date.now() / 1000) - 1;
    const file = join(dir, `paths-${i}.nut`);
    const presents = await watchScreenUpdates(env.display);
    await run('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-thread_queue_size', '4096', '-use_wallclock_as_timestamps', '1', '-f', 'pulse', '-server', env.pulseServer, '-fragment_size', '1920', '-sample_rate', '48000', '-channels', '2', '-i', env.pulseSource,
      '-thread_queue_size', '1024', '-use_wallclock_as_timestamps', '1', '-f', 'x11grab', '-framerate', '30', '-video_size', '1280x720', '-draw_mouse', '0', '-i', `${env.display}.0+0,0`,
      '-copyts', '-output_ts_offset', String(-base), '-map', '1:v', '-map', '0:a', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'pcm_s16le', '-frames:v', '300', '-shortest', '-f', 'nut', file,
    ], { env: env.env });
    presents.stop();
    await page.close();
    await env.stop();
    const { flashes, beeps } = await flashesAndBeeps(file, true);
    const relative = cues.map((c) => c - base);
    const grabs = (await run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file])).stdout.trim().split('\n').map(Number);
    const presented = presents.times.map((t) => t - base);
    const grabWaits = grabs.flatMap((grab) => {
      const last = presented.findLast((t) => t <= grab);
      return last === undefined ? [] : [grab - last];
    });
    runs.push({ audio_ms: ms(median(delays(relative, beeps))), video_ms: ms(median(delays(relative, flashes))), grab_wait_ms: ms(median(grabWaits)) });
  }
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
emit({ benchmark: 'recorder.audio_path_delay', value: median(runs.map((r) => r.audio_ms)), unit: 'ms', runs: runs.map((r) => r.audio_ms), note: 'page beep → ffmpeg stamp, median per recording; no shift applied' });
emit({ benchmark: 'recorder.video_path_delay', value: median(runs.map((r) => r.video_ms)), unit: 'ms', runs: runs.map((r) => r.video_ms), note: 'page draw → ffmpeg stamp (Chromium frame pipeline + wait for the next grab), median per recording' });
emit({ benchmark: 'recorder.video_grab_wait', value: median(runs.map((r) => r.grab_wait_ms)), unit: 'ms', runs: runs.map((r) => r.grab_wait_ms), note: 'Chromium present (X damage) → ffmpeg grab stamp, median per recording' });
emit({ benchmark: 'recorder.video_frame_pipeline', value: median(runs.map((r) => r.video_ms - r.grab_wait_ms)), unit: 'ms', runs: runs.map((r) => r.video_ms - r.grab_wait_ms), note: 'page draw → Chromium present: the picture path less the grab wait, per recording' });
