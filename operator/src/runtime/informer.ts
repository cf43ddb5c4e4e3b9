// A list-and-watch cache of one kind of object, written for the operator instead of client-node's
// informer, which stops for good on any watch error other than 410, can stall silently, deserializes
// every object twice and keeps each one whole. This one:
// - restarts with backoff (1 s doubling to 30 s) after any failure and relists when the watch's
//   resourceVersion is too old (410 Gone);
// - aborts a watch that has been silent longer than the apiserver's bookmark interval allows, so a
//   half-open connection heals within a minute and a half;
// - lists in pages, and passes every object through `transform` before caching it, so the cache holds
//   what the controllers read and not managedFields or Pod specs (the operator's memory is mostly this
//   cache: see the operator benchmark).
// Cached objects are shared: never mutate one; copy it first.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { KubeApiError, type KubeApi } from './kube-api.ts';

export interface EventHandlers<T> {
  onAdd?(obj: T): void;
  onUpdate?(obj: T): void;
  onDelete?(obj: T): void;
}

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubernetesObject & { code?: number; message?: string };
}

class GoneError extends Error {}

const listPageSize = 500;
/** The apiserver sends a bookmark about once a minute on an idle watch that asks for them. */
const watchSilenceLimitMs = 90_000;

/** Drops what no controller reads from any object: managedFields and kubectl's last-applied copy. */
export function stripBookkeeping<T extends KubernetesObject>(obj: T): T {
  const metadata = obj.metadata;
  if (!metadata?.managedFields && !metadata?.annotations?.['kubectl.kubernetes.io/last-applied-configuration']) return obj;
  const rest = { ...metadata };
  delete rest.managedFields;
  if (rest.annotations?.['kubectl.kubernetes.io/last-applied-configuration']) {
    rest.annotations = { ...rest.annotations };
    delete rest.annotations['kubectl.kubernetes.io/last-applied-configuration'];
  }
  return { ...obj, metadata: rest };
}

export class ResilientInformer<T extends KubernetesObject> {
  private cache = new Map<string, T>();
  private readonly handlers: EventHandlers<T>[] = [];
  private resourceVersion = '';
  private stopped = true;
  private abort?: AbortController;
  private loop?: Promise<void>;
  /** Ends a backoff wait early, so stop() never waits out a 30 s backoff. */
  private wake?: () => void;
  private resolveSynced!: () => void;
  /** Resolves once the first list has been cached. */
  readonly synced: Promise<void>;
  /** How many times the list or watch failed and was started again. */
  restarts = 0;
  /** How many full lists were made (the first, and one after each 410 Gone). */
  lists = 0;
  private readonly api: KubeApi;
  readonly path: string;
  private readonly log: Logger;
  private readonly labelSelector: string | undefined;
  private readonly transform: (obj: T) => T;

  constructor(options: { api: KubeApi; path: string; log: Logger; labelSelector?: string; transform?: (obj: T) => T }) {
    this.api = options.api;
    this.path = options.path;
    this.log = options.log.child({ informer: options.path });
    this.labelSelector = options.labelSelector;
    this.transform = options.transform ?? stripBookkeeping;
    this.synced = new Promise((resolve) => (this.resolveSynced = resolve));
  }

  addHandlers(handlers: EventHandlers<T>): void {
    this.handlers.push(handlers);
  }

  /** Starts listing and watching; resolves once running (see `synced` for the first full list). */
  start(): Promise<void> {
    if (!this.stopped) return Promise.resolve();
    this.stopped = false;
    this.loop = this.run();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
    await this.loop;
  }

  /** The cached object: shared with the cache, so read it, never change it. */
  get(name: string, namespace?: string): Readonly<T> | undefined {
    return this.cache.get(cacheKey(namespace, name));
  }

  listCached(namespace?: string): readonly T[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  private async run(): Promise<void> {
    let delayMs = 1000;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.list();
        await this.watch();
        delayMs = 1000;
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof GoneError) {
          this.resourceVersion = '';
          continue;
        }
        this.restarts++;
        this.log.warn({ err: (err as Error).message, retryInMs: delayMs }, 'list or watch failed; retrying');
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, delayMs).unref();
        });
        delayMs = Math.min(delayMs * 2, 30_000);
      }
    }
  }

  /** GET on the informer's path; timeoutMs 0 for a watch, which the server ends by itself. */
  private async request(query: Record<string, string>, timeoutMs: number): Promise<Response> {
    this.abort = new AbortController();
    const res = await this.api.send('GET', this.path, { query: { ...query, labelSelector: this.labelSelector }, signal: this.abort.signal, timeoutMs });
    if (res.status === 410) throw new GoneError('resourceVersion too old');
    if (!res.ok) throw new KubeApiError('GET', this.path, res.status, await res.text());
    return res;
  }

  /** Lists everything (in pages) and reconciles the cache with it, telling handlers what changed. */
  private async list(): Promise<void> {
    const fresh = new Map<string, T>();
    let continueToken = '';
    let resourceVersion: string;
    do {
      const res = await this.request({ limit: String(listPageSize), ...(continueToken ? { continue: continueToken } : {}) }, 60_000);
      const page = (await res.json()) as { items: T[]; metadata?: { resourceVersion?: string; continue?: string } };
      for (const item of page.items) {
        const obj = this.transform(item);
        fresh.set(keyOf(obj), obj);
      }
      continueToken = page.metadata?.continue ?? '';
      resourceVersion = page.metadata?.resourceVersion ?? '';
    } while (continueToken);
    const previous = this.cache;
    this.cache = fresh;
    this.resourceVersion = resourceVersion;
    for (const [key, obj] of fresh) {
      const old = previous.get(key);
      if (!old) this.emit('onAdd', obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit('onUpdate', obj);
    }
    for (const [key, old] of previous) if (!fresh.has(key)) this.emit('onDelete', old);
    this.lists++;
    this.resolveSynced();
  }

  /** Watches from the last resourceVersion until the server ends the watch, it fails or goes silent. */
  private async watch(): Promise<void> {
    // The server ends a watch after timeoutSeconds; spreading them keeps many operators from relisting together.
    const timeoutSeconds = 240 + Math.floor(Math.random() * 120);
    const res = await this.request({ watch: 'true', allowWatchBookmarks: 'true', resourceVersion: this.resourceVersion, timeoutSeconds: String(timeoutSeconds) }, 0);
    const abort = this.abort!;
    const silence = setTimeout(() => abort.abort(new Error(`watch silent for ${watchSilenceLimitMs} ms`)), watchSilenceLimitMs).unref();
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        silence.refresh();
        buffered += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (line.trim()) this.apply(JSON.parse(line) as WatchEvent);
        }
      }
    } catch (err) {
      if (abort.signal.aborted && !this.stopped && abort.signal.reason instanceof Error) throw abort.signal.reason;
      throw err;
    } finally {
      clearTimeout(silence);
    }
  }

  private apply(event: WatchEvent): void {
    if (event.type === 'ERROR') {
      if (event.object.code === 410) throw new GoneError(event.object.message ?? 'resourceVersion too old');
      throw new Error(`watch error: ${event.object.message ?? JSON.stringify(event.object)}`);
    }
    this.resourceVersion = event.object.metadata?.resourceVersion ?? this.resourceVersion;
    if (event.type === 'BOOKMARK') return;
    const obj = this.transform(event.object as T);
    const key = keyOf(obj);
    if (event.type === 'DELETED') {
      const old = this.cache.get(key);
      this.cache.delete(key);
      this.emit('onDelete', old ?? obj);
      return;
    }
    const existed = this.cache.has(key);
    this.cache.set(key, obj);
    this.emit(existed ? 'onUpdate' : 'onAdd', obj);
  }

  private emit(kind: keyof EventHandlers<T>, obj: T): void {
    for (const h of this.handlers) {
      try {
        h[kind]?.(obj);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'event handler failed');
      }
    }
  }
}

const cacheKey = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;
const keyOf = (obj: KubernetesObject) => cacheKey(obj.metadata?.namespace, obj.metadata?.name ?? '');
