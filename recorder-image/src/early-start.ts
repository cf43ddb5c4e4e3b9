// The first thing the recorder does: start its screen, sound card and browser (browser-start.ts) from
// the configuration as it came, before the rest of the recorder has loaded and the configuration is
// checked. Loading the rest (zod, the recorder's modules) takes ~0.25 s of a Pod's start on 2 cores;
// it now runs beside Chromium's own start (~0.65 s) instead of before it.
//
// Only what the start needs is read (the picture's size and frame rate, the work directory), and only
// when it is plainly right; anything else starts nothing here and is left to the checks, which name the
// field. When the checks then fail, the caller closes what was started, so a bad configuration still
// changes nothing.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { videoLimits } from '@recording-operator/common/protocol/video-limits.ts';
import { startBrowser, type BrowserStart } from './browser-start.ts';
import { leftoverParts } from './part-files.ts';

/** Where the configuration's schema puts capture files when it names no workDir (recorder-config.ts). */
const defaultWorkDir = '/recordings';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const within = (value: unknown, { min, max }: { min: number; max: number }, even = false): value is number =>
  Number.isInteger(value) && (value as number) >= min && (value as number) <= max && (!even || (value as number) % 2 === 0);

/** The configuration's text, as loadConfig reads it; undefined when there is none to read. */
function configText(env: NodeJS.ProcessEnv): string | undefined {
  if (env.RECORDER_CONFIG !== undefined) return env.RECORDER_CONFIG;
  if (!env.RECORDER_CONFIG_FILE) return undefined;
  try {
    return readFileSync(env.RECORDER_CONFIG_FILE, 'utf8');
  } catch {
    return undefined;
  }
}

/** What the start needs from a raw configuration, or undefined when it is not plainly there. */
export function earlyStartOptions(env: NodeJS.ProcessEnv): { video?: { width: number; height: number; fps: number }; workDir: string; recordingId?: string } | undefined {
  // A standby recorder starts its own browser before any recording is known (standby.ts).
  if (env.RECORDER_STANDBY !== undefined) return undefined;
  const text = configText(env);
  if (text === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(raw) || !isObject(raw.output)) return undefined;
  const workDir = raw.workDir ?? defaultWorkDir;
  if (typeof workDir !== 'string' || workDir === '') return undefined;
  // A container restarted after a crash uploads what it captured and records nothing (Recorder.salvage).
  if (leftoverParts(workDir).length > 0) return undefined;
  const recordingId = typeof raw.recordingId === 'string' ? raw.recordingId : undefined;
  const video = raw.output.video;
  if (video === undefined) return { workDir, recordingId };
  if (!isObject(video) || !within(video.width, videoLimits.size, true) || !within(video.height, videoLimits.size, true) || !within(video.fps, videoLimits.fps)) return undefined;
  return { video: { width: video.width, height: video.height, fps: video.fps }, workDir, recordingId };
}

/** Starts the screen, sound card and browser when the raw configuration plainly says what they must be. */
export function startEarly(env: NodeJS.ProcessEnv, log: Logger): BrowserStart | undefined {
  const options = earlyStartOptions(env);
  if (!options) return undefined;
  const { recordingId, ...start } = options;
  try {
    return startBrowser({ ...start, log: recordingId ? log.child({ recording: recordingId }) : log });
  } catch (err) {
    // A work directory that cannot be made, say. Started later, the same failure is reported as the
    // recording's (a FAILED report); here it would end the process before anything could report.
    log.warn({ err: (err as Error).message }, 'could not start the screen and browser early: they start with the recording');
    return undefined;
  }
}
