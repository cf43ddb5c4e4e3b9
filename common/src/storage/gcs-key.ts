// A Google service account JSON key, checked before use so a wrong Secret is named at once instead of
// failing later as an opaque signing or token error. Kept apart from the store so reading a key does not
// load the Google client.
import { createPrivateKey } from 'node:crypto';
import type { StoreCredentials } from './object-store.ts';

/** Google's endpoint: requests there are authorized with access tokens; any other endpoint is an emulator. */
export const googleStorageEndpoint = 'https://storage.googleapis.com';

/**
 * The parts of a service account JSON key the store uses. Throws naming what is wrong, never quoting the
 * key: a file that is not JSON, another kind of credential, a missing field, or a private key that is not
 * a PEM key.
 */
export function parseServiceAccountKey(json: string): Extract<StoreCredentials, { type: 'gcs' }> {
  let key: { type?: unknown; client_email?: unknown; private_key?: unknown; project_id?: unknown };
  try {
    key = JSON.parse(json) as typeof key;
  } catch {
    throw new Error('is not JSON (expected the service account key file, as downloaded from the console)');
  }
  if (key.type !== 'service_account') throw new Error(`has type ${JSON.stringify(key.type ?? null).slice(0, 40)}, but must be a service account key ("type": "service_account")`);
  if (typeof key.client_email !== 'string' || !key.client_email.includes('@')) throw new Error('has no client_email');
  if (typeof key.private_key !== 'string') throw new Error('has no private_key');
  try {
    createPrivateKey(key.private_key);
  } catch {
    throw new Error(`private_key of ${key.client_email} is not a PEM private key`);
  }
  return { type: 'gcs', clientEmail: key.client_email, privateKey: key.private_key, projectId: typeof key.project_id === 'string' ? key.project_id : undefined };
}
