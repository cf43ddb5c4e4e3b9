// Every frame at 1080p30 on this 2-core machine, as in production: the control plane (etcd,
// kube-apiserver, kube-controller-manager) and the operator run beside the recorder, and the recording
// is made through a Recording resource. The page draws a new picture every frame (pattern=counter, 4
// participants); the share of distinct consecutive frames in the uploaded file is the figure (target
// ≥ 99.5 %).
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OperatorTestEnvironment } from '../operator/environment.ts';
import { emit } from './figures.ts';

const run = promisify(execFile);
const seconds = Number(process.env.BENCH_FRAMES_SECONDS ?? 30);
// BENCH_FRAMES_QUALITY=720p measures a smaller size the same way (its grab queue and encoder threads differ).
const quality = (process.env.BENCH_FRAMES_QUALITY ?? '1080p') as '720p' | '1080p';
const env = new OperatorTestEnvironment();
try {
  await env.start();
  await env.startOperator({ LOG_LEVEL: 'warn', POLL_MS: '2000' });
  await env.createCallType('frames', { quality }, {}, { callUrlTemplate: `${env.page.url}/call/{callId}?layout=grid&participants=4&pattern=counter` });
  const ns = await env.createNamespace('frames');
  await env.createRecording(ns, 'counter', { callType: 'frames', callId: 'counter' });
  await env.phase(ns, 'counter', 'RECORDING', 120_000);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  await env.setState(ns, 'counter', 'Stopped');
  const done = await env.waitFor(ns, 'counter', 'UPLOADED with a download URL', (r) => Boolean(r.status?.output?.downloadUrl), 120_000);
  const file = join(mkdtempSync(join(tmpdir(), 'bench-frames-')), 'counter.mp4');
  writeFileSync(file, Buffer.from(await (await fetch(done.status!.output!.downloadUrl!)).arrayBuffer()));
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v', '-f', 'framemd5', '-'], { maxBuffer: 64 << 20 });
  const hashes = stdout.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',').pop()!.trim());
  const distinct = hashes.filter((h, i) => i === 0 || h !== hashes[i - 1]).length;
  emit({
    benchmark: `recorder.distinct_frames_${quality}`,
    value: Math.round((distinct / hashes.length) * 10000) / 100,
    unit: '%',
    target: 99.5,
    frames: hashes.length,
    duration_s: done.status?.output?.durationSeconds,
    note: `${seconds} s at ${quality}30 of a page that changes every frame, through a Recording, with the control plane and the operator beside`,
  });
} finally {
  await env.stop();
}
