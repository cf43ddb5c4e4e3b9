// The fallback connection for kubeconfigs whose users authenticate through exec plugins or auth
// providers (cloud CLIs): client-node implements those. Imported only when needed, because loading
// client-node costs ~50 MB (see kube-api.ts).
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import type { Dispatcher } from 'undici';
import type { KubeConnection } from './kube-api.ts';
import { withSharedConnections } from './kube-config.ts';

export function clientNodeConnection(kc: KubeConfig): KubeConnection {
  const shared = withSharedConnections(kc);
  const server = shared.getCurrentCluster()?.server;
  if (!server) throw new Error('kubeconfig: the current context has no cluster server');
  return {
    server,
    async prepare() {
      const context = new RequestContext(server, HttpMethod.GET);
      await shared.applySecurityAuthentication(context);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(context.getHeaders())) headers[k] = String(v);
      return { headers, dispatcher: context.getDispatcher() as Dispatcher };
    },
  };
}

/** client-node's own discovery of the kubeconfig ($KUBECONFIG, ~/.kube/config, in-cluster). */
export function defaultClientNodeConnection(): KubeConnection {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return clientNodeConnection(kc);
}
