// The operator's own use of a recording's storage: checking that the bucket is reachable, signing
// download URLs and removing files for reclaimPolicy Delete. Credentials come from the referenced
// Secret and are never logged or copied into a status.
import { Client } from 'minio';
import { AssumeRoleProvider } from 'minio/dist/esm/AssumeRoleProvider.mjs';
import type { V1Secret } from '@kubernetes/client-node';
import type { StorageSpec } from '@recording-operator/common/api/generated/types.ts';
import { apiPath, type KubeApi } from './runtime/kube-api.ts';

export interface StorageCredentials {
  accessKey: string;
  secretKey: string;
  sessionToken?: string;
}

export class StorageAccess {
  private readonly api: KubeApi;
  private readonly operatorNamespace: string;

  constructor(api: KubeApi, operatorNamespace: string) {
    this.api = api;
    this.operatorNamespace = operatorNamespace;
  }

  /** Reads the credentials a storage spec refers to; `ownNamespace` for a Recording's own storage. */
  async credentials(storage: StorageSpec, ownNamespace?: string): Promise<StorageCredentials> {
    if (!storage.secretRef) throw new Error('storage.secretRef is not set; the operator needs credentials to sign URLs and check the bucket');
    const namespace = ownNamespace ?? storage.secretRef.namespace ?? this.operatorNamespace;
    const secret = await this.api.get<V1Secret>(apiPath.core('secrets', namespace, storage.secretRef.name)).catch((err: { code?: number }) => {
      throw new Error(err.code === 404 ? `storage Secret ${namespace}/${storage.secretRef!.name} does not exist` : `storage Secret ${namespace}/${storage.secretRef!.name} cannot be read (HTTP ${err.code ?? '?'})`);
    });
    const read = (key: string) => (secret.data?.[key] ? Buffer.from(secret.data[key], 'base64').toString('utf8') : undefined);
    const accessKey = read('accessKeyId');
    const secretKey = read('secretAccessKey');
    if (!accessKey || !secretKey) throw new Error(`storage Secret ${namespace}/${storage.secretRef.name} must have the keys accessKeyId and secretAccessKey`);
    return { accessKey, secretKey, sessionToken: read('sessionToken') };
  }

  /**
   * Credentials for one recorder: temporary ones that may only write and read that recording's objects
   * (`<objectKey>.*`), from STS AssumeRole with a session policy, where the store offers STS with the
   * storage Secret's keys (MinIO, Ceph RGW and other S3-compatible stores with an endpoint). Otherwise the
   * Secret's own keys, with the reason. A recorder Pod, its Secret or its node can then leak at most one
   * recording, and only until the credentials expire.
   */
  async recorderCredentials(storage: StorageSpec, ownNamespace: string | undefined, target: { bucket: string; objectKeyBase: string; lifetimeSeconds: number }): Promise<{ credentials: StorageCredentials; scoped: boolean; reason?: string }> {
    const base = await this.credentials(storage, ownNamespace);
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
      return { credentials: { accessKey: issued.accessKey, secretKey: issued.secretKey, sessionToken: issued.sessionToken }, scoped: true };
    } catch (err) {
      return { credentials: base, scoped: false, reason: `STS AssumeRole at ${storage.endpoint} failed: ${(err as Error).message.slice(0, 300)}` };
    }
  }

  client(storage: StorageSpec, credentials: StorageCredentials): Client {
    if (storage.type && storage.type !== 's3') throw new Error(`storage type ${storage.type} is not supported yet; use s3 (AWS, MinIO, R2, Spaces, GCS interoperability)`);
    const endpoint = new URL(storage.endpoint ?? `https://s3.${storage.region ?? 'us-east-1'}.amazonaws.com`);
    const useSSL = endpoint.protocol === 'https:';
    return new Client({
      endPoint: endpoint.hostname,
      port: endpoint.port ? Number(endpoint.port) : useSSL ? 443 : 80,
      useSSL,
      region: storage.region ?? 'us-east-1',
      pathStyle: storage.forcePathStyle ?? false,
      accessKey: credentials.accessKey,
      secretKey: credentials.secretKey,
      sessionToken: credentials.sessionToken,
    });
  }
}

/** "s3://bucket/key" → { bucket, key }. */
export function parseLocation(location: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  return m ? { bucket: m[1]!, key: m[2]! } : undefined;
}
