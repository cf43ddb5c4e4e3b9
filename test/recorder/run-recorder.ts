// Runs the recorder's real entry point as a process, the way the runner (kubelet stand-in) will:
// RECORDER_CONFIG in the environment, credentials as files in a secrets directory, a termination-message
// file (or, as a standby recorder, RECORDER_STANDBY and its key, the recording assigned later). Gives the
// test the control endpoint and the final report.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { spawnBoundToParent } from '@recording-operator/common/process.ts';
import type { RecorderConfigInput } from '@recording-operator/common/protocol/recorder-config.ts';
import { newStandbyKey, sealAssignment, standbyKeyFile, type StandbyConfigInput } from '@recording-operator/common/protocol/standby.ts';
import { recorderSecretFiles } from '@recording-operator/common/protocol/recorder-config.ts';
import { storageSecretFiles } from '@recording-operator/common/protocol/storage-secret-files.ts';
import type { StoreCredentials } from '@recording-operator/common/storage/object-store.ts';
import type { FinalReport, RecorderStatus } from '@recording-operator/common/protocol/recorder-report.ts';
import { freePort } from '../harness/processes.ts';
import { repoRoot } from '../harness/paths.ts';
import { makeRunDir } from '../harness/run-dir.ts';
import type { MinioServer } from '../harness/minio.ts';
import type { ChildProcess } from 'node:child_process';

export interface RunningRecorder {
  child: ChildProcess;
  dir: string;
  workDir: string;
  token: string;
  controlUrl: string;
  logFile: string;
  status(): Promise<RecorderStatus>;
  call(path: '/pause' | '/resume' | '/stop' | '/max-duration', body?: unknown): Promise<RecorderStatus>;
  waitFor(phase: RecorderStatus['phase'], timeoutMs?: number): Promise<RecorderStatus>;
  /** A standby recorder's sealed assignment of its recording (POST /assign); undefined for others. */
  assign?(config?: RecorderConfigInput): Promise<Response>;
  /** The configuration assign() sends by default. */
  assignedConfig?: RecorderConfigInput;
  /** Waits for the process to exit and returns the termination message and the end of its log. */
  finished(timeoutMs?: number): Promise<{ code: number | null; report: FinalReport; log: string }>;
}

type ConfigOverrides = Omit<Partial<RecorderConfigInput>, 'storage'> & { storage?: Partial<RecorderConfigInput['storage']> };

/**
 * Starts the recorder with `overrides`; its storage is the MinIO bucket unless overrides.storage is a
 * whole storage config of another type, whose credentials then come in extraSecrets.storage (written as
 * the operator writes them).
 */
export async function startRecorder(minio: MinioServer, bucket: string, overrides: ConfigOverrides, extraSecrets: { rtmpStreamKey?: string; storage?: StoreCredentials } = {}, launch: { standby?: boolean } = {}): Promise<RunningRecorder> {
  const dir = makeRunDir('recorder');
  const secretsDir = join(dir, 'secrets');
  const workDir = overrides.workDir ?? join(dir, 'work');
  mkdirSync(secretsDir);
  const token = randomBytes(24).toString('hex');
  const secretFiles: Record<string, string> = {
    [recorderSecretFiles.controlToken]: token,
    ...storageSecretFiles(extraSecrets.storage ?? { type: 's3', accessKey: minio.accessKey, secretKey: minio.secretKey }),
    ...(extraSecrets.rtmpStreamKey ? { [recorderSecretFiles.rtmpStreamKey]: extraSecrets.rtmpStreamKey } : {}),
  };
  // A standby recorder's Secret holds only its sealing key; the recording's files come in the assignment.
  const standbyKey = launch.standby ? newStandbyKey() : undefined;
  for (const [file, value] of Object.entries(standbyKey ? { [standbyKeyFile]: standbyKey } : secretFiles)) writeFileSync(join(secretsDir, file), value);
  const port = await freePort();
  const { storage, ...rest } = overrides;
  const config: RecorderConfigInput = {
    recordingId: 'test/recording',
    url: 'http://127.0.0.1:1/call/x',
    output: { container: 'mp4', video: { codec: 'H264', width: 1280, height: 720, fps: 30 }, audio: { codec: 'AAC', channels: 2 } },
    maxDurationSeconds: 3600,
    ...rest,
    storage: storage?.type && storage.type !== 's3'
      ? ({ retryWindowSeconds: 60, ...storage } as RecorderConfigInput['storage'])
      : { type: 's3', endpoint: minio.endpoint, bucket, forcePathStyle: true, objectKey: `test/${Date.now()}`, retryWindowSeconds: 60, ...(storage as Partial<Extract<RecorderConfigInput['storage'], { type: 's3' }>>) },
    control: { host: '127.0.0.1', port },
    workDir,
    terminationMessagePath: join(dir, 'termination-log'),
    secretsDir,
  };
  const logFile = join(dir, 'recorder.log');
  const log = createWriteStream(logFile);
  // RECORDER_NODE_ARGS (JSON) runs another program, such as the image's JavaScript build (the benchmarks).
  const program = process.env.RECORDER_NODE_ARGS ? (JSON.parse(process.env.RECORDER_NODE_ARGS) as string[]) : [join(repoRoot, 'recorder-image', 'src', 'main.ts')];
  const standby: StandbyConfigInput = { video: config.output.video && { width: config.output.video.width, height: config.output.video.height, fps: config.output.video.fps }, control: config.control, workDir, terminationMessagePath: config.terminationMessagePath, secretsDir };
  const child = spawnBoundToParent(process.execPath, program, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(standbyKey ? { RECORDER_STANDBY: JSON.stringify(standby) } : { RECORDER_CONFIG: JSON.stringify(config) }), LOG_LEVEL: 'debug' },
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const controlUrl = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${token}` };
  const status = async () => (await (await fetch(`${controlUrl}/status`, { headers })).json()) as RecorderStatus;
  const tail = () => readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
  return {
    child,
    dir,
    workDir,
    token,
    controlUrl,
    logFile,
    status,
    async call(path, body) {
      const res = await fetch(`${controlUrl}${path}`, { method: 'POST', headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as RecorderStatus;
    },
    async waitFor(phase, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`recorder exited (${child.exitCode}) before ${phase}:\n${tail()}`);
        const s = await status().catch(() => undefined);
        if (s?.phase === phase) return s;
        if (Date.now() > deadline) throw new Error(`recorder not ${phase} after ${timeoutMs} ms (is ${s?.phase}):\n${tail()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    assignedConfig: standbyKey ? config : undefined,
    assign: standbyKey ? (assigned = config) => fetch(`${controlUrl}/assign`, { method: 'POST', body: sealAssignment(standbyKey, { config: assigned, secretFiles }) }) : undefined,
    async finished(timeoutMs = 60_000) {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const [code] = await exited;
      clearTimeout(timer);
      let report: FinalReport;
      try {
        report = JSON.parse(readFileSync(config.terminationMessagePath!, 'utf8')) as FinalReport;
      } catch {
        throw new Error(`recorder exited (${code}) without a termination message:\n${tail()}`);
      }
      return { code, report, log: tail() };
    },
  };
}
