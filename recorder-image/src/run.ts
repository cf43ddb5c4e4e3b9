// The recorder's life after main.ts has started its screen and browser: validates its configuration
// (before anything reaches the outside; what main.ts started is closed when it fails), serves the
// control endpoint, records, and writes the final report to the termination-message path (the durable
// record the operator reads) before exiting: 0 whenever a report was written (its result says whether
// the recording was uploaded), non-zero only when it could not report. So Kubernetes restarts the
// container (restartPolicy OnFailure) exactly when it crashed, and the restarted recorder uploads what
// the crashed one captured (Recorder.salvage). With RECORDER_STANDBY instead of RECORDER_CONFIG it is a
// standby recorder (standby.ts) until the operator assigns it a recording.
import { writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { serializeFinalReport, type FinalReport } from '@recording-operator/common/protocol/recorder-report.ts';
import type { RecorderConfig } from '@recording-operator/common/protocol/recorder-config.ts';
import { ConfigError, loadConfig } from './config.ts';
import { startControlServer, type ControlServer } from './control-server.ts';
import type { BrowserStart } from './browser-start.ts';
import { Recorder } from './recorder.ts';
import { loadStandbyConfig, StandbyRecorder } from './standby.ts';

async function configurationError(err: unknown, started: BrowserStart | undefined): Promise<never> {
  await started?.close();
  if (!(err instanceof ConfigError)) throw err;
  console.error(`recorder: configuration error: ${err.message}`);
  process.exit(2);
}

/** A recorder with its recording: from RECORDER_CONFIG, or assigned to a standby recorder (RECORDER_STANDBY). */
async function recorderAndEndpoint(log: Logger, started: BrowserStart | undefined): Promise<{ recorder: Recorder; config: RecorderConfig; server: ControlServer }> {
  if (process.env.RECORDER_STANDBY !== undefined) {
    let standby: StandbyRecorder;
    let server: ControlServer;
    try {
      const standbyConfig = loadStandbyConfig();
      standby = new StandbyRecorder(standbyConfig, log);
      server = await startControlServer(standby.target, standbyConfig.control.host, standbyConfig.control.port);
      standby.start();
      log.info({ port: server.port }, 'control endpoint listening; waiting for a recording');
    } catch (err) {
      return configurationError(err, started);
    }
    // Deleted while standing by (the pool shrank): nothing was recorded, nothing to report.
    const leave = () => void standby.close().then(() => process.exit(0));
    process.once('SIGTERM', leave);
    process.once('SIGINT', leave);
    const recorder = await standby.assigned;
    process.off('SIGTERM', leave);
    process.off('SIGINT', leave);
    return { recorder, config: recorder.config, server };
  }
  let loaded;
  try {
    loaded = loadConfig();
  } catch (err) {
    return configurationError(err, started);
  }
  const { config, secrets } = loaded;
  const recorder = new Recorder(config, secrets, log.child({ recording: config.recordingId }), started && { started });
  const server = await startControlServer({ recorder, token: secrets.controlToken }, config.control.host, config.control.port);
  log.info({ recording: config.recordingId, port: (server.address() as { port: number }).port }, 'control endpoint listening');
  return { recorder, config, server };
}

/** Records (or stands by, then records) and exits with the final report written. */
export async function run(log: Logger, started: BrowserStart | undefined): Promise<never> {
  const { recorder, config, server } = await recorderAndEndpoint(log, started);
  const recordingLog = log.child({ recording: config.recordingId });

  // SIGTERM (Pod deletion, node drain): stop capturing and still upload, within the grace period.
  process.once('SIGTERM', () => recorder.stop('API_CALL'));
  process.once('SIGINT', () => recorder.stop('API_CALL'));

  const report = await recorder.run().catch(
    (err: Error): FinalReport => ({ result: 'FAILED', error: { code: 'INTERNAL_ERROR', message: err.message }, stopReason: 'INTERNAL_ERROR' }),
  );
  try {
    writeFileSync(config.terminationMessagePath, serializeFinalReport(report));
  } catch (err) {
    recordingLog.error({ err: (err as Error).message, path: config.terminationMessagePath }, 'cannot write the termination message');
  }
  recordingLog.info({ result: report.result, stopReason: report.stopReason, key: report.file?.key, error: report.error }, 'recorder finished');
  await server.answerWaiting(1000);
  server.close();
  process.exit(0);
}
