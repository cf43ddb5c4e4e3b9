// S3-compatible storage (MinIO) through the same suite every backend passes: the recorder gets STS
// credentials for its own objects (never the Secret's keys), the download URL is presigned, and a wrong
// secret key is named (SignatureDoesNotMatch) without appearing anywhere.
import assert from 'node:assert/strict';
import { Client } from 'minio';
import { recorderSecretFiles } from '@recording-operator/common/protocol/recorder-config.ts';
import { startMinio } from '../harness/minio.ts';
import { describeStorageBackend } from './storage-backend-suite.ts';

const bucket = 'recordings';

describeStorageBackend('S3-compatible storage (MinIO)', 's3', async () => {
  const minio = await startMinio();
  const s3 = new Client({ endPoint: minio.host, port: minio.port, useSSL: false, accessKey: minio.accessKey, secretKey: minio.secretKey });
  await s3.makeBucket(bucket);
  const wrongSecret = `${minio.secretKey.slice(0, -6)}000000`;
  return {
    ...minio,
    storage: { type: 's3', endpoint: minio.endpoint, bucket, forcePathStyle: true },
    secret: { accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey },
    async read(key) {
      const stream = await s3.getObject(bucket, key).catch((err: { code?: string }) => {
        if (err.code === 'NoSuchKey') return undefined;
        throw err;
      });
      if (!stream) return undefined;
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    checkRecorderSecret(data) {
      assert.ok(data[recorderSecretFiles.storageSessionToken], 'STS credentials');
      assert.notEqual(data[recorderSecretFiles.storageAccessKeyId], minio.accessKey, 'not the Secret keys');
    },
    reachable: /bucket recordings is reachable/,
    downloadUrls: true,
    wrongCredentials: {
      secret: { accessKeyId: minio.accessKey, secretAccessKey: wrongSecret },
      // A HEAD has no body to say more than AccessDenied.
      refused: /bucket recordings: AccessDenied: Valid and authorized credentials required/,
      recording: { code: 'UPLOAD_FAILED', message: /upload of s3:\/\/recordings\/wrong\/\S+ failed after \d+ attempts over 100 s: .*(SignatureDoesNotMatch|AccessDenied)/ },
    },
    secrets: [minio.secretKey, wrongSecret],
    secretPatterns: [/X-Amz-Signature=[0-9a-f]{20,}/],
  };
});
