// The kubectl plugin (kubectl-plugin/kubectl-recording) and the field selectors it builds on, run through
// real kubectl (plugin discovery on PATH) against a real apiserver and operator; recorder Pods are the
// protocol stand-in, which uploads a real file to MinIO.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { kubernetesBinary } from '../harness/assets.ts';
import { repoRoot } from '../harness/paths.ts';
import { OperatorTestEnvironment } from '../operator/environment.ts';

const run = promisify(execFile);

describe('kubectl recording (plugin)', () => {
  const env = new OperatorTestEnvironment();
  let ns: string;
  before(async () => {
    await env.start({ standIns: true });
    await env.startOperator();
    await env.createCallType('plugin');
    ns = await env.createNamespace('plugin');
  });
  after(async () => env.stop());

  /** `kubectl recording …` as a user types it: kubectl finds the plugin on PATH. */
  const kubectl = (...args: string[]) => run(kubernetesBinary('kubectl'), args, {
    cwd: env.cp.dir,
    env: { ...process.env, KUBECONFIG: env.cp.kubeconfigPath, PATH: [dirname(kubernetesBinary('kubectl')), join(repoRoot, 'kubectl-plugin'), process.env.PATH].join(':') },
  });
  const names = (stdout: string) => stdout.trim().split('\n').slice(1).map((line) => line.split(/\s+/)[0]);

  test('start, list, pause, resume, stop, wait, download: the everyday jobs', async () => {
    await kubectl('recording', 'start', 'standup', '--type', 'plugin', '--call', 'daily-42', '-n', ns);
    await env.phase(ns, 'standup', 'RECORDING', 60_000);
    await kubectl('recording', 'start', 'other', '--type', 'plugin', '--call', 'weekly-1', '-n', ns);

    assert.deepEqual(names((await kubectl('recording', 'list', '--call', 'daily-42', '-n', ns)).stdout), ['standup']);
    assert.deepEqual(names((await kubectl('recording', 'list', '--type', 'plugin', '-n', ns)).stdout).sort(), ['other', 'standup']);
    assert.match((await kubectl('recording', 'list', '--call', 'daily-42', '-A')).stdout, new RegExp(`^${ns}\\s+standup\\s+RECORDING`, 'm'));

    await kubectl('recording', 'pause', 'standup', '-n', ns);
    await env.phase(ns, 'standup', 'PAUSED', 30_000);
    await kubectl('recording', 'resume', 'standup', '-n', ns);
    await env.phase(ns, 'standup', 'RECORDING', 30_000);
    await assert.rejects(kubectl('recording', 'download', 'standup', '-n', ns), /standup is RECORDING, not UPLOADED/);

    await kubectl('recording', 'stop', 'standup', '-n', ns);
    const waited = await kubectl('recording', 'wait', 'standup', '-n', ns, '--timeout', '120s');
    assert.match(waited.stdout, /recording.recording.dev\/standup condition met/);

    assert.deepEqual(names((await kubectl('recording', 'list', '--call', 'daily-42', '-n', ns)).stdout), [], 'finished recordings are not active');
    assert.match((await kubectl('recording', 'list', '--call', 'daily-42', '--all', '-n', ns)).stdout, /standup\s+UPLOADED/);
    assert.match((await kubectl('get', 'rec', '-n', ns, '--field-selector', 'status.phase=UPLOADED')).stdout, /standup/);

    const downloaded = await kubectl('recording', 'download', 'standup', '-n', ns, '-o', 'standup.bin');
    assert.match(downloaded.stdout, /standup.bin: \d+ bytes, sha256 verified/);
    const file = readFileSync(join(env.cp.dir, 'standup.bin'));
    const status = (await env.phase(ns, 'standup', 'UPLOADED')).status!.output!;
    assert.equal(file.length, status.sizeBytes);
    assert.equal(createHash('sha256').update(file).digest('hex'), status.sha256);

    await kubectl('recording', 'stop', 'other', '-n', ns);
    await env.phase(ns, 'other', 'UPLOADED', 60_000);
  });

  test('mistakes get a clear message and change nothing', async () => {
    await assert.rejects(kubectl('recording', 'stop'), /stop needs the Recording's NAME/);
    await assert.rejects(kubectl('recording', 'start', 'x', '--call', 'c', '-n', ns), /start needs --type CALLTYPE/);
    await assert.rejects(kubectl('recording', 'stop', 'no-such', '-n', ns), /not found/);
    await assert.rejects(kubectl('recording', 'frobnicate'), (err: Error & { stderr?: string; code?: number }) => err.code === 2 && /Usage: kubectl recording/.test(err.stderr ?? ''));
    assert.match((await kubectl('recording', 'help')).stdout, /download NAME/);
  });
});
