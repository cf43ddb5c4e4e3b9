// The other side of a call, for tests and benchmarks: the demo page's participants (role=participants)
// in a headless Chromium of their own, outside the recorder's process tree, encoding and sending their
// pictures and voices to the call page the recorder opens with media=remote. In a real call the
// people a recorder receives are elsewhere; their encoders are not the recorder's cost.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir } from './paths.ts';

export interface RemoteParticipants {
  /** The call page a recorder (or the plain pipeline) opens to receive them. */
  callUrl: string;
  stop(): Promise<void>;
}

let calls = 0;
const chromiumDir = '/usr/lib/chromium';

/**
 * A copy of Chromium's directory for the participants' browser. Run from the installed one, it would
 * map the same executable as the recorder's Chromium, and PSS splits a shared page between the
 * processes that map it: the recorder's figure would shrink by half of Chromium's code (≈ 110 MiB)
 * for a reason that is not its own. Cached per installed build.
 */
function participantsChromium(): string {
  const installed = statSync(join(chromiumDir, 'chromium'));
  const copy = join(cacheDir, 'bench', `participants-chromium-${installed.size}-${Math.floor(installed.mtimeMs)}`);
  if (!existsSync(copy)) {
    const partial = `${copy}.partial-${process.pid}`;
    cpSync(chromiumDir, partial, { recursive: true });
    renameSync(partial, copy);
  }
  return join(copy, 'chromium');
}

/** `pageUrl` is the demo server's address; `query` the call page's options (participants=…, layout=…). */
export function startRemoteParticipants(pageUrl: string, query: string, width: number, height: number): RemoteParticipants {
  const call = `${pageUrl}/call/bench-${process.pid}-${++calls}`;
  const dir = mkdtempSync(join(tmpdir(), 'participants-'));
  // The same window size as the recording, so each camera is the size of the tile that shows it.
  const browser = spawn(participantsChromium(), [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage', '--mute-audio',
    '--autoplay-policy=no-user-gesture-required', `--window-size=${width},${height}`, `--user-data-dir=${dir}`,
    `${call}?${query}&media=remote&role=participants`,
  ], { stdio: 'ignore', env: { ...process.env, HOME: dir } });
  return {
    callUrl: `${call}?${query}&media=remote`,
    async stop() {
      if (browser.exitCode === null && browser.signalCode === null) {
        const exited = new Promise((resolve) => browser.once('exit', resolve));
        browser.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
