// The images run type-stripped builds (scripts/build-js.ts): every module of each build loads (ES module
// linking resolves all static imports before any code runs) and validates its settings.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from '../harness/paths.ts';

const exitOf = (main: string, env: NodeJS.ProcessEnv) =>
  promisify(execFile)(process.execPath, [main], { env: { ...process.env, ...env } }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => err,
  );

test('the JavaScript build of the operator loads and rejects a bad setting by name', async () => {
  const out = join(repoRoot, '.tmp', `operator-build-test-${process.pid}`);
  try {
    execFileSync(process.execPath, ['--no-warnings', join(repoRoot, 'scripts', 'build-js.ts'), 'operator', out]);
    assert.ok(existsSync(join(out, 'operator', 'src', 'main.js')));
    assert.ok(existsSync(join(out, 'common', 'src', 'protocol', 'recorder-config.js')));
    const result = await exitOf(join(out, 'operator', 'src', 'main.js'), { RECORDING_WORKERS: '0' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /RECORDING_WORKERS: Too small/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the JavaScript build of the recorder loads and rejects a bad configuration by name', async () => {
  const out = join(repoRoot, '.tmp', `recorder-build-test-${process.pid}`);
  try {
    execFileSync(process.execPath, ['--no-warnings', join(repoRoot, 'scripts', 'build-js.ts'), 'recorder-image', out]);
    assert.ok(!existsSync(join(out, 'operator')), 'only the recorder and common');
    const result = await exitOf(join(out, 'recorder-image', 'src', 'main.js'), { RECORDER_CONFIG: JSON.stringify({ recordingId: 'x' }) });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /recorder: configuration error: .*url/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the build names the workspaces it knows when given another', async () => {
  const result = await promisify(execFile)(process.execPath, ['--no-warnings', join(repoRoot, 'scripts', 'build-js.ts'), 'kubectl-plugin']).then(() => ({ code: 0, stderr: '' }), (err: { code: number; stderr: string }) => err);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /usage: node scripts\/build-js.ts <operator\|recorder-image>/);
});
