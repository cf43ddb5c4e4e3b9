// Chromium in kiosk mode on the recorder's display, and the page contract:
//   console "START_RECORDING"          the page is ready to be captured (LiveKit's marker);
//   console "END_RECORDING"            the call is over;
//   console "RECORDING_PARTICIPANTS=n" how many participants are in the call (for auto-stop).
// A page that says nothing still works: capture starts once it has loaded.
import { EventEmitter } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Logger } from 'pino';
import { pictureProbeScript } from './picture-delay.ts';

/**
 * Chromium renders at 60 Hz on a display that reports no refresh rate (Xvfb), twice what a 30 fps
 * capture takes. Its energy saver mode ("Local State" pref performance_tuning.battery_saver_mode.state
 * = 3, always on) throttles every frame sink to 30 Hz, the only rate limit Chromium offers outside
 * headless mode. Measured with the demo page at 720p: renderer and GPU process 0.63 → 0.33 core.
 */
const energySaverFps = 30;
const energySaverLocalState = { performance_tuning: { battery_saver_mode: { state: 3 } } };

export interface PageEvents {
  ready: [];
  ended: [];
  participants: [count: number];
  crashed: [reason: string];
}

/** The browser: what it needs before the call page is known. */
export interface BrowserOptions {
  /** The window: the whole screen, probe rows included. */
  width: number;
  height: number;
  /** Frames per second the capture takes (none when only sound is recorded); the page is rendered no faster than it needs. */
  captureFps?: number;
  env: NodeJS.ProcessEnv;
  workDir: string;
  log: Logger;
}

export interface PageOptions {
  url: string;
  externalCssUrl?: string;
  loadTimeoutMs: number;
}

export class CallPage extends EventEmitter<PageEvents> {
  ready = false;
  participants: number | undefined;
  private readonly context: BrowserContext;
  readonly page: Page;
  private readonly profileDir: string;
  private readonly browserOptions: BrowserOptions;

  private constructor(context: BrowserContext, page: Page, profileDir: string, browserOptions: BrowserOptions) {
    super();
    this.context = context;
    this.page = page;
    this.profileDir = profileDir;
    this.browserOptions = browserOptions;
  }

  /** Starts Chromium and opens the call page in it. */
  static async open(options: BrowserOptions & PageOptions & {
    /** Called once Chromium is up, before the page loads (for the start-up split). */
    onBrowserReady?: () => void;
  }): Promise<CallPage> {
    const callPage = await CallPage.launch(options);
    options.onBrowserReady?.();
    await callPage.load(options);
    return callPage;
  }

  /** Starts Chromium on a blank page: what a standby recorder does before it knows the call. */
  static async launch(options: BrowserOptions): Promise<CallPage> {
    const profileDir = mkdtempSync(join(options.workDir, 'chromium-'));
    if ((options.captureFps ?? 0) <= energySaverFps) writeFileSync(join(profileDir, 'Local State'), JSON.stringify(energySaverLocalState));
    const context = await chromium.launchPersistentContext(profileDir, {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      headless: false,
      viewport: null,
      env: options.env,
      // No "controlled by automated software" bar in the recording.
      ignoreDefaultArgs: ['--enable-automation'],
      args: [
        '--kiosk',
        '--window-position=0,0',
        `--window-size=${options.width},${options.height}`,
        '--autoplay-policy=no-user-gesture-required',
        '--use-fake-ui-for-media-stream',
        '--no-sandbox', // the Pod is the sandbox: Chromium's needs user namespaces a restricted Pod does not have
        '--disable-dev-shm-usage',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-renderer-backgrounding',
        '--disable-background-timer-throttling',
        '--disable-backgrounding-occluded-windows',
        // Fewer processes, less memory (PSS of the recorder's tree at 720p, `npm run bench recorder`): the
        // GPU process (software compositing only, --disable-gpu), the network service and the audio
        // service run inside the browser process, and no spare renderer waits for a second site. One page
        // in a Pod has nothing to isolate them from: 719 → 673 MiB with the JavaScript build's savings apart.
        // Chromium 156 also preloads its omnibox popup (a WebUI renderer, chrome://omnibox-popup.top-chrome,
        // ≈ 55 MiB on the WebRTC page) that a kiosk window never shows: the WebUIOmnibox* features.
        '--disable-features=Translate,MediaRouter,OptimizationHints,AudioServiceOutOfProcess,SpareRendererForSitePerProcess,WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup',
        '--enable-features=NetworkServiceInProcess2',
        '--in-process-gpu',
        '--hide-scrollbars',
        '--noerrdialogs',
      ],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const callPage = new CallPage(context, page, profileDir, options);
    page.on('console', (message) => callPage.onConsole(message.text()));
    page.on('crash', () => callPage.emit('crashed', 'the page crashed'));
    context.on('close', () => callPage.emit('crashed', 'the browser closed'));
    return callPage;
  }

  /** Opens the call page (once). */
  async load(options: PageOptions): Promise<void> {
    const { page, browserOptions } = this;
    await page.goto(options.url, { waitUntil: 'load', timeout: options.loadTimeoutMs });
    if (options.externalCssUrl) await page.addStyleTag({ url: options.externalCssUrl });
    // The window must cover exactly the screen's captured area (display.ts: fullscreenShortfall).
    const viewport = await page.evaluate<[number, number]>('[innerWidth, innerHeight]');
    if (viewport[0] !== browserOptions.width || viewport[1] !== browserOptions.height) browserOptions.log.warn({ viewport, expected: [browserOptions.width, browserOptions.height] }, "Chromium's window is not the size asked for: the recording's edges may show no page");
    browserOptions.log.info({ url: redactQuery(options.url) }, 'page loaded');
  }

  /** Shows the picture-delay probe strip for `seconds` (picture-delay.ts). */
  async startPictureProbe(seconds: number): Promise<void> {
    await this.page.evaluate(pictureProbeScript(seconds));
  }

  private onConsole(text: string): void {
    if (text === 'START_RECORDING' && !this.ready) {
      this.ready = true;
      this.emit('ready');
    } else if (text === 'END_RECORDING') {
      this.emit('ended');
    } else {
      const match = /^RECORDING_PARTICIPANTS=(\d+)$/.exec(text);
      if (match) {
        this.participants = Number(match[1]);
        this.emit('participants', this.participants);
      }
    }
  }

  /**
   * Ends Chromium. Its profile is thrown away, so nothing needs a graceful shutdown, and one costs a
   * second of CPU that the delivery (join, hash, upload) waits for on a 2-core machine: the browser
   * process is killed first (its renderers and zygotes end with it), then Playwright lets go.
   */
  async close(): Promise<void> {
    this.removeAllListeners();
    for (const pid of chromiumChildren()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await this.context.close().catch(() => undefined);
    rmSync(this.profileDir, { recursive: true, force: true });
  }
}

/** This process's children that run Chromium (the browser process Playwright started). */
function chromiumChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readlinkSync(`/proc/${entry}/exe`).endsWith('/chromium')) pids.push(Number(entry));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids;
}

/** Call URLs may carry tokens in their query string: log only scheme, host and path. */
export function redactQuery(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
}
