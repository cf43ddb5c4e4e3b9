// S3-compatible storage (AWS S3, MinIO, R2, Spaces, GCS interoperability) through minio-js.
import { Client } from 'minio';
import type { ObjectStore, StoreCredentials, StoreEndpoint, StoredObject } from './object-store.ts';

export class S3Store implements ObjectStore {
  private readonly client: Client;
  readonly bucket: string;

  constructor(endpoint: Extract<StoreEndpoint, { type: 's3' }>, credentials: Extract<StoreCredentials, { type: 's3' }>) {
    const url = new URL(endpoint.endpoint);
    const useSSL = url.protocol === 'https:';
    this.bucket = endpoint.bucket;
    this.client = new Client({
      endPoint: url.hostname,
      port: url.port ? Number(url.port) : useSSL ? 443 : 80,
      useSSL,
      region: endpoint.region,
      pathStyle: endpoint.forcePathStyle,
      accessKey: credentials.accessKey,
      secretKey: credentials.secretKey,
      sessionToken: credentials.sessionToken,
    });
  }

  location(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  async put(key: string, path: string, contentType: string, sha256: string): Promise<void> {
    await this.client.fPutObject(this.bucket, key, path, { 'Content-Type': contentType, 'X-Amz-Meta-Sha256': sha256 });
  }

  async stat(key: string): Promise<StoredObject> {
    const stored = await this.client.statObject(this.bucket, key);
    return { size: stored.size, sha256: stored.metaData.sha256 as string | undefined };
  }

  signedGetUrl(key: string, seconds: number): Promise<string> {
    return this.client.presignedGetObject(this.bucket, key, seconds);
  }

  async remove(key: string): Promise<void> {
    await this.client.removeObject(this.bucket, key);
  }

  async checkReachable(): Promise<void> {
    if (!(await this.client.bucketExists(this.bucket))) throw new Error('it does not exist');
  }
}
