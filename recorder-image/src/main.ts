// Entry point of the recorder image. Validates its configuration before launching anything, serves
// the control endpoint, records, and writes the final report to the termination-message path (the
// durable record the operator reads) before exiting: 0 whenever a report was written (its result says
// whether the recording was uploaded), non-zero only when it could not report. So Kubernetes restarts
// the container (restartPolicy OnFailure) exactly when it crashed, and the restarted recorder uploads what
// the crashed one captured (Recorder.salvage).
import { writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { serializeFinalReport, type FinalReport } from '@recording-operator/common/protocol/recorder-report.ts';
import { ConfigError, loadConfig } from './config.ts';
import { startControlServer } from './control-server.ts';
import { Recorder } from './recorder.ts';

const log = pino({ name: 'recorder', level: process.env.LOG_LEVEL ?? 'info' });

let loaded;
try {
  loaded = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`recorder: configuration error: ${err.message}`);
  process.exit(2);
}
const { config, secrets } = loaded;
const recordingLog = log.child({ recording: config.recordingId });
const recorder = new Recorder(config, secrets, recordingLog);
const server = await startControlServer(recorder, secrets.controlToken, config.control.host, config.control.port);
recordingLog.info({ port: server.port }, 'control endpoint listening');

// SIGTERM (Pod deletion, node drain): stop capturing and still upload, within the grace period.
process.once('SIGTERM', () => recorder.stop('API_CALL'));
process.once('SIGINT', () => recorder.stop('API_CALL'));

function writeReport(report: FinalReport): void {
  try {
    writeFileSync(config.terminationMessagePath, serializeFinalReport(report));
  } catch (err) {
    recordingLog.error({ err: (err as Error).message, path: config.terminationMessagePath }, 'cannot write the termination message');
  }
}

const report = await recorder.run().catch(
  (err: Error): FinalReport => ({ result: 'FAILED', error: { code: 'INTERNAL_ERROR', message: err.message }, stopReason: 'INTERNAL_ERROR' }),
);
writeReport(report);
recordingLog.info({ result: report.result, stopReason: report.stopReason, key: report.file?.key, error: report.error }, 'recorder finished');
server.close();
process.exit(0);
