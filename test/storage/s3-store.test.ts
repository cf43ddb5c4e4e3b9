// S3Store against a real MinIO: a file streamed in one PUT signed with its sha256, and a large one in parts.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from 'minio';
import { S3Store } from '@recording-operator/common/storage/s3-store.ts';
import { startMinio, type MinioServer } from '../harness/minio.ts';

let minio: MinioServer;
let store: S3Store;
const dir = mkdtempSync(join(tmpdir(), 's3-store-'));

before(async () => {
  minio = await startMinio();
  await new Client({ endPoint: minio.host, port: minio.port, useSSL: false, accessKey: minio.accessKey, secretKey: minio.secretKey }).makeBucket('store-test');
  store = new S3Store({ type: 's3', endpoint: minio.endpoint, region: 'us-east-1', bucket: 'store-test', forcePathStyle: true }, { type: 's3', accessKey: minio.accessKey, secretKey: minio.secretKey });
});
after(() => minio.destroy());

function fileOf(megabytes: number): { path: string; sha256: string; size: number } {
  const data = randomBytes(megabytes * 1024 * 1024);
  const path = join(dir, `${megabytes}.bin`);
  writeFileSync(path, data);
  return { path, sha256: createHash('sha256').update(data).digest('hex'), size: data.length };
}

test('a file goes up in one streamed PUT with its sha256, and is stored with it', async () => {
  const file = fileOf(12);
  await store.put('one/put.mp4', file.path, 'video/mp4', file.sha256);
  assert.deepEqual(await store.stat('one/put.mp4'), { size: file.size, sha256: file.sha256 });
});

test('a sha256 that is not the file’s is refused by the store (it signs the request), and nothing is stored', async () => {
  const file = fileOf(1);
  await assert.rejects(store.put('one/wrong.mp4', file.path, 'video/mp4', 'a'.repeat(64)), /x-amz-content-sha256|SHA256|sha256/i);
  await assert.rejects(store.stat('one/wrong.mp4'), /Not Found|NoSuchKey|does not exist/i);
});

test('a file larger than one streamed PUT takes goes up in parts, whole', async () => {
  const file = fileOf(70);
  await store.put('large/parts.mp4', file.path, 'video/mp4', file.sha256);
  assert.deepEqual(await store.stat('large/parts.mp4'), { size: file.size, sha256: file.sha256 });
});
