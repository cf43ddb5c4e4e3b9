// A client-node informer that survives: client-node's informer stops for good on any watch error other
// than 410 and its watch can stall silently, so this one restarts with backoff (1 s doubling to 30 s),
// relists periodically (a stalled watch heals within resyncMs), and says when it has synced.
// Cached objects are shared: never mutate one; copy it first.
import { makeInformer, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import type { Logger } from 'pino';

export type ListFn<T extends KubernetesObject> = () => Promise<KubernetesListObject<T>>;

export interface EventHandlers<T> {
  onAdd?(obj: T): void;
  onUpdate?(obj: T): void;
  onDelete?(obj: T): void;
}

export class ResilientInformer<T extends KubernetesObject> {
  private informer: Informer<T> & ObjectCache<T>;
  private readonly handlers: EventHandlers<T>[] = [];
  private stopped = false;
  private restartDelayMs = 1000;
  private restartTimer?: NodeJS.Timeout;
  private resyncTimer?: NodeJS.Timeout;
  private resolveSynced!: () => void;
  /** Resolves once the first list has been cached. */
  readonly synced: Promise<void>;
  restarts = 0;
  private readonly kc: KubeConfig;
  readonly path: string;
  private readonly list: ListFn<T>;
  private readonly log: Logger;
  private readonly resyncMs: number;
  private readonly labelSelector: string | undefined;

  constructor(options: { kc: KubeConfig; path: string; list: ListFn<T>; log: Logger; resyncMs?: number; labelSelector?: string }) {
    this.kc = options.kc;
    this.path = options.path;
    this.list = options.list;
    this.log = options.log.child({ informer: options.path });
    this.resyncMs = options.resyncMs ?? 5 * 60_000;
    this.labelSelector = options.labelSelector;
    this.synced = new Promise((resolve) => (this.resolveSynced = resolve));
    this.informer = this.make();
  }

  private make(): Informer<T> & ObjectCache<T> {
    const informer = makeInformer<T>(this.kc, this.path, this.list, this.labelSelector);
    informer.on('add', (obj) => this.handlers.forEach((h) => h.onAdd?.(obj)));
    informer.on('update', (obj) => this.handlers.forEach((h) => h.onUpdate?.(obj)));
    informer.on('delete', (obj) => this.handlers.forEach((h) => h.onDelete?.(obj)));
    informer.on('error', (err: unknown) => {
      if (informer !== this.informer || this.stopped) return;
      this.log.warn({ err: String((err as Error)?.message ?? err), retryInMs: this.restartDelayMs }, 'watch failed; restarting');
      this.scheduleRestart();
    });
    return informer;
  }

  addHandlers(handlers: EventHandlers<T>): void {
    this.handlers.push(handlers);
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.startOnce();
    this.resyncTimer = setInterval(() => void this.relist(), this.resyncMs);
    this.resyncTimer.unref();
  }

  private async startOnce(): Promise<void> {
    try {
      await this.informer.start();
      this.restartDelayMs = 1000;
      this.resolveSynced();
    } catch (err) {
      this.log.warn({ err: (err as Error).message, retryInMs: this.restartDelayMs }, 'initial list failed; retrying');
      this.scheduleRestart();
    }
  }

  private scheduleRestart(): void {
    if (this.stopped || this.restartTimer) return;
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, 30_000);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restarts++;
      void this.informer.stop().catch(() => undefined);
      void this.startOnce();
    }, delay);
    this.restartTimer.unref();
  }

  /** Lists and watches anew; the informer reports differences as add/update/delete events. */
  private async relist(): Promise<void> {
    if (this.stopped) return;
    await this.informer.stop().catch(() => undefined);
    await this.startOnce();
  }

  /** The cached object: shared with the informer, so read it, never change it. */
  get(name: string, namespace?: string): Readonly<T> | undefined {
    return this.informer.get(name, namespace);
  }

  listCached(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.resyncTimer);
    await this.informer.stop().catch(() => undefined);
  }
}
