import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where built binaries are cached, outside the repository (same default as scripts/build-go-tools.sh). */
export const cacheDir = process.env.RECORDING_OPERATOR_CACHE ?? join(homedir(), '.cache', 'recording-operator');
