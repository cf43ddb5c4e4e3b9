// The capture parts' files in the work directory: part-000.mp4, part-001.mp4, … one per stretch between
// pauses, in order. Files found there when the recorder starts were left by a run that crashed.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const partFile = /^part-\d{3}\.\w+$/;

/** The path of part number `index` (from 0). */
export function partPath(workDir: string, index: number, extension: string): string {
  return join(workDir, `part-${String(index).padStart(3, '0')}.${extension}`);
}

/** The parts already in the work directory, in order. */
export function leftoverParts(workDir: string): string[] {
  if (!existsSync(workDir)) return [];
  return readdirSync(workDir)
    .filter((f) => partFile.test(f))
    .sort()
    .map((f) => join(workDir, f));
}
