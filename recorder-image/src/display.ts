// The recorder's own virtual display and sound card: an Xvfb screen on which Chromium's window is
// exactly the size asked for, and a PulseAudio server whose only sink is a null sink; Chromium plays into
// it and ffmpeg records its monitor.
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawnBoundToParent } from '@recording-operator/common/process.ts';
import type { Logger } from 'pino';
import { setScreenRefresh } from './screen-refresh.ts';
import { parkingSinkName, SinkListener } from './sink-listener.ts';
import { until } from './until.ts';

/** Chromium's PulseAudio playback buffer (PULSE_LATENCY_MSEC). */
const playbackLatencyMs = 15;
const sinkName = 'recorder';
/** The rate of the recording's sound: PulseAudio gives ffmpeg the sink's sound at this rate. */
export const sampleRate = 48_000;
/**
 * The null sink's own rate: 50 kHz, not 48, so that every block it mixes lasts a whole number of
 * microseconds. The sink keeps its time by adding up its blocks' lengths in whole microseconds, cut
 * short: Chromium's writes reach it in blocks such as 467 frames (9,729.17 µs, counted as 9,729), so
 * at 48 kHz it mixed ~70 ppm faster than the clock, and the sound, counted in samples, ran ahead of
 * the wall clock that stamps the picture: +4.1 to +4.9 ms a minute (measured, 60-120 s, Chromium
 * playing; 0.0 with no player). At 50 kHz a frame is 20 µs, and the same measurement gives -0.02 ms a
 * minute. The price: PulseAudio resamples the monitor to 48 kHz for ffmpeg, and Chromium plays at 50.
 */
const sinkRate = 50_000;

const run = promisify(execFile);

export interface AvEnvironment {
  display: string;
  pulseServer: string;
  pulseSource: string;
  /** The sink's own listener: it steps aside while a capture listens (sink-listener.ts). */
  sinkListener: SinkListener;
  /** Environment for programs that draw on the display and play into the sink. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

function startXvfb(width: number, height: number, log: Logger): Promise<{ child: ChildProcess; display: string }> {
  // -displayfd: Xvfb picks a free display number and writes it to fd 3 once it accepts connections.
  // No GLX: Chromium composites in software (--disable-gpu) and ffmpeg grabs through MIT-SHM, and the
  // GLX extension alone loads Mesa into Xvfb (PSS 75-96 → 24-31 MiB at 720p).
  const child = spawnBoundToParent('Xvfb', ['-displayfd', '3', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp', '-noreset', '-ac', '-extension', 'GLX'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  return new Promise<{ child: ChildProcess; display: string }>((resolve, reject) => {
    let out = '';
    let errors = '';
    const fd3 = child.stdio[3] as NodeJS.ReadableStream;
    fd3.setEncoding('utf8');
    fd3.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('\n')) resolve({ child, display: `:${out.trim()}` });
    });
    child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`Xvfb exited (${code}) before its display was ready: ${errors.trim().slice(-500)}`)));
    setTimeout(() => reject(new Error('Xvfb did not report a display within 10 s')), 10_000).unref();
  }).then((ready) => {
    log.debug({ display: ready.display }, 'Xvfb ready');
    return ready;
  });
}

const pulseSocketOf = (runtimeDir: string) => join(runtimeDir, 'native');
const pulseServerOf = (runtimeDir: string) => `unix:${pulseSocketOf(runtimeDir)}`;

/**
 * PulseAudio with the recorder's null sink. `listening` resolves once its socket exists: a client that
 * connects from then on is served as soon as the daemon's start-up (which loads the sink) is over, so
 * Chromium may start. Chromium connects to the sound server when it starts, not when a page plays: one
 * started before the socket existed stayed silent for good (a probe: no sound after a 2 s late start).
 */
function startPulse(runtimeDir: string, log: Logger): { listening: Promise<void>; ready: Promise<{ children: ChildProcess[]; server: string; listener: SinkListener }> } {
  mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
  const socket = pulseSocketOf(runtimeDir);
  const server = pulseServerOf(runtimeDir);
  const env = { ...process.env, HOME: runtimeDir, XDG_RUNTIME_DIR: runtimeDir, PULSE_RUNTIME_PATH: runtimeDir, PULSE_SERVER: server };
  // Everything at the sink's rate: Chromium plays at the default rate, so it then plays straight into
  // the sink, and the alternate rate is the same so it never switches. (PulseAudio reads
  // $HOME/.config/pulse/daemon.conf; it ignores XDG_CONFIG_HOME.)
  mkdirSync(join(runtimeDir, '.config', 'pulse'), { recursive: true });
  writeFileSync(join(runtimeDir, '.config', 'pulse', 'daemon.conf'), `default-sample-rate = ${sinkRate}\nalternate-sample-rate = ${sinkRate}\n`);
  const child = spawnBoundToParent(
    'pulseaudio',
    [
      '-n', // no default.pa: only the modules below
      '--daemonize=no', '--exit-idle-time=-1', '--use-pid-file=no', '--log-target=stderr', '--log-level=error',
      `--load=module-native-protocol-unix socket=${socket} auth-anonymous=1`,
      `--load=module-null-sink sink_name=${sinkName} rate=${sinkRate} channels=2 sink_properties=device.description=recorder`,
      // Where the sink's own listener waits while ffmpeg listens (sink-listener.ts). Loaded second, so
      // the recorder's sink stays the default one, which Chromium plays into.
      `--load=module-null-sink sink_name=${parkingSinkName} rate=${sinkRate} channels=2 sink_properties=device.description=parking`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env },
  );
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = () => child.exitCode !== null && `PulseAudio exited (${child.exitCode}): ${errors.trim().slice(-500)}`;
  const pactl = (...args: string[]) => run('pactl', args, { env });
  const listening = until(() => Promise.resolve(existsSync(socket)), exited, () => `PulseAudio made no socket within 10 s: ${errors.trim().slice(-500)}`, 5);
  const ready = listening.then(async () => {
    await until(() => pactl('info').then(() => true, () => false), exited, () => `PulseAudio did not answer within 10 s: ${errors.trim().slice(-500)}`);
    const listener = await SinkListener.start(sinkName, sinkRate, pactl, env, log);
    log.debug({ server }, 'PulseAudio ready');
    return { children: [child, listener.child], server, listener };
  });
  ready.catch(() => child.kill('SIGKILL'));
  listening.catch(() => undefined); // reported through ready
  return { listening, ready };
}

/**
 * Chromium's kiosk (fullscreen) window on a screen without a window manager is one pixel narrower and
 * one shorter than the screen (measured: innerWidth x innerHeight 1279x721 on a 1280x722 screen, at
 * 0,0). On a screen of exactly the output size every recording had a black last column and row, and the
 * picture-delay strip lay one row above where ffmpeg read it.
 */
const fullscreenShortfall = 1;

/**
 * A private runtime directory for PulseAudio and Chromium's home. PulseAudio's socket path must stay under
 * the 108-byte limit of Unix sockets whatever workDir is, so it is a short directory under the tmp directory.
 */
export function newRuntimeDir(): string {
  return mkdtempSync(join(tmpdir(), 'rec-'));
}

/** The environment while it starts: what Chromium needs comes first, PulseAudio's own set-up after it. */
export interface StartingAvEnvironment {
  /**
   * The environment for Chromium, once Xvfb accepts connections and PulseAudio's socket exists (see
   * startPulse). Chromium can start on it while PulseAudio finishes its set-up; wait for `ready` before
   * loading a page.
   */
  display: Promise<NodeJS.ProcessEnv>;
  ready: Promise<AvEnvironment>;
}

/**
 * @param width, height the size Chromium's window gets (the screen is fullscreenShortfall larger).
 * @param fps the rate Chromium draws at: the capture's (screen-refresh.ts).
 */
export function startAvEnvironmentInStages(width: number, height: number, fps: number, runtimeDir: string, log: Logger): StartingAvEnvironment {
  const [screenWidth, screenHeight] = [width + fullscreenShortfall, height + fullscreenShortfall];
  const xvfb = startXvfb(screenWidth, screenHeight, log).then(async (screen) => {
    // Before Chromium starts, which reads the rate as it starts (and only now and then after).
    await setScreenRefresh(screen.display, screenWidth, screenHeight, fps, log).catch((err: Error) =>
      log.warn({ err: err.message }, "the screen's refresh rate could not be set: a long recording's picture will drift against its sound by up to a frame"),
    );
    return screen;
  });
  const { listening, ready: pulse } = startPulse(runtimeDir, log);
  const envFor = (display: string): NodeJS.ProcessEnv =>
    // A short playback buffer keeps Chromium's sound close to its picture (A/V benchmark: ~50 ms → ~20 ms).
    ({ ...process.env, DISPLAY: display, PULSE_SERVER: pulseServerOf(runtimeDir), PULSE_LATENCY_MSEC: String(playbackLatencyMs), HOME: runtimeDir, XDG_RUNTIME_DIR: runtimeDir });
  const ready = Promise.allSettled([xvfb, pulse]).then(async ([x, p]) => {
    if (x.status === 'rejected' || p.status === 'rejected') {
      // One failed: stop the other, then fail with the first failure.
      await Promise.all([x.status === 'fulfilled' ? stopChild(x.value.child) : undefined, ...(p.status === 'fulfilled' ? p.value.children.map(stopChild) : [])]);
      throw x.status === 'rejected' ? x.reason : (p as PromiseRejectedResult).reason;
    }
    const [{ value: screen }, { value: sound }] = [x, p];
    return {
      display: screen.display,
      pulseServer: sound.server,
      pulseSource: `${sinkName}.monitor`,
      sinkListener: sound.listener,
      env: envFor(screen.display),
      async stop() {
        await Promise.all([stopChild(screen.child), ...sound.children.map(stopChild)]);
      },
    };
  });
  const display = Promise.all([xvfb, listening]).then(([screen]) => envFor(screen.display));
  // Either may be left unawaited (the other one reports the failure), never as an unhandled rejection.
  ready.catch(() => undefined);
  display.catch(() => undefined);
  return { display, ready };
}

export async function startAvEnvironment(width: number, height: number, fps: number, runtimeDir: string, log: Logger): Promise<AvEnvironment> {
  return startAvEnvironmentInStages(width, height, fps, runtimeDir, log).ready;
}
