// Child processes that cannot outlive their parent: the kernel sends SIGKILL to the child when the
// parent dies (setpriv --pdeathsig, util-linux), so a crashed recorder or test run leaves no ffmpeg,
// Chromium or apiserver behind.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';

const setpriv = '/usr/bin/setpriv';

export function spawnBoundToParent(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  if (!existsSync(setpriv)) return spawn(command, args, options);
  return spawn(setpriv, ['--pdeathsig', 'KILL', '--', command, ...args], options);
}
