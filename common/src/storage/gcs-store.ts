// Google Cloud Storage through the official client (@google-cloud/storage): resumable uploads with the
// client's crc32c check, the sha256 as custom metadata, V4 signed download URLs signed locally with the
// service account's key. Against Google's endpoints (storage.googleapis.com, or a Private Service Connect
// or regional one under googleapis.com) it exchanges the key for access tokens; any other endpoint is an
// emulator and gets no credentials, as emulators expect.
import { Storage, type Bucket } from '@google-cloud/storage';
import { GoogleAuth, JWT, type CredentialBody } from 'google-auth-library';
import { googleStorageEndpoint } from './gcs-key.ts';
import type { ObjectStore, StoreCredentials, StoreEndpoint, StoredObject } from './object-store.ts';

type GcsCredentials = Extract<StoreCredentials, { type: 'gcs' }>;

export class GcsStore implements ObjectStore {
  readonly bucket: string;
  private readonly client: Bucket;

  constructor(endpoint: Extract<StoreEndpoint, { type: 'gcs' }>, credentials: GcsCredentials) {
    this.bucket = endpoint.bucket;
    const url = endpoint.endpoint.replace(/\/+$/, '');
    const storage = new Storage({
      ...(url !== googleStorageEndpoint ? { apiEndpoint: url, useAuthWithCustomEndpoint: isGoogleEndpoint(url) } : {}),
      projectId: credentials.projectId,
      authClient: new ServiceAccountAuth(credentials),
      // Callers retry over their own windows; the client's own retries would only stretch each attempt.
      retryOptions: { autoRetry: true, maxRetries: 1, totalTimeout: 120 },
    });
    this.client = storage.bucket(endpoint.bucket);
  }

  location(key: string): string {
    return `gcs://${this.bucket}/${key}`;
  }

  async put(key: string, path: string, contentType: string, sha256: string): Promise<void> {
    await this.client.upload(path, {
      destination: key,
      resumable: true,
      validation: 'crc32c',
      contentType,
      metadata: { metadata: { sha256 } },
    });
  }

  async stat(key: string): Promise<StoredObject> {
    const [metadata] = await this.client.file(key).getMetadata();
    const sha256 = metadata.metadata?.sha256;
    return { size: Number(metadata.size ?? -1), sha256: typeof sha256 === 'string' ? sha256 : undefined };
  }

  async signedGetUrl(key: string, seconds: number): Promise<string> {
    const [url] = await this.client.file(key).getSignedUrl({ version: 'v4', action: 'read', expires: Date.now() + seconds * 1000 });
    return url;
  }

  async remove(key: string): Promise<void> {
    await this.client.file(key).delete({ ignoreNotFound: true });
  }

  async checkReachable(): Promise<void> {
    const [exists] = await this.client.exists();
    if (!exists) throw new Error('it does not exist');
  }
}

/** https://<anything>.googleapis.com: Google's own, which takes access tokens. */
function isGoogleEndpoint(url: string): boolean {
  return /^https:\/\/([a-z0-9-]+\.)*googleapis\.com$/.test(url);
}

/**
 * A service account key, given as an object rather than through GoogleAuth's deprecated `credentials`
 * option (which would print a warning into our JSON logs each time). The client's URL signer asks the auth
 * for the email and private key and signs locally; requests get tokens from the JWT client.
 */
class ServiceAccountAuth extends GoogleAuth {
  private readonly key: GcsCredentials;

  constructor(key: GcsCredentials) {
    super({ authClient: new JWT({ email: key.clientEmail, key: key.privateKey, scopes: ['https://www.googleapis.com/auth/devstorage.read_write'] }), projectId: key.projectId });
    this.key = key;
  }

  override getCredentials(): Promise<CredentialBody> {
    return Promise.resolve({ client_email: this.key.clientEmail, private_key: this.key.privateKey });
  }
}
