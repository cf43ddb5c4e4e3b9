// Uploads a finished file to S3-compatible storage and confirms it: retried with exponential backoff
// (0.5 s doubling to 30 s) until the configured window closes; the object's size and the sha256 stored
// with it must match the local file before the upload counts. The local file is never removed here.
import { stat } from 'node:fs/promises';
import { Client } from 'minio';
import type { Logger } from 'pino';
import type { RecorderConfig } from '@recording-operator/common/protocol/recorder-config.ts';
import type { RecorderSecrets } from './config.ts';

export interface UploadTarget {
  path: string;
  key: string;
  contentType: string;
  sha256: string;
}

export function storageClient(storage: RecorderConfig['storage'], secrets: RecorderSecrets['storage']): Client {
  const endpoint = new URL(storage.endpoint);
  const useSSL = endpoint.protocol === 'https:';
  return new Client({
    endPoint: endpoint.hostname,
    port: endpoint.port ? Number(endpoint.port) : useSSL ? 443 : 80,
    useSSL,
    region: storage.region,
    pathStyle: storage.forcePathStyle,
    accessKey: secrets.accessKey,
    secretKey: secrets.secretKey,
    sessionToken: secrets.sessionToken,
  });
}

export class UploadError extends Error {
  override name = 'UploadError';
}

export async function uploadConfirmed(
  client: Client,
  bucket: string,
  target: UploadTarget,
  retryWindowMs: number,
  log: Logger,
  onAttempt?: (attempt: number, error?: string) => void,
): Promise<number> {
  const { size } = await stat(target.path);
  const deadline = Date.now() + retryWindowMs;
  let delay = 500;
  for (let attempt = 1; ; attempt++) {
    try {
      await client.fPutObject(bucket, target.key, target.path, { 'Content-Type': target.contentType, 'X-Amz-Meta-Sha256': target.sha256 });
      const stored = await client.statObject(bucket, target.key);
      const storedSha = stored.metaData.sha256 as string | undefined;
      if (stored.size !== size) throw new Error(`stored size ${stored.size} differs from local size ${size}`);
      if (storedSha !== target.sha256) throw new Error(`stored sha256 ${storedSha} differs from local ${target.sha256}`);
      onAttempt?.(attempt);
      log.info({ key: target.key, size, attempt }, 'upload confirmed');
      return size;
    } catch (err) {
      const message = (err as Error).message;
      onAttempt?.(attempt, message);
      if (Date.now() + delay > deadline) {
        throw new UploadError(`upload of ${target.key} to bucket ${bucket} failed after ${attempt} attempts over ${Math.round(retryWindowMs / 1000)} s: ${message}`);
      }
      log.warn({ key: target.key, attempt, retryInMs: delay, error: message }, 'upload failed, retrying');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  }
}
