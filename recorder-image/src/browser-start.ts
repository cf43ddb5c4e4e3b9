// The screen, the sound card and Chromium on a blank page: what every recording needs before its page
// and nothing of the recording itself, so it can be started before the recording is known (a standby
// recorder) or before the rest of the recorder has loaded (main.ts). Started in stages: Chromium once
// Xvfb is up and PulseAudio listens, while PulseAudio finishes its set-up.
import { mkdirSync, rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { newRuntimeDir, startAvEnvironmentInStages, type AvEnvironment } from './display.ts';
import { CallPage } from './page.ts';
import { probeRows } from './picture-delay.ts';

// Chromium needs a screen even when only sound is recorded; this one is never captured.
const audioOnlyScreen = { width: 640, height: 360 };

/** The screen a recording of this output needs: the probe strip's rows below the picture (picture-delay.ts). */
export function screenFor(video: { width: number; height: number } | undefined): { width: number; height: number } {
  return video ? { width: video.width, height: video.height + probeRows } : audioOnlyScreen;
}

export interface BrowserStartOptions {
  /** The recorded picture (none when only sound is recorded). */
  video?: { width: number; height: number; fps: number };
  workDir: string;
  log: Logger;
}

/** Each stage resolves with performance.now() when it was reached, so a recorder that takes them over later still reports when. */
export interface BrowserStart {
  /** PulseAudio's runtime directory and Chromium's home; removed by close(). */
  runtimeDir: string;
  /** Xvfb accepts connections and PulseAudio's socket exists. */
  displayReady: Promise<number>;
  /** Chromium answers on a blank page. */
  browser: Promise<{ page: CallPage; readyAt: number }>;
  /** The screen and the sound card, PulseAudio's set-up done: wait for it before loading a page. */
  environment: Promise<AvEnvironment>;
  /** Ends all of it, whatever stage it reached. */
  close(): Promise<void>;
}

/** With no picture to record, Chromium still draws the page (its scripts may count on frames), at 30 Hz. */
const soundOnlyDrawFps = 30;

export function startBrowser({ video, workDir, log }: BrowserStartOptions): BrowserStart {
  const screen = screenFor(video);
  mkdirSync(workDir, { recursive: true }); // Chromium's profile goes there
  const runtimeDir = newRuntimeDir();
  const starting = startAvEnvironmentInStages(screen.width, screen.height, video?.fps ?? soundOnlyDrawFps, runtimeDir, log);
  // A failed display is reported through `environment`, which says what failed.
  const chromiumEnv = starting.display.catch(() => starting.ready.then(() => undefined as never));
  const displayReady = chromiumEnv.then(() => performance.now());
  const browser = chromiumEnv.then(async (env) => {
    const page = await CallPage.launch({ width: screen.width, height: screen.height, captureFps: video?.fps, env, workDir, log });
    return { page, readyAt: performance.now() };
  });
  const environment = starting.ready;
  // Any of them may be left unawaited when another fails first; none becomes an unhandled rejection.
  for (const stage of [displayReady, browser, environment]) stage.catch(() => undefined);
  return {
    runtimeDir,
    displayReady,
    browser,
    environment,
    async close() {
      await Promise.all([
        browser.then(({ page }) => page.close(), () => undefined),
        environment.then((env) => env.stop(), () => undefined),
      ]);
      rmSync(runtimeDir, { recursive: true, force: true });
    },
  };
}
