// Azure Blob Storage: block blobs uploaded in blocks (the SDK's uploadFile: 4 MiB blocks, 4 at a time,
// committed with one block list, so a broken upload leaves no partial blob), the sha256 as blob metadata,
// SAS URLs for downloads. Works against Azure and Azurite alike.
import { BlobSASPermissions, ContainerClient, StorageSharedKeyCredential, generateBlobSASQueryParameters } from '@azure/storage-blob';
import type { ObjectStore, StoreCredentials, StoreEndpoint, StoredObject } from './object-store.ts';

export class AzureStore implements ObjectStore {
  private readonly container: ContainerClient;
  private readonly sharedKey?: StorageSharedKeyCredential;
  readonly bucket: string;

  constructor(endpoint: Extract<StoreEndpoint, { type: 'azure' }>, credentials: Extract<StoreCredentials, { type: 'azure' }>) {
    this.bucket = endpoint.bucket;
    const containerUrl = `${endpoint.endpoint.replace(/\/+$/, '')}/${encodeURIComponent(endpoint.bucket)}`;
    if ('accountKey' in credentials) {
      this.sharedKey = new StorageSharedKeyCredential(credentials.accountName, credentials.accountKey);
      this.container = new ContainerClient(containerUrl, this.sharedKey, retryOptions);
    } else {
      this.container = new ContainerClient(`${containerUrl}?${credentials.sasToken.replace(/^\?/, '')}`, undefined, retryOptions);
    }
  }

  location(key: string): string {
    return `azure://${this.bucket}/${key}`;
  }

  async put(key: string, path: string, contentType: string, sha256: string): Promise<void> {
    await this.container.getBlockBlobClient(key).uploadFile(path, {
      blockSize: 4 * 1024 * 1024,
      concurrency: 4,
      blobHTTPHeaders: { blobContentType: contentType },
      metadata: { sha256 },
    });
  }

  async stat(key: string): Promise<StoredObject> {
    const properties = await this.container.getBlockBlobClient(key).getProperties();
    return { size: properties.contentLength ?? -1, sha256: properties.metadata?.sha256 };
  }

  signedGetUrl(key: string, seconds: number): Promise<string> {
    if (!this.sharedKey) return Promise.reject(new Error('signing a download URL needs the storage account key (accountKey or a connection string with it), not a SAS token'));
    const blob = this.container.getBlockBlobClient(key);
    const sas = generateBlobSASQueryParameters({ containerName: this.bucket, blobName: key, permissions: BlobSASPermissions.parse('r'), startsOn: new Date(Date.now() - 5 * 60_000), expiresOn: new Date(Date.now() + seconds * 1000) }, this.sharedKey);
    return Promise.resolve(`${blob.url}?${sas.toString()}`);
  }

  async remove(key: string): Promise<void> {
    await this.container.getBlockBlobClient(key).deleteIfExists();
  }

  async checkReachable(): Promise<void> {
    if (this.sharedKey) {
      if (!(await this.container.exists())) throw new Error('it does not exist');
      return;
    }
    // A SAS token may not allow reading the container's properties; listing one blob proves access.
    await this.container.listBlobsFlat().byPage({ maxPageSize: 1 }).next();
  }

  /**
   * A SAS for one recorder: create, write and read (to confirm) blobs in the container, nothing else (no
   * list, no delete), until `seconds` from now. Azure has no SAS for a key prefix outside hierarchical
   * namespaces, so this is scoped to the container, not to the recording's own blobs.
   */
  containerSas(seconds: number): string {
    if (!this.sharedKey) throw new Error('issuing a SAS needs the storage account key');
    return generateBlobSASQueryParameters({ containerName: this.bucket, permissions: BlobSASPermissions.parse('rcw'), startsOn: new Date(Date.now() - 5 * 60_000), expiresOn: new Date(Date.now() + seconds * 1000) }, this.sharedKey).toString();
  }
}

// The SDK retries each request itself; keep it short, since callers have their own retry windows.
const retryOptions = { retryOptions: { maxTries: 2, tryTimeoutInMs: 120_000 } };

/**
 * An Azure connection string (`AccountName=…;AccountKey=…;BlobEndpoint=…` or `…;SharedAccessSignature=…`)
 * as credentials and, when it names one, the blob endpoint.
 */
export function parseConnectionString(value: string): { credentials: Extract<StoreCredentials, { type: 'azure' }>; blobEndpoint?: string } {
  const parts = new Map<string, string>();
  for (const part of value.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) parts.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  const accountName = parts.get('AccountName');
  const accountKey = parts.get('AccountKey');
  const sas = parts.get('SharedAccessSignature');
  const blobEndpoint = parts.get('BlobEndpoint') ?? (accountName ? `${parts.get('DefaultEndpointsProtocol') ?? 'https'}://${accountName}.blob.${parts.get('EndpointSuffix') ?? 'core.windows.net'}` : undefined);
  if (accountName && accountKey) return { credentials: { type: 'azure', accountName, accountKey }, blobEndpoint };
  if (sas) return { credentials: { type: 'azure', sasToken: sas }, blobEndpoint };
  throw new Error('the connection string has neither AccountName with AccountKey nor SharedAccessSignature');
}
