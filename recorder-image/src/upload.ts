// Uploads a finished file to the recording's store and confirms it: retried with exponential backoff
// (0.5 s doubling to 30 s) until the configured window closes; the object's size and the sha256 stored
// with it must match the local file before the upload counts. The local file is never removed here.
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { storageErrorMessage } from '@recording-operator/common/storage/errors.ts';
import type { ObjectStore } from '@recording-operator/common/storage/object-store.ts';

export interface UploadTarget {
  path: string;
  key: string;
  contentType: string;
  sha256: string;
}

export class UploadError extends Error {
  override name = 'UploadError';
}

export async function uploadConfirmed(
  store: ObjectStore,
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
      await store.put(target.key, target.path, target.contentType, target.sha256);
      const stored = await store.stat(target.key);
      if (stored.size !== size) throw new Error(`stored size ${stored.size} differs from local size ${size}`);
      if (stored.sha256 !== target.sha256) throw new Error(`stored sha256 ${stored.sha256} differs from local ${target.sha256}`);
      onAttempt?.(attempt);
      log.info({ key: target.key, size, attempt }, 'upload confirmed');
      return size;
    } catch (err) {
      const message = storageErrorMessage(err);
      onAttempt?.(attempt, message);
      if (Date.now() + delay > deadline) {
        throw new UploadError(`upload of ${store.location(target.key)} failed after ${attempt} attempts over ${Math.round(retryWindowMs / 1000)} s: ${message}`);
      }
      log.warn({ key: target.key, attempt, retryInMs: delay, error: message }, 'upload failed, retrying');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  }
}
