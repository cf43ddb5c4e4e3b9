// What the recorder benchmarks share: the recorder as its image runs it (the JavaScript build, with the
// image's Node settings), MinIO with a 'bench' bucket, the demo call page and a download directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'minio';
import { startCallPageServer, type CallPageServer } from '../../examples/call-page/server.ts';
import { startMinio, type MinioServer } from '../harness/minio.ts';
import { repoRoot } from '../harness/paths.ts';

export interface RecorderBench {
  minio: MinioServer;
  s3: Client;
  page: CallPageServer;
  downloads: string;
  stop(): Promise<void>;
}

export async function startRecorderBench(): Promise<RecorderBench> {
  const build = join(repoRoot, '.tmp', 'recorder-build');
  execFileSync(process.execPath, ['--no-warnings', join(repoRoot, 'scripts', 'build-js.ts'), 'recorder-image', build]);
  // run-recorder.ts runs this program instead of the sources.
  process.env.RECORDER_NODE_ARGS = JSON.stringify(['--max-semi-space-size=1', join(build, 'recorder-image', 'src', 'main.js')]);
  const minio = await startMinio();
  const s3 = new Client({ endPoint: minio.host, port: minio.port, useSSL: false, accessKey: minio.accessKey, secretKey: minio.secretKey });
  await s3.makeBucket('bench');
  const page = await startCallPageServer();
  return {
    minio,
    s3,
    page,
    downloads: mkdtempSync(join(tmpdir(), 'bench-')),
    async stop() {
      await page.close();
      await minio.destroy();
    },
  };
}
