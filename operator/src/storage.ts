// The operator's own use of a recording's storage: reading its credentials, checking that the bucket
// (container) is reachable, issuing each recorder credentials limited to what it needs, signing download
// URLs and removing files for reclaimPolicy Delete. Credentials come from the referenced Secret and are
// never logged or copied into a status.
import { AssumeRoleProvider } from 'minio/dist/esm/AssumeRoleProvider.mjs';
import type { V1Secret } from '@kubernetes/client-node';
import type { StorageSpec } from '@recording-operator/common/api/generated/types.ts';
import { AzureStore, parseConnectionString } from '@recording-operator/common/storage/azure-store.ts';
import type { ObjectStore, StoreCredentials, StoreEndpoint } from '@recording-operator/common/storage/object-store.ts';
import { openObjectStore } from '@recording-operator/common/storage/open-store.ts';
import { apiPath, type KubeApi } from './runtime/kube-api.ts';

/** The Secret's credentials and, for azure, the blob endpoint a connection string may name. */
export interface StorageAccount {
  credentials: StoreCredentials;
  endpoint: StoreEndpoint;
}

export class StorageAccess {
  private readonly api: KubeApi;
  private readonly operatorNamespace: string;

  constructor(api: KubeApi, operatorNamespace: string) {
    this.api = api;
    this.operatorNamespace = operatorNamespace;
  }

  /** Reads the credentials a storage spec refers to; `ownNamespace` for a Recording's own storage. */
  async account(storage: StorageSpec, ownNamespace?: string): Promise<StorageAccount> {
    if (!storage.secretRef) throw new Error('storage.secretRef is not set; the operator needs credentials to sign URLs and check the bucket');
    const namespace = ownNamespace ?? storage.secretRef.namespace ?? this.operatorNamespace;
    const where = `storage Secret ${namespace}/${storage.secretRef.name}`;
    const secret = await this.api.get<V1Secret>(apiPath.core('secrets', namespace, storage.secretRef.name)).catch((err: { code?: number }) => {
      throw new Error(err.code === 404 ? `${where} does not exist` : `${where} cannot be read (HTTP ${err.code ?? '?'})`);
    });
    const read = (key: string) => (secret.data?.[key] ? Buffer.from(secret.data[key], 'base64').toString('utf8').trim() : undefined);
    const type = storage.type ?? 's3';
    if (type === 's3') {
      const accessKey = read('accessKeyId');
      const secretKey = read('secretAccessKey');
      if (!accessKey || !secretKey) throw new Error(`${where} must have the keys accessKeyId and secretAccessKey`);
      const endpoint = storage.endpoint?.replace(/\/+$/, '') ?? `https://s3.${storage.region ?? 'us-east-1'}.amazonaws.com`;
      return {
        credentials: { type: 's3', accessKey, secretKey, sessionToken: read('sessionToken') },
        endpoint: { type: 's3', endpoint, region: storage.region ?? 'us-east-1', bucket: storage.bucket!, forcePathStyle: storage.forcePathStyle ?? false },
      };
    }
    if (type === 'azure') {
      let credentials: Extract<StoreCredentials, { type: 'azure' }>;
      let blobEndpoint: string | undefined;
      const connectionString = read('connectionString');
      const accountName = read('accountName');
      const accountKey = read('accountKey');
      const sasToken = read('sasToken');
      if (connectionString) {
        try {
          ({ credentials, blobEndpoint } = parseConnectionString(connectionString));
        } catch (err) {
          throw new Error(`${where}: connectionString: ${(err as Error).message}`, { cause: err });
        }
      } else if (accountName && accountKey) {
        credentials = { type: 'azure', accountName, accountKey };
      } else if (sasToken) {
        credentials = { type: 'azure', sasToken };
      } else {
        throw new Error(`${where} must have connectionString, or accountName and accountKey, or sasToken (with storage.endpoint)`);
      }
      const name = 'accountName' in credentials ? credentials.accountName : accountName;
      const endpoint = storage.endpoint?.replace(/\/+$/, '') ?? blobEndpoint ?? (name ? `https://${name}.blob.core.windows.net` : undefined);
      if (!endpoint) throw new Error(`storage.endpoint is required with a sasToken in ${where} (the blob service URL, https://<account>.blob.core.windows.net)`);
      return { credentials, endpoint: { type: 'azure', endpoint, bucket: storage.bucket! } };
    }
    throw new Error(`storage type ${type} is not supported yet; use s3 (AWS, MinIO, R2, Spaces, GCS interoperability) or azure`);
  }

  /** The store itself, with the Secret's credentials. */
  async store(storage: StorageSpec, ownNamespace?: string): Promise<ObjectStore> {
    const { credentials, endpoint } = await this.account(storage, ownNamespace);
    return openObjectStore(endpoint, credentials);
  }

  /**
   * Credentials for one recorder, limited as far as the store allows: on S3-compatible stores with an
   * endpoint (MinIO, Ceph RGW, …), temporary keys from STS AssumeRole with a session policy that may only
   * write and read that recording's objects (`<objectKey>.*`); on Azure, a SAS for the container that may
   * create, write and read blobs (not list or delete), expiring with the recording. Otherwise the Secret's
   * own keys, with the reason. A recorder Pod, its Secret or its node can then leak little, and only
   * until the credentials expire.
   */
  async recorderCredentials(storage: StorageSpec, account: StorageAccount, target: { bucket: string; objectKeyBase: string; lifetimeSeconds: number }): Promise<{ credentials: StoreCredentials; scoped: boolean; reason?: string }> {
    const { credentials: base, endpoint } = account;
    if (base.type === 'azure' || endpoint.type === 'azure') {
      if (base.type !== 'azure' || endpoint.type !== 'azure') throw new Error('azure storage needs azure credentials');
      if (!('accountKey' in base)) return { credentials: base, scoped: false, reason: 'the storage Secret holds a SAS token, not the account key that issues a narrower one' };
      const sasToken = new AzureStore(endpoint, base).containerSas(target.lifetimeSeconds);
      return { credentials: { type: 'azure', sasToken }, scoped: true };
    }
    if (!storage.endpoint) return { credentials: base, scoped: false, reason: 'AWS S3 issues scoped credentials only for a role to assume, which storage does not name yet' };
    if (base.sessionToken) return { credentials: base, scoped: false, reason: 'the storage Secret holds temporary credentials, which cannot assume a role' };
    const objects = `arn:aws:s3:::${target.bucket}/${target.objectKeyBase}.*`;
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], Resource: [objects] },
        // minio-js looks for an unfinished multipart upload of the same key before it starts one.
        { Effect: 'Allow', Action: ['s3:ListBucketMultipartUploads', 's3:GetBucketLocation'], Resource: [`arn:aws:s3:::${target.bucket}`] },
      ],
    };
    const provider = new AssumeRoleProvider({
      stsEndpoint: storage.endpoint,
      accessKey: base.accessKey,
      secretKey: base.secretKey,
      region: storage.region ?? 'us-east-1',
      durationSeconds: target.lifetimeSeconds,
      policy: JSON.stringify(policy),
    });
    try {
      const issued = await Promise.race([
        provider.getCredentials(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 5 s')), 5000).unref()),
      ]);
      return { credentials: { type: 's3', accessKey: issued.accessKey, secretKey: issued.secretKey, sessionToken: issued.sessionToken }, scoped: true };
    } catch (err) {
      return { credentials: base, scoped: false, reason: `STS AssumeRole at ${storage.endpoint} failed: ${(err as Error).message.slice(0, 300)}` };
    }
  }
}
