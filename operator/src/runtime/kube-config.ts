// For the client-node fallback connection only (client-node-connection.ts; KubeApi has its own pool):
// client-node 2.0 builds a new undici Agent, so a new connection pool and TLS handshake, for every
// request it sends. Reuse one dispatcher per cluster, user and TLS material instead.
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';

type CreateDispatcher = (cluster: unknown, agentOptions: Record<string, unknown>) => unknown;

export function withSharedConnections(kc: KubeConfig): KubeConfig {
  const target = kc as unknown as { createDispatcher: CreateDispatcher };
  const create = target.createDispatcher.bind(kc);
  const cache = new Map<string, unknown>();
  target.createDispatcher = (cluster, agentOptions) => {
    const hash = createHash('sha256');
    for (const k of ['ca', 'cert', 'key', 'pfx', 'servername', 'rejectUnauthorized']) {
      const v = agentOptions[k];
      hash.update(Buffer.isBuffer(v) ? v : JSON.stringify(v ?? null)).update('|');
    }
    const key = `${(cluster as { name?: string } | null)?.name}|${hash.digest('hex')}`;
    let dispatcher = cache.get(key);
    if (dispatcher === undefined) {
      dispatcher = create(cluster, agentOptions);
      cache.set(key, dispatcher);
    }
    return dispatcher;
  };
  return kc;
}
