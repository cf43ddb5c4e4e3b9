// A/V offset per recording, after the per-recording correction (recorder-image/src/picture-delay.ts):
// BENCH_AV_RECORDINGS (20) recordings of the flash-and-beep page at 720p30 and at 1080p30, each
// BENCH_AV_SECONDS (12) long, a flash/beep pair a second. Each recording's own median offset must be within ±15 ms, and no single pair beyond
// ±33 ms (one frame). Also printed: each recording's measured picture delay and the shift it got, from
// its log, so a wrong offset can be told apart from a wrong measurement. The recorder runs as its image
// runs it (the JavaScript build).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { flashBeepOffsets } from '../media/analyze.ts';
import { startRecorder } from '../recorder/run-recorder.ts';
import { startRecorderBench } from './recorder-setup.ts';
import { emit, median } from './figures.ts';

const recordings = Number(process.env.BENCH_AV_RECORDINGS ?? 20);
// BENCH_AV_SECONDS: longer recordings show drift along a part (README, "Long recordings"): the sound's
// clock and the grab phase each moved the offset some ms a minute before they were fixed.
const seconds = Number(process.env.BENCH_AV_SECONDS ?? 12);
const sizes = (process.env.BENCH_AV_SIZES ?? '1280x720,1920x1080').split(',').map((s) => s.split('x').map(Number) as [number, number]);

const bench = await startRecorderBench();
const { minio, s3, page, downloads } = bench;
const ms = (seconds: number) => Math.round(seconds * 1000);
/** The value farthest from 0, with its sign. */
const farthest = (xs: number[]) => xs.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0);

try {
  for (const [width, height] of sizes) {
    const runs: { median_ms: number; worst_ms: number; pairs: number; offsets_ms: number[]; picture_delay_ms?: number; picture_delay_spread_ms?: Record<string, number>; sound_lateness_ms?: number; audio_shift_ms?: number; grab_phase_ms?: number; gate_to_first_grab_ms?: number }[] = [];
    for (let i = 0; i < recordings; i++) {
      const rec = await startRecorder(minio, 'bench', {
        url: `${page.url}/call/bench?participants=1&pattern=flash`,
        maxDurationSeconds: seconds,
        output: { container: 'mp4', video: { codec: 'H264', width, height, fps: 30 }, audio: { codec: 'AAC', channels: 2 } },
        storage: { objectKey: `av/${height}p-${i}` },
      });
      const { report } = await rec.finished(90_000 + seconds * 1000);
      if (report.result !== 'UPLOADED') throw new Error(`recording ${i} at ${height}p: ${JSON.stringify(report.error)}`);
      const file = join(downloads, `${height}p-${i}.mp4`);
      await s3.fGetObject('bench', report.file!.key, file);
      const offsets = await flashBeepOffsets(file);
      const measured = readFileSync(rec.logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('A/V sync'))
        .map((l) => JSON.parse(l) as { pictureDelayMs?: number; pictureDelaySpreadMs?: Record<string, number>; soundLatenessMs?: number; audioShiftMs: number; grabPhaseMs?: number; gateToFirstGrabMs?: number })
        .at(-1); // the part's final measurement (an early one is logged at debug level after 3 s)
      runs.push({
        median_ms: ms(median(offsets)),
        worst_ms: ms(farthest(offsets)),
        pairs: offsets.length,
        offsets_ms: offsets.map(ms),
        picture_delay_ms: measured?.pictureDelayMs,
        picture_delay_spread_ms: measured?.pictureDelaySpreadMs,
        sound_lateness_ms: measured?.soundLatenessMs,
        audio_shift_ms: measured?.audioShiftMs,
        grab_phase_ms: measured?.grabPhaseMs,
        gate_to_first_grab_ms: measured?.gateToFirstGrabMs,
      });
    }
    const medians = runs.map((r) => r.median_ms);
    const worstMedian = farthest(medians);
    const worstPair = farthest(runs.map((r) => r.worst_ms));
    emit({
      benchmark: `recorder.av_offset_${height}p`,
      value: worstMedian,
      unit: 'ms, the largest per-recording median (audio after video is positive)',
      target: 15,
      median_of_medians: median(medians),
      spread: [Math.min(...medians), Math.max(...medians)],
      worst_pair_ms: worstPair,
      worst_pair_target: 33,
      unmeasured: runs.filter((r) => r.picture_delay_ms === undefined || r.sound_lateness_ms === undefined).length,
      runs,
      note: `${recordings} recordings of the flash-and-beep page, ${seconds} s each (a pair a second)`,
    });
  }
} finally {
  await bench.stop();
}
