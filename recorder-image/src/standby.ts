// A standby recorder (CallType spec.recorder.standby; the protocol is in common/protocol/standby.ts):
// started with RECORDER_STANDBY instead of RECORDER_CONFIG, it brings up the screen, the sound card and
// Chromium on a blank page, reports Ready, and waits for the operator to POST /assign a recording. Then
// it is an ordinary recorder that skipped the slow part of its start: only the page load and the first
// frame are left (recorder benchmark: 1.3 of the 1.6 s from process start to first frame are before the
// page). The sealed assignment is kept in the work directory, so a container restarted after a crash
// knows its recording and uploads what was captured, as any recorder does.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { openAssignment, SealError, standbyConfigSchema, standbyKeyFile, type StandbyConfig } from '@recording-operator/common/protocol/standby.ts';
import { assignedConfig, ConfigError, listenOnPodIp, type LoadedConfig } from './config.ts';
import type { ControlTarget } from './control-server.ts';
import { startBrowser, type BrowserStart } from './browser-start.ts';
import { Recorder } from './recorder.ts';

/** The assignment as it came, sealed, in the work directory (an emptyDir that outlives the container). */
const assignmentFile = 'standby-assignment.sealed';

export function loadStandbyConfig(env: NodeJS.ProcessEnv = process.env): StandbyConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(env.RECORDER_STANDBY ?? '');
  } catch (err) {
    throw new ConfigError(`RECORDER_STANDBY is not valid JSON: ${(err as Error).message}`);
  }
  listenOnPodIp(raw, env);
  const parsed = standbyConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `RECORDER_STANDBY.${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  return parsed.data;
}

function readKey(standby: StandbyConfig): string {
  const path = join(standby.secretsDir, standbyKeyFile);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`secret file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

function describe(video: StandbyConfig['video']): string {
  return video ? `${video.width}x${video.height} at ${video.fps} fps` : 'sound only';
}

export class StandbyRecorder {
  /** Resolves with the recorder once a recording is assigned (at once when a restarted container finds its assignment). */
  readonly assigned: Promise<Recorder>;
  private assign!: (recorder: Recorder) => void;
  private started?: BrowserStart;
  private prepared = false;
  private taken = false;
  /** What the control endpoint serves: nothing but readiness and /assign until assigned. */
  readonly target: ControlTarget;
  private readonly standby: StandbyConfig;
  private readonly key: string;
  private readonly log: Logger;

  constructor(standby: StandbyConfig, log: Logger) {
    this.standby = standby;
    this.log = log;
    this.key = readKey(standby);
    this.assigned = new Promise((resolve) => (this.assign = resolve));
    this.target = { ready: () => this.prepared || this.taken, assign: (sealed) => this.take(sealed) };
  }

  /** Picks up a kept assignment (a restart after a crash), or prepares the screen and browser. */
  start(): void {
    const kept = join(this.standby.workDir, assignmentFile);
    if (existsSync(kept)) {
      const loaded = this.open(readFileSync(kept, 'utf8'));
      this.log.warn({ recording: loaded.config.recordingId }, 'restarted after a crash: back to the assigned recording');
      this.taken = true;
      this.becomes(loaded);
      return;
    }
    const started = startBrowser({ video: this.standby.video, workDir: this.standby.workDir, log: this.log });
    this.started = started;
    Promise.all([started.environment, started.browser]).then(
      () => {
        this.prepared = true;
        this.log.info({ output: describe(this.standby.video) }, 'standing by: screen, sound and browser are up');
      },
      (err: Error) => {
        this.log.error({ err: err.message }, 'could not prepare the screen and browser');
        process.exit(1); // the kubelet restarts the container
      },
    );
  }

  /** Opens and checks a sealed assignment: ConfigError or SealError when it cannot be taken. */
  private open(sealed: string): LoadedConfig {
    const assignment = openAssignment(this.key, sealed);
    // Where files go inside the Pod, and where the endpoint listens, are this Pod's own, not the assignment's.
    const { workDir, terminationMessagePath, secretsDir, control } = this.standby;
    const loaded = assignedConfig({ ...assignment.config, workDir, terminationMessagePath, secretsDir, control }, assignment.secretFiles);
    const video = loaded.config.output.video;
    const wanted = video && { width: video.width, height: video.height, fps: video.fps };
    const have = this.standby.video;
    if (Boolean(wanted) !== Boolean(have) || (wanted && have && (wanted.width !== have.width || wanted.height !== have.height || wanted.fps !== have.fps))) {
      throw new ConfigError(`RECORDER_CONFIG.output.video: this standby recorder was prepared for ${describe(have)}, not ${describe(wanted)}`);
    }
    return loaded;
  }

  private take(sealed: string): { status: number; body: unknown } {
    if (this.taken) return { status: 409, body: { error: 'this standby recorder has been assigned a recording already' } };
    let loaded: LoadedConfig;
    try {
      loaded = this.open(sealed);
    } catch (err) {
      if (err instanceof SealError) return { status: 401, body: { error: err.message } };
      if (err instanceof ConfigError || err instanceof SyntaxError) return { status: 400, body: { error: err.message } };
      throw err;
    }
    this.taken = true;
    const assignedAtMs = performance.now();
    writeFileSync(join(this.standby.workDir, assignmentFile), sealed, { mode: 0o600 });
    const recorder = this.becomes(loaded, { started: this.started!, assignedAtMs });
    this.log.info({ recording: loaded.config.recordingId }, 'assigned a recording');
    return { status: 202, body: recorder.status() };
  }

  private becomes(loaded: LoadedConfig, prestarted?: { started: BrowserStart; assignedAtMs: number }): Recorder {
    const recorder = new Recorder(loaded.config, loaded.secrets, this.log.child({ recording: loaded.config.recordingId }), prestarted);
    this.target.recorder = recorder;
    this.target.token = loaded.secrets.controlToken;
    this.assign(recorder);
    return recorder;
  }

  /** Ends a standby recorder that was never assigned (its Pod is deleted): nothing to report. */
  async close(): Promise<void> {
    if (this.taken) return;
    await this.started?.close();
  }
}
