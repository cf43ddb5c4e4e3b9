// Runs test/tools/chart-check (see its main.go) with `input` on stdin; its stdout, or an assertion
// failure with its stderr.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chartCheckBinary } from './assets.ts';

export async function chartCheck(args: string[], input: string): Promise<string> {
  const child = execFile(chartCheckBinary(), args, { maxBuffer: 16 * 1024 * 1024 });
  child.stdin!.end(input);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise((resolve) => child.once('close', resolve));
  assert.equal(code, 0, `chart-check ${args.join(' ')}: ${err}`);
  return out;
}
