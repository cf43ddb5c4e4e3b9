// The store for an endpoint and its credentials. Only the chosen backend's client library is loaded:
// each SDK costs start-up time in the recorder, which needs exactly one.
import type { ObjectStore, StoreCredentials, StoreEndpoint } from './object-store.ts';

export async function openObjectStore(endpoint: StoreEndpoint, credentials: StoreCredentials): Promise<ObjectStore> {
  if (endpoint.type === 's3' && credentials.type === 's3') {
    const { S3Store } = await import('./s3-store.ts');
    return new S3Store(endpoint, credentials);
  }
  if (endpoint.type === 'azure' && credentials.type === 'azure') {
    const { AzureStore } = await import('./azure-store.ts');
    return new AzureStore(endpoint, credentials);
  }
  if (endpoint.type === 'gcs' && credentials.type === 'gcs') {
    const { GcsStore } = await import('./gcs-store.ts');
    return new GcsStore(endpoint, credentials);
  }
  if (endpoint.type === 'sftp' && credentials.type === 'sftp') {
    const { SftpStore } = await import('./sftp-store.ts');
    return new SftpStore(endpoint, credentials);
  }
  throw new Error(`storage type ${endpoint.type} got ${credentials.type} credentials`);
}
