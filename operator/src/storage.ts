// The operator's own use of a recording's storage: checking that the bucket is reachable, signing
// download URLs and removing files for reclaimPolicy Delete. Credentials come from the referenced
// Secret and are never logged or copied into a status.
import { Client } from 'minio';
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
