// A recorder stand-in for operator tests that run many recordings at once: it speaks the real protocol
// (the real config loader validates what the operator produced, the real control server serves it,
// a real upload to MinIO and a real termination message end it) but captures no media, so it costs
// almost no CPU. Run by the Pod runner in place of recorder-image/src/main.ts.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { serializeFinalReport, type FinalReport, type RecorderStatus, type StopReason } from '@recording-operator/common/protocol/recorder-report.ts';
import { loadConfig } from '../../recorder-image/src/config.ts';
import { startControlServer } from '../../recorder-image/src/control-server.ts';
import { sha256File } from '../../recorder-image/src/finalize.ts';
import { openObjectStore } from '@recording-operator/common/storage/open-store.ts';
import { uploadConfirmed } from '../../recorder-image/src/upload.ts';

const { config, secrets } = loadConfig();
const log = pino({ level: 'warn' });
let phase: RecorderStatus['phase'] = 'STARTING';
let recorded = 0;
let since = 0;
const outcome: { stopReason?: StopReason; report?: FinalReport } = {};
const startedTime = new Date().toISOString();
let finish: (reason: StopReason) => void = () => undefined;
const stopped = new Promise<StopReason>((resolve) => (finish = resolve));

const duration = () => recorded + (phase === 'RECORDING' ? (Date.now() - since) / 1000 : 0);
let maxDurationSeconds = config.maxDurationSeconds;
const status = (): RecorderStatus => ({ phase, startedTime, durationSeconds: Math.round(duration() * 10) / 10, bytes: Math.round(duration() * 1000), framesCaptured: Math.round(duration() * 30), framesDropped: 0, maxDurationSeconds, stopReason: outcome.stopReason, report: outcome.report });
const recorder = {
  status,
  setMaxDuration: (seconds: number) => {
    maxDurationSeconds = seconds;
    return Promise.resolve(status());
  },
  pause: () => {
    if (phase === 'RECORDING') {
      recorded = duration();
      phase = 'PAUSED';
    }
    return Promise.resolve(status());
  },
  resume: () => {
    if (phase === 'PAUSED') {
      since = Date.now();
      phase = 'RECORDING';
    }
    return Promise.resolve(status());
  },
  stop: (reason: 'API_CALL') => finish(reason),
};
const server = await startControlServer({ recorder, token: secrets.controlToken }, config.control.host, config.control.port);
process.once('SIGTERM', () => finish('API_CALL'));
setTimeout(() => {
  if (phase === 'STARTING') {
    since = Date.now();
    phase = 'RECORDING';
  }
}, 200);
setInterval(() => {
  if (duration() >= maxDurationSeconds) finish('MAX_DURATION_REACHED');
}, 100).unref();

const stopReason = await stopped;
outcome.stopReason = stopReason;
recorded = duration();
phase = 'UPLOADING';
const file = join(config.workDir, 'stand-in.bin');
writeFileSync(file, randomBytes(4096));
const key = `${config.storage.objectKey}.bin`;
const sha256 = await sha256File(file);
// As the recorder: an upload that fails for its whole retry window ends in a FAILED report (the file is
// kept), not in a crash.
const store = await openObjectStore(config.storage, secrets.storage);
const sizeBytes = await uploadConfirmed(store, { path: file, key, contentType: 'application/octet-stream', sha256 }, config.storage.retryWindowSeconds * 1000, log).catch((err: Error) => {
  const failed: FinalReport = { result: 'FAILED', error: { code: 'UPLOAD_FAILED', message: `${err.message}; the file is kept at ${file}` }, stopReason };
  outcome.report = failed;
  phase = 'FAILED';
  writeFileSync(config.terminationMessagePath, serializeFinalReport(failed));
  server.close();
  process.exit(0);
});
const report: FinalReport = { result: 'UPLOADED', storageType: config.storage.type, bucket: store.bucket, file: { fileName: key.split('/').pop()!, key, sizeBytes, sha256, contentType: 'application/octet-stream' }, durationSeconds: recorded, startedTime, stoppedTime: new Date().toISOString(), stopReason };
outcome.report = report;
phase = 'UPLOADED';
writeFileSync(config.terminationMessagePath, serializeFinalReport(report));
server.close();
process.exit(0);
