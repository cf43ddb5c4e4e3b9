// The operator's own use of a recording's storage: reading its credentials, checking that the bucket
// (container) is reachable, issuing each recorder credentials limited to what it needs, signing download
// URLs and removing files for reclaimPolicy Delete. Credentials come from the referenced Secret and are
// never logged or copied into a status.
import { AssumeRoleProvider } from 'minio/dist/esm/AssumeRoleProvider.mjs';
import type { V1Secret } from '@kubernetes/client-node';
import type { StorageSpec } from '@recording-operator/common/api/generated/types.ts';
import { AzureStore, parseConnectionString } from '@recording-operator/common/storage/azure-store.ts';
import { googleStorageEndpoint, parseServiceAccountKey } from '@recording-operator/common/storage/gcs-key.ts';
import { knownKeysFor } from '@recording-operator/common/storage/known-hosts.ts';
import type { ObjectStore, StoreCredentials, StoreEndpoint } from '@recording-operator/common/storage/object-store.ts';
import { openObjectStore } from '@recording-operator/common/storage/open-store.ts';
import { apiPath, type KubeApi } from './runtime/kube-api.ts';

/** The Secret's credentials and, for azure, the blob endpoint a connection string may name. */
export interface StorageAccount {
  credentials: StoreCredentials;
  endpoint: StoreEndpoint;
}

export type RecorderCredentials =
  | { credentials: StoreCredentials; scoped: true }
  /** avoidable: whether the user could change the storage spec or Secret to get scoped credentials. */
  | { credentials: StoreCredentials; scoped: false; reason: string; avoidable: boolean };

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
    // Values are trimmed (a key file pasted with a trailing newline is the same key), except that a
    // multi-line value keeps its final newline, which PEM and OpenSSH key parsers expect.
    const read = (key: string) => {
      const value = secret.data?.[key] ? Buffer.from(secret.data[key], 'base64').toString('utf8').trim() : undefined;
      return value && value.includes('\n') ? `${value}\n` : value || undefined;
    };
    return accountReaders[storage.type ?? 's3'](storage, read, where);
  }

  /** The store itself, with the Secret's credentials. */
  async store(storage: StorageSpec, ownNamespace?: string): Promise<ObjectStore> {
    const { credentials, endpoint } = await this.account(storage, ownNamespace);
    return openObjectStore(endpoint, credentials);
  }

  /**
   * Credentials for one recorder, limited as far as the store allows:
   * - s3 with storage.roleArn (AWS), or with an endpoint (MinIO, Ceph RGW, …): temporary keys from STS
   *   AssumeRole with a session policy that may only write and read that recording's objects
   *   (`<objectKey>.*`);
   * - azure: a SAS for the container that may create, write and read blobs (not list or delete);
   * - otherwise the Secret's own credentials, with the reason, and whether the user could change that.
   * Scoped credentials expire with the recording, so a leaked recorder Pod, Secret or node leaks little.
   */
  async recorderCredentials(storage: StorageSpec, account: StorageAccount, target: { bucket: string; objectKeyBase: string; lifetimeSeconds: number; sessionName: string }): Promise<RecorderCredentials> {
    const { credentials: base, endpoint } = account;
    switch (base.type) {
      case 'azure': {
        if (!('accountKey' in base)) return { credentials: base, scoped: false, reason: 'the storage Secret holds a SAS token, not the account key that issues a narrower one', avoidable: true };
        const sasToken = new AzureStore(endpoint as Extract<StoreEndpoint, { type: 'azure' }>, base).containerSas(target.lifetimeSeconds);
        return { credentials: { type: 'azure', sasToken }, scoped: true };
      }
      case 'gcs':
        return { credentials: base, scoped: false, reason: 'GCS narrows a service account only through Credential Access Boundaries at Google STS, which the operator does not use yet', avoidable: false };
      case 'sftp':
        return { credentials: base, scoped: false, reason: 'SFTP has no temporary credentials; confine the user to the recordings directory on the server (ChrootDirectory, ForceCommand internal-sftp)', avoidable: false };
      case 's3':
        return this.assumeRole(storage, base, target);
    }
  }

  private async assumeRole(storage: StorageSpec, base: Extract<StoreCredentials, { type: 's3' }>, target: { bucket: string; objectKeyBase: string; lifetimeSeconds: number; sessionName: string }): Promise<RecorderCredentials> {
    const region = storage.region ?? 'us-east-1';
    if (!storage.endpoint && !storage.roleArn) return { credentials: base, scoped: false, reason: 'AWS S3 issues scoped credentials only for a role to assume: set storage.roleArn', avoidable: true };
    if (base.sessionToken) return { credentials: base, scoped: false, reason: 'the storage Secret holds temporary credentials, which cannot assume a role', avoidable: true };
    // AWS caps a session assumed with user keys at the role's maximum (12 h at most); MinIO takes up to 365 days.
    const lifetimeSeconds = storage.roleArn ? Math.min(target.lifetimeSeconds, 43_200) : target.lifetimeSeconds;
    const stsEndpoint = storage.endpoint ?? `https://sts.${region}.amazonaws.com`;
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
      stsEndpoint,
      accessKey: base.accessKey,
      secretKey: base.secretKey,
      region,
      durationSeconds: lifetimeSeconds,
      policy: JSON.stringify(policy),
      ...(storage.roleArn ? { roleArn: storage.roleArn, roleSessionName: target.sessionName } : {}),
    });
    try {
      const issued = await Promise.race([
        provider.getCredentials(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 5 s')), 5000).unref()),
      ]);
      return { credentials: { type: 's3', accessKey: issued.accessKey, secretKey: issued.secretKey, sessionToken: issued.sessionToken }, scoped: true };
    } catch (err) {
      const reason = `STS AssumeRole${storage.roleArn ? ` of ${storage.roleArn}` : ''} at ${stsEndpoint} failed: ${(err as Error).message.slice(0, 300)}`;
      // A role the user named must be assumed: handing out the Secret's broader keys instead would
      // silently undo what they asked for.
      if (storage.roleArn) throw new Error(reason, { cause: err });
      return { credentials: base, scoped: false, reason, avoidable: true };
    }
  }
}

type SecretValue = (key: string) => string | undefined;

/** For each storage type: the credentials and resolved endpoint from a storage spec and its Secret. */
const accountReaders: Record<NonNullable<StorageSpec['type']>, (storage: StorageSpec, read: SecretValue, where: string) => StorageAccount> = {
  s3(storage, read, where) {
    const accessKey = read('accessKeyId');
    const secretKey = read('secretAccessKey');
    if (!accessKey || !secretKey) throw new Error(`${where} must have the keys accessKeyId and secretAccessKey`);
    const endpoint = storage.endpoint?.replace(/\/+$/, '') ?? `https://s3.${storage.region ?? 'us-east-1'}.amazonaws.com`;
    return {
      credentials: { type: 's3', accessKey, secretKey, sessionToken: read('sessionToken') },
      endpoint: { type: 's3', endpoint, region: storage.region ?? 'us-east-1', bucket: storage.bucket!, forcePathStyle: storage.forcePathStyle ?? false },
    };
  },

  azure(storage, read, where) {
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
  },

  gcs(storage, read, where) {
    const json = read('serviceAccountKey');
    if (!json) throw new Error(`${where} must have the key serviceAccountKey (the service account's JSON key file)`);
    let credentials: Extract<StoreCredentials, { type: 'gcs' }>;
    try {
      credentials = parseServiceAccountKey(json);
    } catch (err) {
      throw new Error(`${where}: serviceAccountKey ${(err as Error).message}`, { cause: err });
    }
    return { credentials, endpoint: { type: 'gcs', endpoint: storage.endpoint?.replace(/\/+$/, '') ?? googleStorageEndpoint, bucket: storage.bucket! } };
  },

  sftp(storage, read, where) {
    const username = read('username');
    const knownHosts = read('knownHosts');
    if (!username) throw new Error(`${where} must have the key username`);
    if (!knownHosts) throw new Error(`${where} must have the key knownHosts (the server's host key in known_hosts format, from ssh-keyscan -p <port> <host>, checked out of band); unknown host keys are never accepted`);
    const method = storage.authMethod ?? (read('privateKey') ? 'KEY' : 'PASSWORD');
    const url = new URL(storage.endpoint!);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    try {
      if (knownKeysFor(knownHosts, host, url.port ? Number(url.port) : 22).length === 0) throw new Error(`lists no key for ${url.host}`);
    } catch (err) {
      throw new Error(`${where}: knownHosts ${(err as Error).message.replace(/^knownHosts /, '')}`, { cause: err });
    }
    if (method === 'KEY') {
      const privateKey = read('privateKey');
      if (!privateKey) throw new Error(`${where} must have the key privateKey for storage.authMethod KEY`);
      return { credentials: { type: 'sftp', username, knownHosts, privateKey, passphrase: read('passphrase') }, endpoint: { type: 'sftp', endpoint: `sftp://${url.host}` } };
    }
    const password = read('password');
    if (!password) throw new Error(`${where} must have the key password for storage.authMethod PASSWORD`);
    return { credentials: { type: 'sftp', username, knownHosts, password }, endpoint: { type: 'sftp', endpoint: `sftp://${url.host}` } };
  },
};
