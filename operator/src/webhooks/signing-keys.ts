// HMAC keys from Secrets (webhook endpoints' and autoStart's secretRef), cached briefly so a burst of
// events costs one read, while a rotated key is picked up within keyCacheMs. Errors name the Secret and
// key, never the value.
import type { V1Secret } from '@kubernetes/client-node';
import type { SecretKeyRef } from '@recording-operator/common/api/generated/types.ts';
import { signingKey } from '@recording-operator/common/webhooks/signature.ts';
import { apiPath, type KubeApi } from '../runtime/kube-api.ts';

const keyCacheMs = 30_000;

export class SigningKeys {
  private readonly cache = new Map<string, { key: Buffer; readAt: number }>();
  private readonly api: KubeApi;
  private readonly defaultNamespace: string;

  constructor(api: KubeApi, defaultNamespace: string) {
    this.api = api;
    this.defaultNamespace = defaultNamespace;
  }

  async get(ref: SecretKeyRef): Promise<Buffer> {
    const namespace = ref.namespace ?? this.defaultNamespace;
    const field = ref.key ?? 'secret';
    const id = `${namespace}/${ref.name}/${field}`;
    const cached = this.cache.get(id);
    if (cached && Date.now() - cached.readAt < keyCacheMs) return cached.key;
    const secret = await this.api.get<V1Secret>(apiPath.core('secrets', namespace, ref.name)).catch((err: { code?: number }) => {
      throw new Error(err.code === 404 ? `signing Secret ${namespace}/${ref.name} does not exist` : `signing Secret ${namespace}/${ref.name} cannot be read (HTTP ${err.code ?? '?'})`);
    });
    const encoded = secret.data?.[field];
    if (!encoded) throw new Error(`signing Secret ${namespace}/${ref.name} has no key ${field}`);
    const key = signingKey(Buffer.from(encoded, 'base64'));
    this.cache.set(id, { key, readAt: Date.now() });
    return key;
  }
}
