// The operator's image runs a type-stripped build (scripts/build-operator.ts): every module of it loads
// (ES module linking resolves all static imports before any code runs) and validates its settings.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from '../harness/paths.ts';

test('the JavaScript build of the operator loads and rejects a bad setting by name', async () => {
  const out = join(repoRoot, '.tmp', `operator-build-test-${process.pid}`);
  try {
    execFileSync(process.execPath, ['--no-warnings', join(repoRoot, 'scripts', 'build-operator.ts'), out]);
    assert.ok(existsSync(join(out, 'operator', 'src', 'main.js')));
    assert.ok(existsSync(join(out, 'common', 'src', 'protocol', 'recorder-config.js')));
    const result = await promisify(execFile)(process.execPath, [join(out, 'operator', 'src', 'main.js')], { env: { ...process.env, RECORDING_WORKERS: '0' } }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, /RECORDING_WORKERS: Too small/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
