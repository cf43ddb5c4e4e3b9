// Chromium in kiosk mode on the recorder's display, and the page contract:
//   console "START_RECORDING"          the page is ready to be captured (LiveKit's marker);
//   console "END_RECORDING"            the call is over;
//   console "RECORDING_PARTICIPANTS=n" how many participants are in the call (for auto-stop).
// A page that says nothing still works: capture starts once it has loaded.
import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { processTree } from '@recording-operator/common/proc-stat.ts';
import { spawnBoundToParent } from '@recording-operator/common/process.ts';
import { CdpConnection, CdpError } from './cdp.ts';
import { pictureProbeScript } from './picture-delay.ts';

/**
 * Chromium renders at 60 Hz on a display that reports no refresh rate (Xvfb), twice what a 30 fps
 * capture takes. Its energy saver mode ("Local State" pref performance_tuning.battery_saver_mode.state
 * = 3, always on) throttles every frame sink to 30 Hz, the only rate limit Chromium offers outside
 * headless mode. Measured with the demo page at 720p: renderer and GPU process 0.63 → 0.33 core.
 * The screen now reports the capture's own rate (screen-refresh.ts), and Chromium draws at that rate
 * with the saver on (the frames' interval, measured in av-environment.test.ts); the saver stays for a
 * screen whose rate could not be set.
 */
const energySaverFps = 30;
const energySaverLocalState = { performance_tuning: { battery_saver_mode: { state: 3 } } };

export interface PageEvents {
  ready: [];
  ended: [];
  participants: [count: number];
  crashed: [reason: string];
  /** Every console message's text. */
  console: [text: string];
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
  private readonly browser: ChildProcess;
  private readonly cdp: CdpConnection;
  /** The DevTools session of the tab the call page is shown in. */
  private readonly tab: string;
  private readonly profileDir: string;
  private readonly browserOptions: BrowserOptions;
  /** The processes freeze() stopped. */
  private frozen?: number[];

  private constructor(browser: ChildProcess, cdp: CdpConnection, tab: string, profileDir: string, browserOptions: BrowserOptions) {
    super();
    this.browser = browser;
    this.cdp = cdp;
    this.tab = tab;
    this.profileDir = profileDir;
    this.browserOptions = browserOptions;
    cdp.on('event', (method, params, sessionId) => {
      if (sessionId !== tab) return;
      if (method === 'Runtime.consoleAPICalled') this.onConsole(consoleText(params));
      else if (method === 'Inspector.targetCrashed') this.emit('crashed', 'the page crashed');
    });
    cdp.once('closed', () => this.emit('crashed', 'the browser closed'));
  }

  /** Starts Chromium and opens the call page in it. */
  static async open(options: BrowserOptions & PageOptions): Promise<CallPage> {
    const callPage = await CallPage.launch(options);
    try {
      await callPage.load(options);
    } catch (err) {
      await callPage.close();
      throw err;
    }
    return callPage;
  }

  /** Starts Chromium on a blank page: what a standby recorder does before it knows the call. */
  static async launch(options: BrowserOptions): Promise<CallPage> {
    const profileDir = mkdtempSync(join(options.workDir, 'chromium-'));
    if ((options.captureFps ?? 0) <= energySaverFps) writeFileSync(join(profileDir, 'Local State'), JSON.stringify(energySaverLocalState));
    // Bound to the recorder's process: it starts before the configuration is checked (early-start.ts), and
    // a recorder that dies then leaves no browser behind.
    const browser = spawnBoundToParent(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', [...chromiumArgs(options.width, options.height), `--user-data-dir=${profileDir}`, '--remote-debugging-pipe', 'about:blank'], {
      env: options.env,
      // fd 3 and 4: the DevTools pipe. Chromium's stderr is kept only for the reason of a failed start.
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    });
    let stderrTail = '';
    browser.stderr!.on('data', (chunk: Buffer) => (stderrTail = (stderrTail + chunk.toString()).slice(-2000)));
    const cdp = new CdpConnection(browser.stdio[3] as Writable, browser.stdio[4] as Readable);
    browser.once('error', (err) => cdp.closeWith(`Chromium could not be started: ${err.message}`));
    browser.once('exit', (code, signal) => cdp.closeWith(`Chromium exited (${signal ?? `code ${code}`})${stderrTail ? `: ${lastLines(stderrTail)}` : ''}`));
    try {
      const tab = await attachToTab(cdp);
      await Promise.all(['Runtime.enable', 'Page.enable', 'Inspector.enable'].map((method) => cdp.send(method, {}, tab)));
      await cdp.send('Page.setLifecycleEventsEnabled', { enabled: true }, tab);
      return new CallPage(browser, cdp, tab, profileDir, options);
    } catch (err) {
      browser.kill('SIGKILL');
      removeProfile(profileDir);
      throw err;
    }
  }

  /** Opens the call page (once): resolves when its load event has fired. */
  async load(options: PageOptions): Promise<void> {
    const { cdp, tab, browserOptions } = this;
    const where = redactQuery(options.url);
    // Load events are collected from before the navigation: one can come before Page.navigate's answer.
    const loadedDocuments = new Set<string>();
    let navigated: string | undefined;
    let settle: ((err?: Error) => void) | undefined;
    const onEvent = (method: string, params: Record<string, unknown>, sessionId: string | undefined) => {
      if (sessionId !== tab || method !== 'Page.lifecycleEvent' || params.name !== 'load') return;
      loadedDocuments.add(params.loaderId as string);
      if (navigated && loadedDocuments.has(navigated)) settle?.();
    };
    const onClosed = () => settle?.(new Error(`the call page ${where} did not load: the browser closed`));
    cdp.on('event', onEvent);
    cdp.once('closed', onClosed);
    // The time limit covers the navigation too: Page.navigate answers only once the server has.
    let timer: NodeJS.Timeout | undefined;
    const timeLimit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the call page ${where} did not load within ${options.loadTimeoutMs / 1000} s`)), options.loadTimeoutMs);
    });
    try {
      const navigation = await Promise.race([cdp.send<{ loaderId: string; errorText?: string }>('Page.navigate', { url: options.url }, tab), timeLimit]);
      if (navigation.errorText) throw new Error(`the call page ${where} did not load: ${navigation.errorText}`);
      navigated = navigation.loaderId;
      if (!loadedDocuments.has(navigated)) await Promise.race([new Promise<void>((resolve, reject) => (settle = (err) => (err ? reject(err) : resolve()))), timeLimit]);
    } finally {
      clearTimeout(timer);
      cdp.off('event', onEvent);
      cdp.off('closed', onClosed);
    }
    if (options.externalCssUrl) await this.evaluate(stylesheetScript(options.externalCssUrl));
    // The window must cover exactly the screen's captured area (display.ts: fullscreenShortfall).
    const viewport = await this.evaluate<[number, number]>('[innerWidth, innerHeight]');
    if (viewport[0] !== browserOptions.width || viewport[1] !== browserOptions.height) browserOptions.log.warn({ viewport, expected: [browserOptions.width, browserOptions.height] }, "Chromium's window is not the size asked for: the recording's edges may show no page");
    browserOptions.log.info({ url: where }, 'page loaded');
  }

  /** Evaluates a JavaScript expression in the page; a promise is awaited. Resolves with its value (JSON-like). */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const answer = await this.cdp.send<{ result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } }>('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, this.tab);
    if (answer.exceptionDetails) throw new Error(answer.exceptionDetails.exception?.description ?? answer.exceptionDetails.text);
    return answer.result.value as T;
  }

  /**
   * Shows the picture-delay probe strip for `seconds` (picture-delay.ts). Resolves at its first
   * animation frame, with that frame's time (ms since the epoch).
   */
  async startPictureProbe(seconds: number): Promise<number> {
    return await this.evaluate<number>(pictureProbeScript(seconds));
  }

  private onConsole(text: string): void {
    this.emit('console', text);
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
   * Stops Chromium where it is: SIGSTOP to the browser and every process under it. Once the capture has
   * ended it only takes CPU from the delivery (join, hash, upload), and so did killing it at once: its
   * processes' teardown took ~0.16 s of a core while the parts were joined (pod-start benchmark, 55 s
   * recordings). close() kills it, stopped or not, once the recording is delivered.
   */
  freeze(): void {
    if (this.frozen || this.browser.pid === undefined || this.browser.exitCode !== null || this.browser.signalCode !== null) return;
    this.removeAllListeners(); // a stopped page tells nothing more
    this.frozen = processTree(this.browser.pid).map((p) => p.pid);
    for (const pid of this.frozen) signalIfThere(pid, 'SIGSTOP');
  }

  /**
   * Ends Chromium. Its profile is thrown away, so nothing needs a graceful shutdown, and one costs a
   * second of CPU that the delivery (join, hash, upload) waits for on a 2-core machine: the browser
   * process is killed (its renderers and zygotes end with it; stopped ones cannot notice, so a frozen
   * tree is killed whole).
   */
  async close(): Promise<void> {
    this.removeAllListeners();
    this.cdp.removeAllListeners();
    if (this.browser.exitCode === null && this.browser.signalCode === null) {
      const exited = new Promise((resolve) => this.browser.once('exit', resolve));
      this.browser.kill('SIGKILL');
      for (const pid of this.frozen ?? []) signalIfThere(pid, 'SIGKILL');
      await exited;
    }
    this.cdp.closeWith('the browser was closed');
    removeProfile(this.profileDir);
  }
}

/**
 * Throws a killed browser's profile away, with the directory Chromium keeps the profile's lock socket in
 * under TMPDIR (org.chromium.Chromium.*, linked from the profile as SingletonSocket). Chromium removes
 * that one only when it shuts down gracefully: without this every recording left one behind (613 in a
 * day of tests on one machine).
 */
function removeProfile(profileDir: string): void {
  const socketDir = lockSocketDir(profileDir);
  if (socketDir && basename(socketDir).startsWith('org.chromium.Chromium.')) rmSync(socketDir, { recursive: true, force: true });
  rmSync(profileDir, { recursive: true, force: true });
}

/** Where the profile's SingletonSocket link points, or undefined when Chromium did not get that far. */
function lockSocketDir(profileDir: string): string | undefined {
  try {
    return dirname(readlinkSync(join(profileDir, 'SingletonSocket')));
  } catch {
    return undefined;
  }
}

/** Sends a signal to a process that may have ended meanwhile. */
function signalIfThere(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ended meanwhile
  }
}

/** Chromium's command line, apart from its profile and the DevTools pipe. */
function chromiumArgs(width: number, height: number): string[] {
  return [
    '--kiosk',
    '--window-position=0,0',
    `--window-size=${width},${height}`,
    '--autoplay-policy=no-user-gesture-required',
    '--use-fake-ui-for-media-stream',
    '--no-sandbox', // the Pod is the sandbox: Chromium's needs user namespaces a restricted Pod does not have
    '--disable-dev-shm-usage',
    '--disable-gpu',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-component-extensions-with-background-pages',
    '--disable-default-apps',
    '--disable-extensions',
    '--disable-breakpad',
    '--disable-sync',
    '--disable-field-trial-config',
    '--disable-renderer-backgrounding',
    '--disable-background-timer-throttling',
    '--disable-backgrounding-occluded-windows',
    '--disable-hang-monitor',
    '--disable-ipc-flooding-protection',
    '--disable-popup-blocking',
    '--disable-prompt-on-repost',
    '--disable-search-engine-choice-screen',
    '--force-color-profile=srgb',
    '--metrics-recording-only',
    '--password-store=basic',
    '--use-mock-keychain',
    '--no-service-autorun',
    // Fewer processes, less memory (PSS of the recorder's tree at 720p, `npm run bench recorder`): the
    // GPU process (software compositing only, --disable-gpu), the network service and the audio
    // service run inside the browser process, and no spare renderer waits for a second site. One page
    // in a Pod has nothing to isolate them from: 719 → 673 MiB with the JavaScript build's savings apart.
    // Chromium 156 also preloads its omnibox popup (a WebUI renderer, chrome://omnibox-popup.top-chrome,
    // ≈ 55 MiB on the WebRTC page) that a kiosk window never shows: the WebUIOmnibox* features.
    // PaintHolding would keep the first frames of a page back until it is "ready"; a recording starts
    // from the first frame. The others would each make a request to Google at start.
    `--disable-features=${[
      'Translate', 'MediaRouter', 'OptimizationHints', 'AudioServiceOutOfProcess', 'SpareRendererForSitePerProcess',
      'WebUIOmniboxPopup', 'WebUIOmniboxAimPopup', 'WebUIOmniboxFullPopup', 'PaintHolding', 'LensOverlay',
      'NetworkTimeServiceQuerying', 'AimEnabled', 'PreconnectToSearch', 'DestroyProfileOnBrowserClose',
    ].join(',')}`,
    '--enable-features=NetworkServiceInProcess2',
    '--in-process-gpu',
    // Without a sandbox the second zygote (the one that starts unsandboxed utilities) only holds memory
    // (30 MiB PSS at 720p): the storage service is started without it.
    '--no-unsandboxed-zygote',
    '--hide-scrollbars',
    '--noerrdialogs',
  ];
}

/** The tab Chromium opened at start (about:blank), attached to in flat mode: its session id. */
async function attachToTab(cdp: CdpConnection): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const { targetInfos } = await cdp.send<{ targetInfos: { targetId: string; type: string; url: string }[] }>('Target.getTargets');
    const tab = targetInfos.find((t) => t.type === 'page' && !t.url.startsWith('chrome'));
    if (tab) return (await cdp.send<{ sessionId: string }>('Target.attachToTarget', { targetId: tab.targetId, flatten: true })).sessionId;
    // The tab is created a moment after the DevTools pipe answers.
    if (attempt >= 200) throw new CdpError('Chromium opened no tab within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A console message's text as the page wrote it: its arguments joined by spaces. */
function consoleText(params: Record<string, unknown>): string {
  const args = (params.args ?? []) as { value?: string | number | boolean | null; description?: string }[];
  return args.map((a) => (a.value !== undefined ? String(a.value) : (a.description ?? ''))).join(' ');
}

/** An expression that adds a stylesheet and settles when it has loaded (or failed to). */
function stylesheetScript(url: string): string {
  return `new Promise((resolve, reject) => {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = ${JSON.stringify(url)};
    link.onload = () => resolve(true);
    link.onerror = () => reject(new Error('the external stylesheet did not load: ' + link.href));
    document.head.appendChild(link);
  })`;
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ');
}

/** Call URLs may carry tokens in their query string: log only scheme, host and path. */
export function redactQuery(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
}
