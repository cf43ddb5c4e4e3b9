// A real MinIO server on loopback with its own data directory and random root credentials.
// stop()/start() keep the port and data, so tests can take storage away mid-upload and bring it back.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'minio';
import { minioBinary } from './assets.ts';
import { freePort, startProcess, waitUntil } from './processes.ts';
import { restartable, type Restartable } from './restartable.ts';
import { makeRunDir } from './run-dir.ts';

export interface MinioServer extends Restartable {
  endpoint: string;
  host: string;
  port: number;
  accessKey: string;
  secretKey: string;
  dataDir: string;
}

export interface MinioOptions {
  port?: number;
  /** 127.0.0.1 unless Pods of a real node must reach it (test/harness/kubelet-node.ts). */
  host?: string;
  dataDir?: string;
  accessKey?: string;
  secretKey?: string;
}

export async function startMinio(options: MinioOptions = {}): Promise<MinioServer> {
  const dir = makeRunDir('minio');
  const dataDir = options.dataDir ?? join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const port = options.port ?? (await freePort());
  const consolePort = await freePort();
  const accessKey = options.accessKey ?? `test${randomBytes(6).toString('hex')}`;
  const secretKey = options.secretKey ?? randomBytes(20).toString('hex');
  const host = options.host ?? '127.0.0.1';
  const endpoint = `http://${host}:${port}`;
  const server = await restartable(dir, async () => {
    const proc = startProcess(
      'minio',
      minioBinary(),
      ['server', dataDir, '--address', `${host}:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'],
      join(dir, 'minio.log'),
      {
        env: {
          ...process.env,
          MINIO_ROOT_USER: accessKey,
          MINIO_ROOT_PASSWORD: secretKey,
          MINIO_BROWSER: 'off',
          MINIO_UPDATE: 'off',
          MINIO_CI_CD: '1',
        },
      },
    );
    await waitUntil('MinIO /minio/health/ready', async () => (await fetch(`${endpoint}/minio/health/ready`)).ok, proc, 60_000);
    // Ready is not yet serving: a CI run's first request right after it (makeBucket) was answered 503
    // (server not initialized) twice. An authenticated listing goes through once MinIO really serves.
    const client = new Client({ endPoint: host, port, useSSL: false, accessKey, secretKey });
    await waitUntil('MinIO answering an authenticated request', async () => Array.isArray(await client.listBuckets()), proc, 60_000);
    return proc;
  });
  return { endpoint, host, port, accessKey, secretKey, dataDir, ...server };
}
