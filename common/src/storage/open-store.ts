// The store for an endpoint and its credentials.
import { AzureStore } from './azure-store.ts';
import type { ObjectStore, StoreCredentials, StoreEndpoint } from './object-store.ts';
import { S3Store } from './s3-store.ts';

export function openObjectStore(endpoint: StoreEndpoint, credentials: StoreCredentials): ObjectStore {
  if (endpoint.type !== credentials.type) throw new Error(`storage type ${endpoint.type} got ${credentials.type} credentials`);
  if (endpoint.type === 's3' && credentials.type === 's3') return new S3Store(endpoint, credentials);
  if (endpoint.type === 'azure' && credentials.type === 'azure') return new AzureStore(endpoint, credentials);
  throw new Error(`storage type ${(endpoint as { type: string }).type} is not supported`);
}
