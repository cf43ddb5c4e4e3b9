// The operator's Kubernetes client: JSON over one shared undici connection pool, authenticated from the
// Pod's ServiceAccount or a kubeconfig with a token or client certificate.
// Why not client-node's API classes: loading @kubernetes/client-node costs ~50 MB of memory (every
// generated model and API class is loaded by its entry point, even for KubeConfig alone), which was
// a third of the operator's footprint with 1,000 Recordings; and it builds a new connection pool for
// every request. The operator uses a dozen endpoints; client-node remains the source of the types
// (type-only imports cost nothing at run time), the tests' client, and the fallback for kubeconfigs
// that authenticate through exec plugins or auth providers (see client-node-connection.ts).
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Agent, fetch, type Dispatcher } from 'undici';
import { parse } from 'yaml';

/** Where requests go and how they are authenticated. */
export interface KubeConnection {
  server: string;
  /** Authentication headers and the connection pool for the next request (tokens can rotate). */
  prepare(): Promise<{ headers: Record<string, string>; dispatcher: Dispatcher }> | { headers: Record<string, string>; dispatcher: Dispatcher };
}

/** A failed API request; `code` is the HTTP status, as in client-node's ApiException. */
export class KubeApiError extends Error {
  readonly code: number;
  readonly body: string;
  constructor(method: string, path: string, code: number, body: string) {
    let message = body;
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      // not a Status object
    }
    super(`${method} ${path}: HTTP ${code}: ${message.slice(0, 500)}`);
    this.code = code;
    this.body = body;
  }
}

/** The kubeconfig's user authenticates in a way only client-node implements (exec, auth-provider). */
export class UnsupportedAuthError extends Error {}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | undefined>;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export class KubeApi {
  readonly connection: KubeConnection;
  /** Called after every response, for request metrics. */
  private readonly onResponse?: (method: string, code: number) => void;

  constructor(connection: KubeConnection, onResponse?: (method: string, code: number) => void) {
    this.connection = connection;
    this.onResponse = onResponse;
  }

  /** Sends a request and returns the response, whatever its status. */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const url = new URL(this.connection.server.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const prepared = await this.connection.prepare();
    const headers: Record<string, string> = { accept: 'application/json', ...prepared.headers };
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const signals = [options.signal, AbortSignal.timeout(options.timeoutMs ?? 30_000)].filter((s): s is AbortSignal => s !== undefined);
    const res = await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      dispatcher: prepared.dispatcher,
      signal: options.timeoutMs === 0 ? options.signal : AbortSignal.any(signals),
    });
    this.onResponse?.(method, res.status);
    return res;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, options);
    const text = await res.text();
    if (!res.ok) throw new KubeApiError(method, path, res.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** The object, or undefined when it does not exist. */
  async find<T>(path: string): Promise<T | undefined> {
    return this.get<T>(path).catch((err: unknown) => {
      if (err instanceof KubeApiError && err.code === 404) return undefined;
      throw err;
    });
  }

  create<T>(path: string, body: T): Promise<T> {
    return this.request<T>('POST', path, { body });
  }

  replace<T>(path: string, body: T): Promise<T> {
    return this.request<T>('PUT', path, { body });
  }

  /** JSON merge patch (RFC 7386): the only patch type the operator uses, so the content type is never implicit. */
  mergePatch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { body, contentType: 'application/merge-patch+json' });
  }

  /** With `resourceVersion`, only that version of the object is deleted (409 Conflict once it changed). */
  delete(path: string, resourceVersion?: string): Promise<unknown> {
    return this.request('DELETE', path, resourceVersion ? { body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion } } } : {});
  }
}

/** API paths, so that no call site spells one out. */
export const apiPath = {
  core(resource: string, namespace?: string, name?: string, subresource?: string): string {
    return ['/api/v1', namespace && `namespaces/${namespace}`, resource, name, subresource].filter(Boolean).join('/');
  },
  group(groupVersion: string, resource: string, namespace?: string, name?: string, subresource?: string): string {
    return [`/apis/${groupVersion}`, namespace && `namespaces/${namespace}`, resource, name, subresource].filter(Boolean).join('/');
  },
};

const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The connection from $KUBECONFIG (first file), else the Pod's ServiceAccount, else ~/.kube/config —
 * the order client-go uses for an operator.
 */
export function loadConnection(env: NodeJS.ProcessEnv = process.env): KubeConnection {
  const kubeconfig = env.KUBECONFIG?.split(':').find(Boolean);
  if (kubeconfig) return fromKubeconfig(kubeconfig);
  if (env.KUBERNETES_SERVICE_HOST && exists(join(serviceAccountDir, 'token'))) return inCluster(env);
  return fromKubeconfig(join(homedir(), '.kube', 'config'));
}

function inCluster(env: NodeJS.ProcessEnv): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`;
  const token = rotatingFile(join(serviceAccountDir, 'token'));
  const dispatcher = new Agent({ connect: { ca: readFileSync(join(serviceAccountDir, 'ca.crt')) } });
  return { server, prepare: () => ({ dispatcher, headers: { authorization: `Bearer ${token()}` } }) };
}

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user?: string } }[];
  clusters?: { name: string; cluster: Record<string, string | boolean | undefined> }[];
  users?: { name: string; user?: Record<string, unknown> }[];
}

export function fromKubeconfig(file: string): KubeConnection {
  const doc = parse(readFileSync(file, 'utf8')) as KubeconfigFile;
  const where = `kubeconfig ${file}`;
  const contextName = doc['current-context'];
  const context = doc.contexts?.find((c) => c.name === contextName)?.context;
  if (!context) throw new Error(`${where}: current-context ${contextName ?? '(unset)'} is not among its contexts`);
  const cluster = doc.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster || typeof cluster.server !== 'string') throw new Error(`${where}: cluster ${context.cluster} has no server`);
  const user = (doc.users?.find((u) => u.name === context.user)?.user ?? {}) as Record<string, string | undefined>;
  for (const unsupported of ['exec', 'auth-provider', 'username']) {
    if (user[unsupported]) throw new UnsupportedAuthError(`${where}: user ${context.user} authenticates with ${unsupported}`);
  }
  const base = dirname(resolve(file));
  const material = (data: unknown, path: unknown) =>
    typeof data === 'string' ? Buffer.from(data, 'base64') : typeof path === 'string' ? readFileSync(resolve(base, path)) : undefined;
  const dispatcher = new Agent({
    connect: {
      ca: material(cluster['certificate-authority-data'], cluster['certificate-authority']),
      cert: material(user['client-certificate-data'], user['client-certificate']),
      key: material(user['client-key-data'], user['client-key']),
      rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true,
      servername: typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined,
    },
  });
  const tokenFile = user.tokenFile ? rotatingFile(resolve(base, user.tokenFile)) : undefined;
  const token = user.token;
  return {
    server: cluster.server,
    prepare: () => {
      const bearer = token ?? tokenFile?.();
      const headers: Record<string, string> = bearer ? { authorization: `Bearer ${bearer}` } : {};
      return { dispatcher, headers };
    },
  };
}

/** A token file that the kubelet rotates: re-read at most once a minute. */
function rotatingFile(path: string): () => string {
  let value = '';
  let readAt = 0;
  return () => {
    if (Date.now() - readAt > 60_000) {
      value = readFileSync(path, 'utf8').trim();
      readAt = Date.now();
    }
    return value;
  };
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
