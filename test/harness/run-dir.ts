// Per-run scratch directories under $TMPDIR/recording-operator-test. Each records its owner pid, and a
// new run removes directories whose owner is gone, so an interrupted run leaves nothing behind for long.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(tmpdir(), 'recording-operator-test');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process that wrote `dir`/owner.pid has exited; undefined when there is no such file
 * (not a run directory, or one whose owner let go of it on purpose).
 */
export function ownerGone(dir: string): boolean | undefined {
  let owner: number;
  try {
    owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
  } catch {
    return undefined;
  }
  return Number.isInteger(owner) && !alive(owner);
}

function removeAbandoned(): void {
  for (const entry of readdirSync(root)) {
    const dir = join(root, entry);
    if (ownerGone(dir)) rmSync(dir, { recursive: true, force: true });
  }
}

export function makeRunDir(prefix: string): string {
  mkdirSync(root, { recursive: true });
  removeAbandoned();
  const dir = mkdtempSync(join(root, `${prefix}-`));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  return dir;
}
