// The recorder end to end with real Chromium, ffmpeg, PulseAudio, Xvfb and MinIO: the real entry point
// runs as a process (as in its container) against the demo call page.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Client } from 'minio';
import { startCallPageServer, type CallPageServer } from '../../examples/call-page/server.ts';
import { probe } from '../../recorder-image/src/finalize.ts';
import { startMinio, type MinioServer } from '../harness/minio.ts';
import { startAzurite } from '../harness/azurite.ts';
import { startFakeGcs } from '../harness/fake-gcs.ts';
import { startSftpServer } from '../harness/sftp-server.ts';
import { ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { AzureStore } from '@recording-operator/common/storage/azure-store.ts';
import { parseServiceAccountKey } from '@recording-operator/common/storage/gcs-key.ts';
import type { StoreCredentials } from '@recording-operator/common/storage/object-store.ts';
import { startRtmpServer } from '../harness/nginx-rtmp.ts';
import { startRemoteParticipants } from '../harness/remote-participants.ts';
import { blackStretches, flashBeepOffsets, frameAt, frozenStretches, meanVolumeDb, near, silentStretches, x264Options } from '../media/analyze.ts';
import { startRecorder } from './run-recorder.ts';

const run = promisify(execFile);
const bucket = 'recordings';

describe('recorder', () => {
  let minio: MinioServer;
  let s3: Client;
  let page: CallPageServer;
  let assets: string;
  let downloads: string;

  before(async () => {
    minio = await startMinio();
    s3 = new Client({ endPoint: minio.host, port: minio.port, useSSL: false, accessKey: minio.accessKey, secretKey: minio.secretKey });
    await s3.makeBucket(bucket);
    assets = mkdtempSync(join(tmpdir(), 'recorder-assets-'));
    downloads = mkdtempSync(join(tmpdir(), 'recorder-downloads-'));
    // A pure magenta watermark and a stylesheet that paints the page clock cyan.
    await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=0xff00ff:s=120x60', '-frames:v', '1', '-y', join(assets, 'wm.png')]);
    writeFileSync(join(assets, 'cyan-clock.css'), '#clock { background: #00ffff !important; color: #00ffff !important; }\n');
    page = await startCallPageServer({ assetsDir: assets });
  });
  after(async () => {
    await page?.close();
    await minio?.destroy();
  });

  const callUrl = (query: string) => `${page.url}/call/demo?${query}`;
  async function download(key: string): Promise<{ path: string; sha256: string }> {
    const path = join(downloads, key.replace(/\//g, '_'));
    await s3.fGetObject(bucket, key, path);
    const { stdout } = await run('sha256sum', [path]);
    return { path, sha256: stdout.split(' ')[0]! };
  }

  test('10 s of the demo page at 720p: H.264 1280x720 30 fps + AAC, no black, frozen or silent stretch', async () => {
    const rec = await startRecorder(minio, bucket, {
      url: callUrl('layout=grid&participants=4'),
      maxDurationSeconds: 10,
      output: { container: 'mp4', video: { codec: 'H264', width: 1280, height: 720, fps: 30 }, audio: { codec: 'AAC', channels: 2 }, exportAudio: true },
      storage: { objectKey: 'e2e/720p' },
    });
    const { code, report, log } = await rec.finished(90_000);
    assert.equal(code, 0, JSON.stringify(report));
    assert.equal(report.result, 'UPLOADED');
    assert.equal(report.stopReason, 'MAX_DURATION_REACHED', log);
    assert.equal(report.file?.key, 'e2e/720p.mp4');
    const { path, sha256 } = await download(report.file.key);
    assert.equal(sha256, report.file.sha256, 'the stored object is the file the recorder hashed');
    const info = await probe(path);
    assert.equal(info.video?.codec, 'h264');
    assert.equal(info.video?.width, 1280);
    assert.equal(info.video?.height, 720);
    assert.ok(Math.abs(info.video.fps - 30) < 0.5, `fps ${info.video.fps}`);
    const x264 = x264Options(path);
    assert.equal(x264.qpmin, '18', `the quality floor reached the encoder: ${JSON.stringify(x264)}`);
    assert.equal(x264.threads, '1');
    assert.equal(info.audio?.codec, 'aac');
    assert.equal(info.audio?.channels, 2);
    assert.ok(Math.abs(info.durationSeconds - 10) <= 0.5, `duration ${info.durationSeconds}`);
    assert.deepEqual(await blackStretches(path), [], 'no black stretch');
    assert.deepEqual(await frozenStretches(path), [], 'no frozen stretch');
    assert.deepEqual(await silentStretches(path), [], 'no silent stretch');
    assert.ok((await meanVolumeDb(path)) > -35, 'audio is audible');
    assert.ok(report.thumbnail && report.thumbnail.sizeBytes > 1000, 'a thumbnail was uploaded');
    assert.equal(report.audioFile?.key, 'e2e/720p.audio.m4a');
    const audio = await probe((await download(report.audioFile.key)).path);
    assert.equal(audio.video, undefined, 'the separate audio file has no video');
    assert.equal(audio.audio?.codec, 'aac');
    assert.ok(Math.abs(audio.durationSeconds - info.durationSeconds) < 0.2);
  });

  /**
   * A 6 s recording of a WebRTC call page, from the page's START_RECORDING (once every participant's
   * picture shows): uploaded, the decoded videos shown and moving (never still for `stillSeconds`), the
   * voices heard.
   */
  async function recordsAWebRtcCall(url: string, objectKey: string, stillSeconds = 1): Promise<void> {
    const rec = await startRecorder(minio, bucket, {
      url,
      startSignal: { wait: true, timeoutSeconds: 30 },
      maxDurationSeconds: 6,
      output: { container: 'mp4', video: { codec: 'H264', width: 1280, height: 720, fps: 30 }, audio: { codec: 'AAC', channels: 2 } },
      storage: { objectKey },
    });
    const { code, report, log } = await rec.finished(90_000);
    assert.equal(code, 0, JSON.stringify(report));
    assert.equal(report.result, 'UPLOADED', log);
    assert.doesNotMatch(log, /WebRTC failed/);
    const { path } = await download(report.file!.key);
    const info = await probe(path);
    assert.ok(Math.abs(info.durationSeconds - 6) <= 0.5, `duration ${info.durationSeconds}`);
    assert.deepEqual(await blackStretches(path), [], 'no black stretch: the decoded videos are shown');
    assert.deepEqual(await frozenStretches(path, stillSeconds), [], `no frozen stretch of ${stillSeconds} s`);
    assert.deepEqual(await silentStretches(path), [], 'no silent stretch: the voices arrive over WebRTC');
    assert.ok((await meanVolumeDb(path)) > -40, 'audio is audible');
  }

  test('a WebRTC call (4 participants, VP8 and Opus decoded in the page): the recording moves and is heard', async () => {
    // Here the page also encodes the four pictures, beside the recorder's own encoder on 2 cores: its
    // VP8 encoders, short of CPU, sent 5-9 frames a second, with gaps up to 1.13 s (7 recordings), while
    // the page's own clock stood still for at most 0.33 s (3 checked). Those gaps are the senders' and
    // failed a 1 s check in 2 runs of 10 (and the last CI run); below, with the senders elsewhere, 1 s holds.
    await recordsAWebRtcCall(callUrl('layout=grid&participants=4&media=webrtc'), 'e2e/webrtc', 2);
  });

  test('a WebRTC call whose 4 participants send from outside the recorder (media=remote): received, shown and heard', async () => {
    // The page signals START_RECORDING only once every participant's picture shows: without their
    // offers this recording would never start.
    const participants = startRemoteParticipants(page.url, 'layout=grid&participants=4');
    try {
      await recordsAWebRtcCall(participants.callUrl, 'e2e/webrtc-remote');
      await participants.connected; // all four sent (rejects with a participant's failure)
    } finally {
      await participants.stop();
    }
  });

  test('live to RTMP while recording: nginx receives H.264 + AAC under the secret stream key', async () => {
    const rtmp = await startRtmpServer();
    try {
      const rec = await startRecorder(minio, bucket, {
        url: callUrl('participants=2'),
        maxDurationSeconds: 4,
        output: { container: 'mp4', video: { codec: 'H264', width: 640, height: 360, fps: 30 }, audio: { codec: 'AAC', channels: 2 } },
        rtmp: { url: rtmp.url },
        storage: { objectKey: 'e2e/live' },
      }, { rtmpStreamKey: 'secret-key-42' });
      const { report } = await rec.finished(60_000);
      assert.equal(report.result, 'UPLOADED', JSON.stringify(report));
      const streamed = rtmp.recordings();
      assert.deepEqual(streamed.map((f) => f.split('/').pop()), ['secret-key-42.flv']);
      const live = await probe(streamed[0]!);
      assert.equal(live.video?.codec, 'h264');
      assert.equal(live.audio?.codec, 'aac');
      assert.ok(live.durationSeconds > 3, `streamed ${live.durationSeconds} s`);
      const file = await probe((await download(report.file!.key)).path);
      assert.ok(Math.abs(file.durationSeconds - 4) <= 0.5, 'the file is complete as well');
    } finally {
      await rtmp.stop();
    }
  });

  const formats = [
    { name: 'audio only, MP3', output: { container: 'mp3', audio: { codec: 'MP3', channels: 2 } }, expect: { audio: 'mp3', contentType: 'audio/mpeg', ext: 'mp3' } },
    { name: 'audio only, AAC mono in .m4a', output: { container: 'm4a', audio: { codec: 'AAC', channels: 1 } }, expect: { audio: 'aac', contentType: 'audio/mp4', ext: 'm4a' } },
    { name: 'VP8 + Opus WebM at 360p', output: { container: 'webm', video: { codec: 'VP8', width: 640, height: 360, fps: 30 }, audio: { codec: 'OPUS', channels: 2 } }, expect: { video: 'vp8', audio: 'opus', width: 640, height: 360, contentType: 'video/webm', ext: 'webm' } },
    { name: '1080p H.264', output: { container: 'mp4', video: { codec: 'H264', width: 1920, height: 1080, fps: 30 }, audio: { codec: 'AAC', channels: 2 } }, expect: { video: 'h264', audio: 'aac', width: 1920, height: 1080, contentType: 'video/mp4', ext: 'mp4', x264Threads: '2' } },
    { name: 'portrait 720x1280 H.264', output: { container: 'mp4', video: { codec: 'H264', width: 720, height: 1280, fps: 30 }, audio: { codec: 'AAC', channels: 2 } }, expect: { video: 'h264', audio: 'aac', width: 720, height: 1280, contentType: 'video/mp4', ext: 'mp4', x264Threads: '1' } },
  ] as const;
  for (const f of formats) {
    test(`${f.name}: the right streams and size`, async () => {
      const rec = await startRecorder(minio, bucket, { url: callUrl('layout=spotlight&participants=3'), maxDurationSeconds: 3, output: f.output, storage: { objectKey: `formats/${f.output.container}-${f.name.length}` } });
      const { code, report } = await rec.finished(90_000);
      assert.equal(code, 0, JSON.stringify(report));
      assert.equal(report.file?.contentType, f.expect.contentType);
      assert.ok(report.file.key.endsWith(`.${f.expect.ext}`));
      const { path } = await download(report.file.key);
      const info = await probe(path);
      assert.equal(info.audio?.codec, f.expect.audio);
      assert.equal(info.audio?.channels, f.output.audio.channels);
      if ('video' in f.expect) {
        assert.equal(info.video?.codec, f.expect.video);
        if ('x264Threads' in f.expect) assert.equal(x264Options(path).threads, f.expect.x264Threads, "x264's threads fixed by size, not by the node's cores");
        assert.equal(info.video?.width, f.expect.width);
        assert.equal(info.video?.height, f.expect.height);
      } else {
        assert.equal(info.video, undefined, 'no video stream in an audio-only file');
      }
      assert.ok(Math.abs(info.durationSeconds - 3) <= 0.5, `duration ${info.durationSeconds}`);
    });
  }

  test('pause 3 s and resume: the paused span is absent and excluded from the duration', async () => {
    const rec = await startRecorder(minio, bucket, { url: callUrl('layout=grid&participants=2'), output: { container: 'mp4', video: { codec: 'H264', width: 640, height: 360, fps: 30 }, audio: { codec: 'AAC', channels: 2 } }, storage: { objectKey: 'e2e/paused' } });
    const recording = await rec.waitFor('RECORDING', 60_000);
    // The start-up split: every stage reached, in order, within the process's lifetime so far.
    const s = recording.startup!;
    const stages = [s.displayReadyMs, s.browserReadyMs, s.pageLoadedMs, s.startSignalMs, s.firstFrameMs];
    assert.ok(stages.every((ms) => typeof ms === 'number' && ms > 0), JSON.stringify(s));
    assert.deepEqual([...stages].sort((a, b) => a! - b!), stages, `stages in order: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 3000));
    const paused = await rec.call('/pause');
    const pausedAt = Date.now();
    assert.equal(paused.phase, 'PAUSED');
    await new Promise((r) => setTimeout(r, 3000));
    const whilePaused = await rec.status();
    assert.ok(Math.abs(whilePaused.durationSeconds - paused.durationSeconds) < 0.2, 'the duration does not grow while paused');
    const resumeRequestedAt = Date.now();
    assert.equal((await rec.call('/resume')).phase, 'RECORDING');
    const pausedSeconds = (resumeRequestedAt - pausedAt) / 1000;
    await new Promise((r) => setTimeout(r, 3000));
    await rec.call('/stop');
    const { report } = await rec.finished();
    assert.equal(report.result, 'UPLOADED');
    assert.equal(report.stopReason, 'API_CALL');
    const wall = (Date.parse(report.stoppedTime!) - Date.parse(report.startedTime!)) / 1000;
    assert.ok(wall >= 8.5, `wall time ${wall}`);
    assert.ok(report.durationSeconds! <= wall - pausedSeconds + 0.3, `recorded ${report.durationSeconds} s of ${wall} s with ${pausedSeconds} s paused`);
    assert.ok(report.durationSeconds! >= 5.5, `both recorded stretches are kept: ${report.durationSeconds} s`);
    const info = await probe((await download(report.file!.key)).path);
    assert.ok(Math.abs(info.durationSeconds - report.durationSeconds!) < 0.1);
    assert.equal(readdirSync(rec.workDir).filter((f) => /^part-\d{3}\.mp4$/.test(f)).length, 2, 'one part before and one after the pause');
  });

  test("A/V sync: each part's picture delay and sound lateness are measured and its sound shifted at the join", async () => {
    // The flash-and-beep page: a white flash and a beep in the same animation frame, every second. Two
    // parts (a pause between), so each is shifted by its own measurement before they are joined.
    const rec = await startRecorder(minio, bucket, { url: `${page.url}/call/bench?participants=1&pattern=flash`, output: { container: 'mp4', video: { codec: 'H264', width: 1280, height: 720, fps: 30 }, audio: { codec: 'AAC', channels: 2 } }, storage: { objectKey: 'e2e/av-sync' } });
    await rec.waitFor('RECORDING', 60_000);
    await new Promise((r) => setTimeout(r, 6000));
    await rec.call('/pause');
    await rec.call('/resume');
    await new Promise((r) => setTimeout(r, 6000));
    await rec.call('/stop');
    const { report } = await rec.finished();
    assert.equal(report.result, 'UPLOADED');
    const measured = readFileSync(rec.logFile, 'utf8').split('\n').filter((l) => l.includes('"A/V sync measured"')).map((l) => JSON.parse(l) as { pictureDelayMs: number; soundLatenessMs: number; audioShiftMs: number });
    assert.equal(measured.length, 2, 'one measurement per part');
    // A frame reaches ffmpeg after it was drawn; when the grab comes right after Chromium draws (a grab
    // phase near 0) that is within 10 ms: 8 ms was measured (picture-delay.ts), 9.6 in one run of this test.
    for (const m of measured) assert.ok(m.pictureDelayMs > 0 && m.pictureDelayMs < 240 && m.soundLatenessMs >= 0, JSON.stringify(m));
    const kept = readdirSync(rec.workDir).filter((f) => f.endsWith('.sync.json'));
    assert.equal(kept.length, 2, 'each measurement kept beside its part, for a salvage');
    const offsets = await flashBeepOffsets((await download(report.file!.key)).path);
    assert.ok(offsets.length >= 8, `flash/beep pairs found: ${offsets.length} in ${report.durationSeconds} s`);
    const sorted = [...offsets].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    // Without the correction recordings lay between -24 and +38 ms (README); one frame is 33 ms.
    assert.ok(Math.abs(median) <= 0.015, `median offset ${Math.round(median * 1000)} ms (${offsets.map((o) => Math.round(o * 1000)).join(', ')}; ${JSON.stringify(measured)})`);
    // One marker may stand out: Chromium now and then presents a frame late (one of about ten such recordings
    // had a flash 177 ms after its beep), which no shift of the whole part can undo. The median above is
    // what the correction is for; a second stray marker means something else is wrong.
    const stray = offsets.filter((o) => Math.abs(o) > 0.04);
    assert.ok(stray.length <= 1, `all pairs but one within 40 ms: ${offsets.map((o) => Math.round(o * 1000)).join(', ')}`);
  });

  test('the maximum duration changed while recording: raised, the recording continues; lowered, it stops there', async () => {
    const small = { container: 'mp4', video: { codec: 'H264', width: 640, height: 360, fps: 30 }, audio: { codec: 'AAC', channels: 2 } } as const;
    const raised = await startRecorder(minio, bucket, { url: callUrl('participants=2'), maxDurationSeconds: 3, output: small, storage: { objectKey: 'e2e/raised' } });
    await raised.waitFor('RECORDING', 60_000);
    assert.equal((await raised.call('/max-duration', { maxDurationSeconds: 6 })).maxDurationSeconds, 6);
    await assert.rejects(raised.call('/max-duration', { maxDurationSeconds: 0 }), /HTTP 400.*maxDurationSeconds.*1 to 86400/);
    const lowered = await startRecorder(minio, bucket, { url: callUrl('participants=2'), maxDurationSeconds: 60, output: small, storage: { objectKey: 'e2e/lowered' } });
    await lowered.waitFor('RECORDING', 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    await lowered.call('/max-duration', { maxDurationSeconds: 4 });
    for (const [rec, expected] of [[raised, 6], [lowered, 4]] as const) {
      const { report } = await rec.finished(90_000);
      assert.equal(report.result, 'UPLOADED', JSON.stringify(report));
      assert.equal(report.stopReason, 'MAX_DURATION_REACHED');
      const info = await probe((await download(report.file!.key)).path);
      assert.ok(Math.abs(info.durationSeconds - expected) <= 0.6, `expected ${expected} s, the file has ${info.durationSeconds} s`);
    }
  });

  test('watermark and external CSS are in the decoded frames', async () => {
    const rec = await startRecorder(minio, bucket, {
      url: callUrl('layout=grid&participants=4'),
      maxDurationSeconds: 3,
      watermark: { url: `${page.url}/assets/wm.png`, width: 120, height: 60, position: 'left top' },
      externalCssUrl: `${page.url}/assets/cyan-clock.css`,
      storage: { objectKey: 'e2e/branded' },
    });
    const { report } = await rec.finished(90_000);
    assert.equal(report.result, 'UPLOADED', JSON.stringify(report));
    const frame = await frameAt((await download(report.file!.key)).path, 1.5, 1280, 720);
    assert.ok(near(frame.rgb(16 + 60, 16 + 30), [255, 0, 255]), `watermark pixel ${frame.rgb(76, 46).join(',')}`);
    assert.ok(near(frame.rgb(640, 24), [0, 255, 255]), `clock pixel ${frame.rgb(640, 24).join(',')}`);
    assert.ok(!near(frame.rgb(1280 - 76, 46), [255, 0, 255]), 'the watermark is only in its corner');
  });

  test('storage down during upload: retried until it is back, then stored with the same checksum', async () => {
    const rec = await startRecorder(minio, bucket, { url: callUrl('participants=2'), output: { container: 'mp4', video: { codec: 'H264', width: 640, height: 360, fps: 30 }, audio: { codec: 'AAC', channels: 2 } }, storage: { objectKey: 'e2e/outage' } });
    await rec.waitFor('RECORDING', 60_000);
    await new Promise((r) => setTimeout(r, 3000));
    await minio.stop();
    try {
      await rec.call('/stop');
      await rec.waitFor('UPLOADING', 30_000);
      await new Promise((r) => setTimeout(r, 4000));
      assert.equal((await rec.status()).phase, 'UPLOADING', 'still trying while storage is down');
      const local = readdirSync(rec.workDir).filter((f) => f.startsWith('outage'));
      assert.ok(local.length > 0, 'the finished file is kept on disk while it is not uploaded');
    } finally {
      await minio.start();
    }
    const { report } = await rec.finished(90_000);
    assert.equal(report.result, 'UPLOADED', JSON.stringify(report));
    assert.equal((await download(report.file!.key)).sha256, report.file!.sha256);
  });

  test('SIGKILL mid-recording: the part on disk is playable up to the last seconds', async () => {
    const rec = await startRecorder(minio, bucket, { url: callUrl('participants=2'), output: { container: 'mp4', video: { codec: 'H264', width: 640, height: 360, fps: 30 }, audio: { codec: 'AAC', channels: 2 } }, storage: { objectKey: 'e2e/killed' } });
    await rec.waitFor('RECORDING', 60_000);
    await new Promise((r) => setTimeout(r, 6000));
    const before = await rec.status();
    rec.child.kill('SIGKILL');
    await new Promise((r) => rec.child.once('exit', r));
    await new Promise((r) => setTimeout(r, 500)); // the kernel kills ffmpeg with its parent
    const part = join(rec.workDir, 'part-000.mp4');
    const info = await probe(part);
    assert.equal(info.video?.codec, 'h264');
    assert.equal(info.audio?.codec, 'aac');
    assert.ok(info.durationSeconds >= before.durationSeconds - 2, `kept ${info.durationSeconds} s of ${before.durationSeconds} s`);
    // Only the fragment being written at the kill is lost: everything before it decodes.
    const { stdout } = await run('ffprobe', ['-v', 'quiet', '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', part]);
    const frames = Number(stdout.trim());
    assert.ok(frames >= (before.durationSeconds - 2) * 30, `decoded ${frames} frames of ${before.durationSeconds} s`);

    // Restarted in the same work directory (Kubernetes restarts the container, the emptyDir stays): it
    // records nothing new (the page URL leads nowhere) and uploads what the killed run captured.
    const restarted = await startRecorder(minio, bucket, { url: 'http://127.0.0.1:1/unreachable', workDir: rec.workDir, output: { container: 'mp4', video: { codec: 'H264', width: 640, height: 360, fps: 30 }, audio: { codec: 'AAC', channels: 2 } }, storage: { objectKey: 'e2e/killed' } });
    const { code, report } = await restarted.finished(60_000);
    assert.equal(code, 0);
    assert.equal(report.result, 'UPLOADED', JSON.stringify(report));
    assert.equal(report.salvaged, true);
    assert.equal(report.stopReason, 'RECORDER_LOST');
    assert.equal(report.file?.key, 'e2e/killed.mp4');
    assert.ok(Math.abs(Date.parse(report.startedTime!) - (Date.now() - 60_000)) < 60_000, 'the start time of the killed run');
    const uploaded = await probe((await download(report.file.key)).path);
    assert.ok(Math.abs(uploaded.durationSeconds - info.durationSeconds) < 0.5, `uploaded ${uploaded.durationSeconds} s of the ${info.durationSeconds} s on disk`);
    assert.equal(uploaded.audio?.codec, 'aac');
  });

  /** Each storage backend with a real server: the config and credentials a recorder gets, and a reader of what is stored. */
  const backends: { name: string; start(): Promise<{ storage(objectKey: string): NonNullable<Parameters<typeof startRecorder>[2]['storage']>; credentials: StoreCredentials; read(key: string): Promise<Buffer>; destroy(): Promise<void> }> }[] = [
    {
      name: 'Azure Blob (Azurite)',
      async start() {
        const azurite = await startAzurite();
        const container = new ContainerClient(`${azurite.blobEndpoint}/recordings`, new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey));
        await container.create();
        // What the operator gives a recorder: a container SAS, never the account key.
        const sasToken = new AzureStore({ type: 'azure', endpoint: azurite.blobEndpoint, bucket: 'recordings' }, { type: 'azure', accountName: azurite.accountName, accountKey: azurite.accountKey }).containerSas(3600);
        return {
          storage: (objectKey) => ({ type: 'azure', endpoint: azurite.blobEndpoint, bucket: 'recordings', objectKey }),
          credentials: { type: 'azure', sasToken },
          read: (key) => container.getBlockBlobClient(key).downloadToBuffer(),
          destroy: () => azurite.destroy(),
        };
      },
    },
    {
      name: 'Google Cloud Storage (fake-gcs-server)',
      async start() {
        const gcs = await startFakeGcs();
        await gcs.createBucket('recordings');
        return {
          storage: (objectKey) => ({ type: 'gcs', endpoint: gcs.endpoint, bucket: 'recordings', objectKey }),
          credentials: parseServiceAccountKey(gcs.serviceAccountKey),
          read: async (key) => Buffer.from(await (await fetch(`${gcs.endpoint}/storage/v1/b/recordings/o/${encodeURIComponent(key)}?alt=media`)).arrayBuffer()),
          destroy: () => gcs.destroy(),
        };
      },
    },
    {
      name: 'SFTP (OpenSSH sshd)',
      async start() {
        const sftp = await startSftpServer();
        return {
          storage: (objectKey) => ({ type: 'sftp', endpoint: sftp.endpoint, objectKey }),
          credentials: { type: 'sftp', username: sftp.username, knownHosts: sftp.knownHosts, privateKey: sftp.privateKey },
          read: (key) => Promise.resolve(readFileSync(join(sftp.filesDir, key))),
          destroy: () => sftp.destroy(),
        };
      },
    },
  ];

  for (const backend of backends) {
    test(`to ${backend.name}: a recording, then a SIGKILL and the salvage of what was captured, both uploaded and verified`, async () => {
      const server = await backend.start();
      try {
        const small = { container: 'mp4', video: { codec: 'H264', width: 640, height: 360, fps: 30 }, audio: { codec: 'AAC', channels: 2 } } as const;
        const fetchStored = async (key: string) => {
          const path = join(downloads, `${backend.name.split(' ')[0]}_${key.replace(/\//g, '_')}`);
          const data = await server.read(key);
          writeFileSync(path, data);
          return { path, sha256: createHash('sha256').update(data).digest('hex') };
        };

        const rec = await startRecorder(minio, bucket, { url: callUrl('participants=2'), maxDurationSeconds: 3, output: small, storage: server.storage('rec/plain') }, { storage: server.credentials });
        const { report } = await rec.finished(90_000);
        assert.equal(report.result, 'UPLOADED', JSON.stringify(report));
        assert.equal(report.storageType, server.credentials.type);
        const plain = await fetchStored(report.file!.key);
        assert.equal(plain.sha256, report.file!.sha256);
        assert.ok((await probe(plain.path)).durationSeconds > 2.5);

        const killed = await startRecorder(minio, bucket, { url: callUrl('participants=2'), output: small, storage: server.storage('rec/killed') }, { storage: server.credentials });
        await killed.waitFor('RECORDING', 60_000);
        await new Promise((r) => setTimeout(r, 4000));
        killed.child.kill('SIGKILL');
        await new Promise((r) => killed.child.once('exit', r));
        await new Promise((r) => setTimeout(r, 500));
        const salvage = await startRecorder(minio, bucket, { url: 'http://127.0.0.1:1/unreachable', workDir: killed.workDir, output: small, storage: server.storage('rec/killed') }, { storage: server.credentials });
        const salvaged = await salvage.finished(60_000);
        assert.equal(salvaged.report.result, 'UPLOADED', JSON.stringify(salvaged.report));
        assert.equal(salvaged.report.salvaged, true);
        const stored = await fetchStored('rec/killed.mp4');
        assert.equal(stored.sha256, salvaged.report.file!.sha256);
        assert.ok((await probe(stored.path)).durationSeconds >= 2, 'the captured seconds were uploaded');
      } finally {
        await server.destroy();
      }
    });
  }

  test('stopped the moment it records: the file still has its audio track', async () => {
    const rec = await startRecorder(minio, bucket, { url: callUrl('participants=2'), output: { container: 'mp4', video: { codec: 'H264', width: 640, height: 360, fps: 30 }, audio: { codec: 'AAC', channels: 2 } }, storage: { objectKey: 'e2e/instant' } });
    await rec.waitFor('RECORDING', 60_000);
    await rec.call('/stop');
    const { report } = await rec.finished();
    assert.equal(report.result, 'UPLOADED', JSON.stringify(report));
    const info = await probe((await download(report.file!.key)).path);
    assert.equal(info.audio?.codec, 'aac');
    assert.equal(info.video?.codec, 'h264');
  });

  test('a work directory deeper than a Unix socket path may be still records', async () => {
    const deep = join(mkdtempSync(join(tmpdir(), 'deep-')), 'a'.repeat(60), 'b'.repeat(60));
    const rec = await startRecorder(minio, bucket, { url: callUrl('participants=1'), maxDurationSeconds: 2, workDir: deep, output: { container: 'mp3', audio: { codec: 'MP3', channels: 1 } }, storage: { objectKey: 'e2e/deep' } });
    const { report } = await rec.finished(60_000);
    assert.equal(report.result, 'UPLOADED', JSON.stringify(report));
  });

  test('start signal not received: fails with START_SIGNAL_TIMEOUT and says so', async () => {
    const rec = await startRecorder(minio, bucket, { url: callUrl('noReady=1'), startSignal: { wait: true, timeoutSeconds: 3 }, storage: { objectKey: 'e2e/never-ready' } });
    const { code, report } = await rec.finished();
    assert.equal(code, 0, 'it reported, so it must not be restarted');
    assert.equal(report.result, 'FAILED');
    assert.equal(report.stopReason, 'START_SIGNAL_TIMEOUT');
    assert.equal(report.error?.code, 'START_SIGNAL_TIMEOUT');
    assert.match(report.error.message, /start signal not received/);
  });

  test('everyone leaves: stopped after the grace time with ALL_PEERS_LEFT, and still uploaded', async () => {
    const rec = await startRecorder(minio, bucket, { url: callUrl('participants=3&leaveAfter=2'), autoStop: { allParticipantsLeftSeconds: 2 }, output: { container: 'mp4', video: { codec: 'H264', width: 640, height: 360, fps: 30 }, audio: { codec: 'AAC', channels: 2 } }, storage: { objectKey: 'e2e/left' } });
    const { report } = await rec.finished(60_000);
    assert.equal(report.result, 'UPLOADED', JSON.stringify(report));
    assert.equal(report.stopReason, 'ALL_PEERS_LEFT');
    // Everyone leaves 2 s after the page loaded; the stop comes 2 s (the grace time) later.
    assert.ok(report.durationSeconds! >= 2 && report.durationSeconds! <= 5.5, `duration ${report.durationSeconds}`);
  });

  test('no media: stopped with NO_MEDIA once neither sound nor picture has changed for the set time, and not while one still does', async () => {
    // The voices stop 1 s after the page loads, the picture 4 s after. Sound alone would stop it at about
    // 3 s; the rule waits for both, so the stop comes 2 s after the picture froze.
    const rec = await startRecorder(minio, bucket, { url: callUrl('participants=2&muteAfter=1&freezeAfter=4'), autoStop: { noMediaSeconds: 2 }, output: { container: 'mp4', video: { codec: 'H264', width: 640, height: 360, fps: 30 }, audio: { codec: 'AAC', channels: 2 } }, storage: { objectKey: 'e2e/no-media' } });
    const { report } = await rec.finished(60_000);
    assert.equal(report.result, 'UPLOADED', JSON.stringify(report));
    assert.equal(report.stopReason, 'NO_MEDIA');
    assert.ok(report.durationSeconds! >= 4.5 && report.durationSeconds! <= 8, `duration ${report.durationSeconds}`);
  });

  test('no media in an audio-only recording: silence alone stops it', async () => {
    const rec = await startRecorder(minio, bucket, { url: callUrl('participants=2&muteAfter=2'), autoStop: { noMediaSeconds: 2 }, output: { container: 'mp3', audio: { codec: 'MP3', channels: 2 } }, storage: { objectKey: 'e2e/no-media-audio' } });
    const { report } = await rec.finished(60_000);
    assert.equal(report.result, 'UPLOADED', JSON.stringify(report));
    assert.equal(report.stopReason, 'NO_MEDIA');
    assert.ok(report.durationSeconds! >= 3 && report.durationSeconds! <= 6.5, `duration ${report.durationSeconds}`);
  });

  test("the page's end signal stops the recording with CALL_ENDED", async () => {
    const rec = await startRecorder(minio, bucket, { url: callUrl('participants=2&endAfter=2'), output: { container: 'mp3', audio: { codec: 'MP3', channels: 2 } }, storage: { objectKey: 'e2e/ended' } });
    const { report } = await rec.finished(60_000);
    assert.equal(report.result, 'UPLOADED', JSON.stringify(report));
    assert.equal(report.stopReason, 'CALL_ENDED');
  });

  test('a standby recorder: Ready with its browser up, refuses what it cannot take, then records what it is assigned', async () => {
    const output = { container: 'mp4' as const, video: { codec: 'H264' as const, width: 640, height: 360, fps: 30 }, audio: { codec: 'AAC' as const, channels: 2 as const } };
    const rec = await startRecorder(minio, bucket, { url: callUrl('participants=2'), output, storage: { objectKey: 'e2e/standby' } }, {}, { standby: true });
    const health = async () => (await fetch(`${rec.controlUrl}/healthz`).catch(() => undefined))?.status;
    for (let i = 0; (await health()) !== 200; i++) {
      assert.ok(i < 300 && rec.child.exitCode === null, 'the standby recorder became ready within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const ps = async () => (await run('ps', ['-o', 'args=', '--ppid', String(rec.child.pid)])).stdout;
    assert.match(await ps(), /Xvfb/);
    assert.match(await ps(), /chromium/);
    // Nothing to read or control before the assignment; an assignment sealed with another key, or for
    // another screen size, is refused and changes nothing.
    assert.equal((await fetch(`${rec.controlUrl}/status`, { headers: { authorization: `Bearer ${rec.token}` } })).status, 503);
    const forged = await fetch(`${rec.controlUrl}/assign`, { method: 'POST', body: 'A'.repeat(200) });
    assert.equal(forged.status, 401);
    const wrongSize = await rec.assign!({ ...rec.assignedConfig!, output: { ...output, video: { ...output.video, width: 1280, height: 720 } } });
    assert.equal(wrongSize.status, 400);
    assert.match(((await wrongSize.json()) as { error: string }).error, /output\.video: this standby recorder was prepared for 640x360 at 30 fps, not 1280x720 at 30 fps/);
    const badUrl = await rec.assign!({ ...rec.assignedConfig!, url: 'ftp://x' });
    assert.equal(badUrl.status, 400);
    assert.match(((await badUrl.json()) as { error: string }).error, /RECORDER_CONFIG\.url/);
    assert.equal(await health(), 200, 'still standing by');

    const assignedAt = Date.now();
    const taken = await rec.assign!();
    assert.equal(taken.status, 202, await taken.clone().text());
    assert.equal((await rec.assign!()).status, 409, 'a second assignment is refused');
    const recording = await rec.waitFor('RECORDING', 30_000);
    const startMs = Date.now() - assignedAt;
    // The stages count from the assignment: no display or browser start left in them.
    assert.ok(recording.startup!.browserReadyMs! < 200, JSON.stringify(recording.startup));
    console.log(`standby recorder: assigned → RECORDING in ${startMs} ms (${JSON.stringify(recording.startup)})`);
    await new Promise((r) => setTimeout(r, 4000));
    await rec.call('/stop');
    const { code, report } = await rec.finished(60_000);
    assert.equal(code, 0);
    assert.equal(report.result, 'UPLOADED', JSON.stringify(report));
    const { path, sha256 } = await download(report.file!.key);
    assert.equal(sha256, report.file!.sha256);
    const info = await probe(path);
    assert.equal(info.video?.width, 640);
    assert.ok(info.durationSeconds >= 3.5, `recorded ${info.durationSeconds} s`);
    assert.deepEqual(await blackStretches(path), [], 'the page, not a blank screen, was recorded');
  });

  test('the control endpoint refuses a wrong token and serves metrics without one', async () => {
    const rec = await startRecorder(minio, bucket, { url: callUrl('participants=1'), output: { container: 'mp3', audio: { codec: 'MP3', channels: 1 } }, storage: { objectKey: 'e2e/auth' } });
    await rec.waitFor('RECORDING', 60_000);
    assert.equal((await fetch(`${rec.controlUrl}/status`)).status, 401);
    assert.equal((await fetch(`${rec.controlUrl}/stop`, { method: 'POST', headers: { authorization: 'Bearer wrong' } })).status, 401);
    assert.equal((await rec.status()).phase, 'RECORDING', 'a refused stop changes nothing');
    const metrics = await (await fetch(`${rec.controlUrl}/metrics`)).text();
    assert.match(metrics, /recorder_recorded_seconds \d/);
    assert.match(metrics, /recorder_phase\{phase="RECORDING"\} 1/);
    await rec.call('/stop');
    assert.equal((await rec.finished()).report.result, 'UPLOADED');
  });
});

test('a bad configuration exits non-zero naming the setting, and leaves nothing running', async () => {
  // The screen, sound card and browser start before the checks when the picture is plainly given
  // (early-start.ts); a check that fails then must still leave no process behind.
  const dir = mkdtempSync(join(tmpdir(), 'bad-config-'));
  const video = { codec: 'H264', width: 1280, height: 720, fps: 30 };
  const cases: [unknown, RegExp, boolean][] = [
    [{ url: 'ftp://x' }, /RECORDER_CONFIG\.url/, false],
    [undefined, /RECORDER_CONFIG \(JSON\) or RECORDER_CONFIG_FILE must be set/, false],
    [{ url: 'ftp://x', workDir: join(dir, 'work'), output: { container: 'mp4', video, audio: { codec: 'AAC', channels: 2 } } }, /RECORDER_CONFIG\.url/, true],
  ];
  for (const [config, message, startsEarly] of cases) {
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: dir, LOG_LEVEL: 'debug' };
    delete env.RECORDER_CONFIG;
    if (config !== undefined) env.RECORDER_CONFIG = JSON.stringify(config);
    const result = await run(process.execPath, [join(import.meta.dirname, '..', '..', 'recorder-image', 'src', 'main.ts')], { env }).then(
      () => ({ code: 0, stderr: '', stdout: '' }),
      (err: { code: number; stderr: string; stdout: string }) => err,
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, message);
    assert.equal(/Xvfb ready/.test(result.stdout), startsEarly, startsEarly ? 'the screen was started before the checks' : 'nothing was started');
  }
  // Chromium's profile is under the work directory and PulseAudio's socket under TMPDIR: no process names either.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const left = readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
    } catch {
      return false; // it ended while the list was read
    }
  });
  assert.deepEqual(left, [], 'processes left running');
  assert.deepEqual(readdirSync(join(dir, 'work')), [], 'nothing left in the work directory');
});
