// One recording, start to finish: display and sound card, the page, capture parts (one per stretch
// between pauses), the stop rules (API, end signal, everyone left, no media, maximum duration), then the
// deliverables, checked and uploaded. Pause, resume and stop are serialised so they never interleave.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { RecorderConfig } from '@recording-operator/common/protocol/recorder-config.ts';
import type { FinalReport, RecorderPhase, RecorderStatus, StopReason, StoredFileReport } from '@recording-operator/common/protocol/recorder-report.ts';
import { openObjectStore } from '@recording-operator/common/storage/open-store.ts';
import { settledWithin } from '@recording-operator/common/settled-within.ts';
import { captureArgs, type CaptureSources } from './capture-args.ts';
import { CapturePart } from './capture.ts';
import { CaptureGate } from './capture-gate.ts';
import type { RecorderSecrets } from './config.ts';
import { startBrowser, type BrowserStart } from './browser-start.ts';
import type { AvEnvironment } from './display.ts';
import { exportAudio, joinParts, makeThumbnail, readFinished, sha256File, thumbnailSeconds, verifyOutput, type CapturedPart, type JoinExtras } from './finalize.ts';
import { mediaProfile, type MediaProfile } from './media-profile.ts';
import { epochNowMs, gateDelayMs } from './grab-phase.ts';
import { leftoverParts, partPath } from './part-files.ts';
import type { CallPage } from './page.ts';
import { audioShiftSeconds, PictureDelayReader, probeSeconds } from './picture-delay.ts';
import { SoundLatenessReader } from './sound-lateness.ts';

// The upload code with its storage SDK (~150 ms to load) is loaded while recording, instead of before
// anything starts (the start benchmark counts from process start to the first frame) or after stop (the
// user waits for UPLOADED).
const loadUploadModule = () => import('./upload.ts');

/** How long a part waits for the page to show its picture-delay strip before capturing anyway (startPart). */
const probeShownWaitMs = 250;
/** How long after the first frame the storage client is made ready (see capture). */
const uploadPreparationDelayMs = 1000;
/** Written in the work directory when capture starts: a restarted recorder reads when it began. */
const startedMarker = 'recording-started';
/** Smaller than this, a capture part is only its container header. */
const minimumPartBytes = 1024;

/** A failure with a machine-readable code, reported in FinalReport.error. */
export class RecordingFailure extends Error {
  readonly code: string;
  readonly stopReason: StopReason;
  constructor(code: string, message: string, stopReason: StopReason = 'INTERNAL_ERROR') {
    super(message);
    this.code = code;
    this.stopReason = stopReason;
  }
}

/** A video part's A/V measurement: its picture delay and sound lateness, read from ffmpeg's log. */
interface PartProbe {
  part: CapturedPart;
  picture: PictureDelayReader;
  sound: SoundLatenessReader;
  settled: boolean;
  /** When its gate opened (ms since the epoch), to tell how long x11grab took to its first grab. */
  gateOpenedAtMs?: number;
}

/** A part's ffmpeg held at its gate, with what startPart needs to let it go. */
interface WaitingPart {
  part: CapturePart;
  gate: CaptureGate;
  captured: CapturedPart;
  probe?: PartProbe;
  /** The media seconds its arguments allow (-t). */
  limit: number;
  /** Its number in its file name: which part it is. */
  index: number;
}

/** The screen, sound card and browser, started before the recording was known (a standby recorder) or loaded (main.ts). */
export interface Prestarted {
  started: BrowserStart;
  /** performance.now() when a standby recorder was assigned its recording: its start-up stages count from there. */
  assignedAtMs?: number;
}

/** After a stop: the last part ended, Chromium stopped, the parts joined, the file checked, uploaded, everything delivered. */
export type StopStage = 'partEnded' | 'browserStopped' | 'joined' | 'checked' | 'uploaded' | 'delivered';

export class Recorder {
  phase: RecorderPhase = 'STARTING';
  /** Start-up stages reached, in ms since the process started (status.startup). */
  private readonly startup: NonNullable<RecorderStatus['startup']> = {};
  startedTime?: Date;
  stoppedTime?: Date;
  stopReason?: StopReason;
  report?: FinalReport;

  private readonly profile: MediaProfile;
  private readonly parts: CapturedPart[] = [];
  private current?: CapturePart;
  /** The part finishPart is ending: from then on the sound sink's listener stays in (sink-listener.ts). */
  private ending?: CapturePart;
  /** The first part's ffmpeg, started while the page loads and held at its gate until the recording starts. */
  private waiting?: WaitingPart;
  /** The running part's picture-delay probe, until its shift is settled. */
  private currentProbe?: PartProbe;
  private completedSeconds = 0;
  private completedFrames = 0;
  private completedDropped = 0;
  private completedBytes = 0;
  private env?: AvEnvironment;
  private runtimeDir?: string;
  /** The display, sound card and browser this recording runs on. */
  private started?: BrowserStart;
  private page?: CallPage;
  private sources?: CaptureSources;
  /** The upload code and the store's client, made ready while recording (loading a storage SDK takes 150 ms). */
  private uploading?: ReturnType<Recorder['prepareUpload']>;
  private queue: Promise<unknown> = Promise.resolve();
  private stopRequested?: (reason: StopReason) => void;
  private readonly stopSignal: Promise<StopReason>;
  private pendingStop?: StopReason;
  /** performance.now() when the stop was requested, and the stop's stages in ms since then (logged when delivered). */
  private stopRequestedAtMs?: number;
  private readonly stopSplit: Record<StopStage, number> = { partEnded: 0, browserStopped: 0, joined: 0, checked: 0, uploaded: 0, delivered: 0 };
  private zeroParticipantsSince?: number;
  /** The limit in force: the configured one, or a new one from the control endpoint. */
  private maxDurationSeconds: number;
  /** The -t limit the running part was started with. */
  private currentPartLimit = 0;
  private rollingOver = false;

  readonly config: RecorderConfig;
  private readonly secrets: RecorderSecrets;
  private readonly log: Logger;

  /** The display, sound card and browser, when they were started before this recorder (Prestarted). */
  private readonly prestarted?: Prestarted;

  constructor(config: RecorderConfig, secrets: RecorderSecrets, log: Logger, prestarted?: Prestarted) {
    this.config = config;
    this.secrets = secrets;
    this.log = log;
    this.prestarted = prestarted;
    this.profile = mediaProfile(config.output);
    this.maxDurationSeconds = config.maxDurationSeconds;
    this.stopSignal = new Promise((resolve) => (this.stopRequested = resolve));
  }

  status(): RecorderStatus {
    const live = this.current?.progress;
    return {
      phase: this.phase,
      startedTime: this.startedTime?.toISOString(),
      stoppedTime: this.stoppedTime?.toISOString(),
      durationSeconds: Math.round((this.completedSeconds + (this.current?.liveSeconds() ?? 0)) * 10) / 10,
      bytes: this.completedBytes + (live?.bytes ?? 0),
      framesCaptured: this.completedFrames + (live?.frames ?? 0),
      framesDropped: this.completedDropped + (live ? live.droppedFrames + live.duplicatedFrames : 0),
      participants: this.page?.participants,
      maxDurationSeconds: this.maxDurationSeconds,
      stopReason: this.stopReason,
      report: this.report,
      startup: { ...this.startup },
    };
  }

  /**
   * Notes that start-up reached `stage` (at performance.now() `atMs`, by default now), in ms since the
   * process started (performance.now's origin) or the standby recorder was assigned; a stage reached
   * before the assignment counts as 0.
   */
  private reached(stage: keyof NonNullable<RecorderStatus['startup']>, atMs = performance.now()): void {
    this.startup[stage] ??= Math.max(0, Math.round(atMs - (this.prestarted?.assignedAtMs ?? 0)));
  }

  /** Notes a stage of the stop, in ms since it was requested. */
  private stopPassed(stage: StopStage): void {
    if (this.stopRequestedAtMs !== undefined) this.stopSplit[stage] = Math.round(performance.now() - this.stopRequestedAtMs);
  }

  /** Requests the end of the recording; the first reason wins. */
  stop(reason: StopReason): void {
    if (this.pendingStop) return;
    this.pendingStop = reason;
    this.stopRequestedAtMs = performance.now();
    this.log.info({ reason }, 'stop requested');
    this.stopRequested?.(reason);
  }

  pause(): Promise<RecorderStatus> {
    return this.serialised(async () => {
      if (this.phase !== 'RECORDING' || this.pendingStop) return this.status();
      await this.finishPart(true);
      this.phase = 'PAUSED';
      this.log.info({ durationSeconds: this.completedSeconds }, 'paused');
      return this.status();
    });
  }

  /**
   * A new maximum duration while recording (spec.maxDurationSeconds changed). Lowered below what is
   * recorded, it stops now; lowered above it, the watchdog stops at the new limit; raised, the running
   * part still ends at its own -t limit and a new part continues (as after a pause).
   */
  setMaxDuration(seconds: number): Promise<RecorderStatus> {
    return this.serialised(() => {
      if (this.pendingStop || !['STARTING', 'RECORDING', 'PAUSED'].includes(this.phase)) return Promise.resolve(this.status());
      this.log.info({ from: this.maxDurationSeconds, to: seconds }, 'maximum duration changed');
      this.maxDurationSeconds = seconds;
      // Raised past the running part's own limit: that part will end by itself and another follow, so the
      // sound sink's listener goes back in before it ends (sink-listener.ts).
      if (this.current?.running && !this.soundListenerMayStepAside(this.current)) void this.env?.sinkListener.stepIn();
      this.checkStopRules();
      return Promise.resolve(this.status());
    });
  }

  resume(): Promise<RecorderStatus> {
    return this.serialised(async () => {
      if (this.phase !== 'PAUSED' || this.pendingStop) return this.status();
      await this.startPart();
      this.phase = 'RECORDING';
      this.log.info('resumed');
      return this.status();
    });
  }

  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Records and delivers; or, when a previous run in this work directory left capture files behind (it
   * crashed before reporting), delivers those (salvage) and records nothing.
   */
  async run(): Promise<FinalReport> {
    const leftover = leftoverParts(this.config.workDir);
    if (leftover.length > 0) {
      await this.prestarted?.started.close();
      return this.salvage(leftover);
    }
    try {
      await this.capture();
      this.report = await this.deliver();
    } catch (err) {
      const failure = err instanceof RecordingFailure ? err : new RecordingFailure('INTERNAL_ERROR', (err as Error).message);
      this.stopReason ??= failure.stopReason;
      this.stoppedTime ??= new Date();
      this.phase = 'FAILED';
      this.log.error({ code: failure.code, err: failure.message }, 'recording failed');
      this.report = {
        result: 'FAILED',
        startedTime: this.startedTime?.toISOString(),
        stoppedTime: this.stoppedTime.toISOString(),
        stopReason: this.stopReason,
        durationSeconds: this.completedSeconds,
        error: { code: failure.code, message: failure.message },
      };
    } finally {
      await this.teardown();
    }
    return this.report;
  }

  /**
   * The container was restarted after a crash (restartPolicy OnFailure keeps the emptyDir): record
   * nothing new, deliver what the crashed run captured (fragmented MP4 and Matroska stay readable up to
   * their last complete fragment) and report it as salvaged, with stop reason RECORDER_LOST.
   */
  private async salvage(leftover: string[]): Promise<FinalReport> {
    this.log.warn({ parts: leftover.length }, 'a previous run ended without a report: uploading what it captured');
    // A part killed before its first fragment reached the disk holds a header and no media.
    const parts = leftover.filter((p) => statSync(p).size >= minimumPartBytes);
    if (parts.length === 0) {
      this.phase = 'FAILED';
      this.report = { result: 'FAILED', stopReason: 'RECORDER_LOST', error: { code: 'NOTHING_RECORDED', message: 'the recorder crashed before any media reached the disk (the first fragment is written after about 1 s of recording)' }, salvaged: true };
      return this.report;
    }
    this.parts.push(...parts.map((path) => ({ path, audioShiftSeconds: readShift(path) })));
    this.stopReason = 'RECORDER_LOST';
    const startedAt = join(this.config.workDir, startedMarker);
    this.startedTime = existsSync(startedAt) ? new Date(readFileSync(startedAt, 'utf8').trim()) : statSync(parts[0]!).birthtime;
    this.stoppedTime = statSync(parts.at(-1)!).mtime;
    try {
      return { ...(await this.deliver()), salvaged: true };
    } catch (err) {
      const failure = err instanceof RecordingFailure ? err : new RecordingFailure('INTERNAL_ERROR', (err as Error).message);
      this.phase = 'FAILED';
      this.log.error({ code: failure.code, err: failure.message }, 'salvage failed');
      this.report = { result: 'FAILED', startedTime: this.startedTime.toISOString(), stoppedTime: this.stoppedTime.toISOString(), stopReason: 'RECORDER_LOST', error: { code: 'SALVAGE_FAILED', message: `the recorder crashed and what it captured could not be delivered: ${failure.message}` }, salvaged: true };
      return this.report;
    }
  }

  private async capture(): Promise<void> {
    const { config } = this;
    const video = config.output.video;
    mkdirSync(config.workDir, { recursive: true });
    const started = this.prestarted?.started ?? startBrowser({ video, workDir: config.workDir, log: this.log });
    this.started = started; // closed at teardown, whatever stage it reached
    this.runtimeDir = started.runtimeDir;
    const timeoutMs = config.startSignal.timeoutSeconds * 1000;
    const pageOptions = { url: config.url, externalCssUrl: config.externalCssUrl, loadTimeoutMs: timeoutMs };
    const browser = started.browser.then(({ page, readyAt }) => {
      this.reached('browserReadyMs', readyAt);
      this.page = page;
      return page;
    });
    browser.catch(() => undefined); // awaited below, once the sound is up
    this.reached('displayReadyMs', await started.displayReady);
    this.env = await started.environment;
    const watermarkFile = video && config.watermark ? await this.download(config.watermark.url, 'watermark') : undefined;
    this.sources = { display: this.env.display, pulseServer: this.env.pulseServer, pulseSource: this.env.pulseSource, watermarkFile };
    // ffmpeg starts once Chromium is up, while the page loads: its own start (linking ~215 libraries)
    // beside Chromium's on 2 cores made Chromium's slower, and Chromium's is on the way to the first
    // frame (local recorder, 5 runs each: first frame 1,382 → 1,287 ms median; the page loads ~10 ms slower).
    await browser.catch(() => undefined); // a failed start is reported below, where the page is loaded
    try {
      this.waiting = this.spawnPart(this.maxDurationSeconds);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not start ffmpeg ahead of the recording: it starts when the recording does');
    }

    const startedWaiting = Date.now();
    const opening = browser.then(async (page) => {
      await page.load(pageOptions);
      return page;
    });
    const page = await Promise.race([opening, this.stopSignal.then(() => undefined)]).catch((err: Error) => {
      throw new RecordingFailure('START_SIGNAL_TIMEOUT', `start signal not received: the page did not load within ${config.startSignal.timeoutSeconds} s (${err.message.split('\n')[0]})`, 'START_SIGNAL_TIMEOUT');
    });
    if (!page) throw new RecordingFailure('NOTHING_RECORDED', 'stopped before the page was ready; nothing was recorded', this.pendingStop);
    this.reached('pageLoadedMs');
    if (config.startSignal.wait && !page.ready) {
      const remaining = Math.max(0, timeoutMs - (Date.now() - startedWaiting));
      const outcome = await Promise.race([
        new Promise<'ready'>((resolve) => page.once('ready', () => resolve('ready'))),
        new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), remaining).unref()),
        this.stopSignal.then(() => 'stopped' as const),
      ]);
      if (outcome === 'timeout') {
        throw new RecordingFailure('START_SIGNAL_TIMEOUT', `start signal not received: the page did not print START_RECORDING within ${config.startSignal.timeoutSeconds} s`, 'START_SIGNAL_TIMEOUT');
      }
      if (outcome === 'stopped') throw new RecordingFailure('NOTHING_RECORDED', 'stopped before the page signalled ready; nothing was recorded', this.pendingStop);
    }
    this.reached('startSignalMs');
    page.on('ended', () => this.stop('CALL_ENDED'));
    page.on('crashed', () => this.stop('INTERNAL_ERROR'));

    await this.serialised(async () => {
      await this.startPart();
      this.reached('firstFrameMs');
      this.phase = 'RECORDING';
    });
    this.startedTime = new Date();
    writeFileSync(join(config.workDir, startedMarker), this.startedTime.toISOString());
    // The storage client is made ready while recording (its SDK takes ~50 ms to load), but a moment after
    // the first frame: loaded at once, it held up the answer that tells the operator RECORDING.
    setTimeout(() => {
      this.uploading ??= this.prepareUpload();
      this.uploading.catch(() => undefined); // awaited when delivering
    }, uploadPreparationDelayMs).unref();
    this.log.info({ startup: this.startup }, 'recording');

    const watchdog = setInterval(() => this.checkStopRules(), 250);
    try {
      this.stopReason = await this.stopSignal;
    } finally {
      clearInterval(watchdog);
    }
    this.phase = 'STOPPING';
    await this.serialised(() => this.finishPart(false));
    this.stoppedTime = new Date();
    this.stopPassed('partEnded');
  }

  private checkStopRules(): void {
    const { config } = this;
    const part = this.current;
    if (this.rollingOver) return;
    if (part && !part.running && this.phase === 'RECORDING') {
      // ffmpeg ends a part by itself only at its -t limit, which was the maximum duration when it started.
      const recorded = this.completedSeconds + part.progress.seconds;
      if (part.exitCode === 0 && recorded >= this.maxDurationSeconds - 0.5) {
        this.stop('MAX_DURATION_REACHED');
      } else if (part.exitCode === 0 && part.progress.seconds >= this.currentPartLimit - 0.5) {
        // The limit was raised after this part started: continue in a new part.
        this.rollingOver = true;
        void this.serialised(async () => {
          await this.finishPart(true);
          await this.startPart();
        }).then(
          () => (this.rollingOver = false),
          (err: Error) => {
            this.log.error({ err: err.message }, 'could not continue after the maximum duration was raised');
            this.stop('INTERNAL_ERROR');
          },
        );
      } else {
        this.log.error({ ffmpeg: part.errors(), exitCode: part.exitCode, seconds: part.progress.seconds, limit: this.currentPartLimit }, 'capture ended unexpectedly');
        this.stop('INTERNAL_ERROR');
      }
      return;
    }
    // A limit lowered below the running part's -t: the watchdog stops it (to within its 250 ms period).
    // Otherwise ffmpeg's -t ends the part exactly and the watchdog stays out of it.
    const loweredBelowPart = this.maxDurationSeconds < this.completedSeconds + this.currentPartLimit - 0.5;
    if (this.phase === 'RECORDING' && part?.running && loweredBelowPart && this.completedSeconds + part.liveSeconds() >= this.maxDurationSeconds) this.stop('MAX_DURATION_REACHED');
    if (this.phase === 'PAUSED' && this.completedSeconds >= this.maxDurationSeconds) this.stop('MAX_DURATION_REACHED');
    // Neither sound nor picture has changed for noMediaSeconds: each detector speaks only after that long.
    if (config.autoStop.noMediaSeconds > 0 && this.phase === 'RECORDING' && part?.running && part.quiet && (part.still || !config.output.video)) this.stop('NO_MEDIA');
    const wait = config.autoStop.allParticipantsLeftSeconds;
    if (wait > 0 && this.page?.participants === 0) {
      this.zeroParticipantsSince ??= Date.now();
      if (Date.now() - this.zeroParticipantsSince >= wait * 1000) this.stop('ALL_PEERS_LEFT');
    } else {
      this.zeroParticipantsSince = undefined;
    }
  }

  /**
   * Starts the next part's ffmpeg, held at its gate (capture-gate.ts): its own start is done before the
   * part is due. `limit` is the media seconds the part may record, fixed in its arguments.
   */
  private spawnPart(limit: number): WaitingPart {
    const index = this.parts.length;
    const path = partPath(this.config.workDir, index, this.profile.partFormat === 'mp4' ? 'mp4' : this.profile.extension);
    const rtmp = this.config.rtmp && `${this.config.rtmp.url.replace(/\/$/, '')}${this.secrets.rtmpStreamKey ? `/${this.secrets.rtmpStreamKey}` : ''}`;
    const gate = CaptureGate.create(join(this.runtimeDir!, `capture-gate-${index}`));
    const captured: CapturedPart = { path, audioShiftSeconds: 0 };
    const video = this.config.output.video;
    const probe: PartProbe | undefined = video ? { part: captured, picture: new PictureDelayReader(), sound: new SoundLatenessReader(), settled: false } : undefined;
    const part = CapturePart.start(captureArgs(this.config, this.profile, { ...this.sources!, gateInput: gate.inputArgs() }, path, limit, rtmp), path, this.log, {
      env: this.env?.env,
      fps: video?.fps,
      onStderrLine: probe && ((line) => (probe.picture.line(line), probe.sound.line(line))),
    });
    return { part, gate, captured, probe, limit, index };
  }

  /** A part spawned ahead and not taken (the recording never started, or its limit changed meanwhile). */
  private dropWaitingPart(): void {
    this.waiting?.part.abandon();
    this.waiting?.gate.remove();
    this.waiting = undefined;
  }

  private async startPart(): Promise<void> {
    const limit = this.maxDurationSeconds - this.completedSeconds;
    if (this.waiting && (this.waiting.limit !== limit || this.waiting.index !== this.parts.length || !this.waiting.part.running)) this.dropWaitingPart();
    const { part, gate, captured, probe } = this.waiting ?? this.spawnPart(limit);
    this.waiting = undefined;
    this.currentPartLimit = limit;
    // The probe strip is up before ffmpeg grabs (its first grabs follow the gate within ~100 ms), but a
    // page whose main thread is busy answers late: the part does not wait for it beyond a moment.
    let frameTimeMs: number | undefined;
    if (probe && this.page) {
      const shown = this.page.startPictureProbe(limit + 1);
      shown.catch((err: Error) => this.log.warn({ err: err.message }, 'the picture-delay probe could not be shown'));
      frameTimeMs = await settledWithin(shown, probeShownWaitMs);
    }
    this.currentProbe = probe;
    this.parts.push(captured);
    this.current = part;
    try {
      // The grabs' phase against Chromium's frames (grab-phase.ts): known once the strip has painted.
      if (frameTimeMs !== undefined && this.config.output.video) await sleep(gateDelayMs(frameTimeMs, epochNowMs(), this.config.output.video.fps));
      if (probe) probe.gateOpenedAtMs = epochNowMs();
      await gate.open(part.exited);
      // RECORDING from the first captured frame: the probe strip's first line (logged as the frame is
      // grabbed), or ffmpeg's progress (sound only, or a picture whose strip is not logged).
      await Promise.race([part.flowing, probe?.picture.firstFrame ?? part.flowing]);
    } catch (err) {
      throw new RecordingFailure('CAPTURE_FAILED', (err as Error).message);
    }
    // ffmpeg listens to the sound sink once media flows: the sink's own listener can step aside.
    part.flowing.then(() => (this.soundListenerMayStepAside(part) ? this.env?.sinkListener.stepAside() : undefined), () => undefined);
    // Settled a first time early, so that a crash later on still finds a shift (salvage).
    if (probe) setTimeout(() => this.settleShift(probe, false), (probeSeconds + 0.5) * 1000).unref();
  }

  /**
   * The part's sound shift from its measured picture delay, kept beside the part for a salvage: a first
   * time early on, and `final`ly from the whole part's readings when it ends. A probe that could not be
   * read leaves the capture's fixed delay, the best guess without a measurement.
   */
  private settleShift(probe: PartProbe, final: boolean): void {
    if (probe.settled) return;
    probe.settled = final;
    const pictureDelayMs = probe.picture.delayMs();
    const soundLatenessMs = probe.sound.latenessMs();
    probe.part.audioShiftSeconds = audioShiftSeconds(pictureDelayMs, soundLatenessMs);
    const { readings, screenStartSeconds } = probe.picture.summary();
    const gateToFirstGrabMs = screenStartSeconds !== undefined && probe.gateOpenedAtMs !== undefined ? Math.round(screenStartSeconds * 1000 - probe.gateOpenedAtMs) : undefined;
    const grabPhaseMs = pictureDelayMs !== undefined && this.config.output.video ? Math.round((pictureDelayMs % (1000 / this.config.output.video.fps)) * 10) / 10 : undefined;
    const measured = { part: probe.part.path, pictureDelayMs, soundLatenessMs, audioShiftMs: Math.round(probe.part.audioShiftSeconds * 1000), readings, pictureDelaySpreadMs: probe.picture.spreadMs(), grabPhaseMs, gateToFirstGrabMs };
    if (!final) this.log.debug(measured, 'A/V sync measured so far');
    else if (pictureDelayMs === undefined || soundLatenessMs === undefined) this.log.warn({ ...measured, picture: probe.picture.summary() }, 'A/V sync not fully measured: what was not measured keeps the capture\'s fixed delay');
    else this.log.info(measured, 'A/V sync measured');
    try {
      writeFileSync(shiftFile(probe.part.path), JSON.stringify(measured));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not keep the sound shift beside its part');
    }
  }

  /**
   * Whether the sound sink's own listener may wait aside while `part`'s ffmpeg listens: the part is the
   * running one, it is not being ended, and it will not end by itself into another part (a maximum
   * duration raised past its -t). Otherwise another part will need the sink ready (sink-listener.ts).
   */
  private soundListenerMayStepAside(part: CapturePart): boolean {
    // Within the watchdog's half second: a limit raised by less ends the recording, not the part.
    return this.current === part && this.ending !== part && this.maxDurationSeconds < this.completedSeconds + this.currentPartLimit + 0.5;
  }

  /** @param anotherFollows a pause or a raised maximum duration: the sound sink is kept ready for the next part. */
  private async finishPart(anotherFollows: boolean): Promise<void> {
    const part = this.current;
    if (!part) return;
    this.ending = part;
    if (anotherFollows) await this.env?.sinkListener.stepIn();
    await part.stop();
    if (this.currentProbe) this.settleShift(this.currentProbe, true);
    this.currentProbe = undefined;
    this.completedSeconds += part.progress.seconds;
    this.completedFrames += part.progress.frames;
    this.completedDropped += part.progress.droppedFrames + part.progress.duplicatedFrames + part.slotting.dropped + part.slotting.duplicated;
    this.completedBytes += part.progress.bytes;
    this.current = undefined;
  }

  private async deliver(): Promise<FinalReport> {
    const { config, profile } = this;
    // Chromium is stopped, not ended, while the parts are joined and uploaded: the stop → upload time is
    // the user's wait, and ending it costs CPU. It is killed at teardown (CallPage.freeze).
    this.page?.freeze();
    this.stopPassed('browserStopped');
    this.page = undefined;
    this.phase = 'UPLOADING';
    const baseName = config.storage.objectKey.split('/').pop()!;
    const finalPath = join(config.workDir, `${baseName}.${profile.extension}`);
    const cutAt = this.stopReason === 'MAX_DURATION_REACHED' ? this.maxDurationSeconds : undefined;
    const audioPath = join(config.workDir, `${baseName}.audio.${profile.audioExport.extension}`);
    const thumbPath = join(config.workDir, `${baseName}.jpg`);
    // The join writes the extras itself, the thumbnail at its moment in the length the parts add up to.
    // A salvage captured nothing itself and does not know that length: its thumbnail is made afterwards.
    const wantsThumbnail = config.output.thumbnail && Boolean(config.output.video);
    const recordedSeconds = cutAt === undefined ? this.completedSeconds : Math.min(this.completedSeconds, cutAt);
    const wanted: JoinExtras = {
      audioPath: config.output.exportAudio && config.output.video ? audioPath : undefined,
      thumbnail: wantsThumbnail && recordedSeconds > 0 ? { path: thumbPath, atSeconds: thumbnailSeconds(recordedSeconds) } : undefined,
    };
    const made = await joinParts(this.parts, profile, config.workDir, finalPath, cutAt, wanted).catch((err: Error) => {
      throw new RecordingFailure('NOTHING_RECORDED', err.message, this.stopReason);
    });
    this.stopPassed('joined');
    // Hashed while it is checked: the upload needs both.
    const hashing = sha256File(finalPath);
    hashing.catch(() => undefined); // awaited at the upload
    const unverified = (problem: string) => new RecordingFailure('VERIFICATION_FAILED', `the recording failed verification: ${problem}; the file is kept at ${finalPath}`, this.stopReason);
    const readings = readFinished(finalPath, profile);
    const probed = await readings.first.catch((err: Error) => {
      throw unverified(err.message);
    });
    const problem = verifyOutput(probed, config.output);
    if (problem) throw unverified(problem);
    this.stopPassed('checked');

    type Deliverable = { role: 'file' | 'audioFile' | 'thumbnail'; path: string; key: string; contentType: string };
    // An extra the join could not write is made from the recording while it is hashed and uploaded.
    const extras: Promise<Deliverable>[] = [];
    if (wanted.audioPath) {
      if (!made.audioPath) this.log.warn('the join did not write the audio file: it is copied from the recording');
      extras.push((made.audioPath ? Promise.resolve() : exportAudio(finalPath, profile, audioPath)).then(() => ({ role: 'audioFile', path: audioPath, key: `${config.storage.objectKey}.audio.${profile.audioExport.extension}`, contentType: profile.audioExport.contentType })));
    }
    if (wantsThumbnail) {
      if (wanted.thumbnail && !made.thumbnail) this.log.warn('the join did not write the thumbnail: it is made from the recording');
      extras.push((made.thumbnail ? Promise.resolve() : makeThumbnail(finalPath, probed.durationSeconds, thumbPath)).then(() => ({ role: 'thumbnail', path: thumbPath, key: `${config.storage.objectKey}.jpg`, contentType: 'image/jpeg' })));
    }
    for (const extra of extras) extra.catch(() => undefined); // awaited below, after the main upload
    const { uploadConfirmed, store } = await (this.uploading ??= this.prepareUpload());
    const stored: Partial<Record<'file' | 'audioFile' | 'thumbnail', StoredFileReport>> = {};
    const upload = async (f: Deliverable, hashed?: Promise<string>) => {
      const sha256 = await (hashed ?? sha256File(f.path));
      const sizeBytes = await uploadConfirmed(store, { path: f.path, key: f.key, contentType: f.contentType, sha256 }, config.storage.retryWindowSeconds * 1000, this.log).catch(
        (err: Error) => {
          throw new RecordingFailure('UPLOAD_FAILED', `${err.message}; the file is kept at ${f.path}`, this.stopReason);
        },
      );
      stored[f.role] = { fileName: f.key.split('/').pop()!, key: f.key, sizeBytes, sha256, contentType: f.contentType };
    };
    await upload({ role: 'file', path: finalPath, key: `${config.storage.objectKey}.${profile.extension}`, contentType: profile.contentType }, hashing);
    if (readings.byFfprobe) {
      // The in-process reading came first; ffprobe's, made while the file uploaded, must agree.
      const uploadedAs = `; it was uploaded as ${config.storage.objectKey}.${profile.extension}`;
      const confirmed = await readings.byFfprobe.catch((err: Error) => {
        throw unverified(`ffprobe: ${err.message}${uploadedAs}`);
      });
      const ffprobeProblem = verifyOutput(confirmed, config.output);
      if (ffprobeProblem) throw unverified(`ffprobe: ${ffprobeProblem}${uploadedAs}`);
    }
    this.stopPassed('uploaded');
    await Promise.all(extras.map(async (extra) => upload(await extra)));
    this.stopPassed('delivered');
    // Where the user's wait after a stop goes (npm run bench pod-start reads it from the Pod's log).
    if (this.stopRequestedAtMs !== undefined) this.log.info({ stopSplit: this.stopSplit }, 'delivered');
    this.phase = 'UPLOADED';
    return {
      result: 'UPLOADED',
      storageType: config.storage.type,
      bucket: store.bucket,
      file: stored.file,
      audioFile: stored.audioFile,
      thumbnail: stored.thumbnail,
      durationSeconds: Math.round(probed.durationSeconds * 1000) / 1000,
      width: probed.video?.width,
      height: probed.video?.height,
      startedTime: this.startedTime?.toISOString(),
      stoppedTime: this.stoppedTime?.toISOString(),
      stopReason: this.stopReason,
    };
  }

  private async prepareUpload() {
    const [{ uploadConfirmed }, store] = await Promise.all([loadUploadModule(), openObjectStore(this.config.storage, this.secrets.storage)]);
    return { uploadConfirmed, store };
  }

  private async download(url: string, name: string): Promise<string> {
    const response = await fetch(url, { signal: AbortSignal.timeout(15_000) }).catch((err: Error) => {
      throw new RecordingFailure('ASSET_UNAVAILABLE', `cannot fetch ${name} ${url}: ${err.message}`);
    });
    if (!response.ok) throw new RecordingFailure('ASSET_UNAVAILABLE', `cannot fetch ${name} ${url}: HTTP ${response.status}`);
    const path = join(this.config.workDir, `${name}${url.match(/\.(png|jpe?g|gif|webp|svg)(\?|$)/i)?.[0]?.replace(/\?$/, '') ?? ''}`);
    await writeFile(path, Buffer.from(await response.arrayBuffer()));
    return path;
  }

  private async teardown(): Promise<void> {
    this.dropWaitingPart();
    await this.current?.stop().catch(() => undefined);
    await this.started?.close().catch(() => undefined);
  }
}

/** Beside each part: its measured picture delay and sound shift, for a salvage after a crash. */
function shiftFile(partPath: string): string {
  return `${partPath}.sync.json`;
}

/** The sound shift a crashed run kept beside its part; none when it crashed before measuring. */
function readShift(partPath: string): number {
  try {
    const kept = JSON.parse(readFileSync(shiftFile(partPath), 'utf8')) as { audioShiftMs?: unknown };
    return typeof kept.audioShiftMs === 'number' && Number.isFinite(kept.audioShiftMs) ? kept.audioShiftMs / 1000 : 0;
  } catch {
    return 0;
  }
}
