// A controller: a work queue of namespace/name keys drained by N workers calling reconcile(key).
// Level-triggered: event handlers only enqueue keys; reconcile reads the current state from caches and
// returns when to look again, or throws (retried with backoff) or throws a TerminalError (not retried).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ControllerMetrics } from './metrics.ts';
import { WorkQueue } from './workqueue.ts';

export interface ReconcileResult {
  /** Look at this key again after this many milliseconds (level-triggered polling). */
  requeueAfterMs?: number;
}

export class TerminalError extends Error {
  override name = 'TerminalError';
}

export interface Reconciler {
  reconcile(key: string, log: Logger): Promise<ReconcileResult | void>;
}

export class Controller {
  readonly queue: WorkQueue;
  private running: Promise<void>[] = [];
  readonly name: string;
  private readonly reconciler: Reconciler;
  private readonly workers: number;
  private readonly log: Logger;
  private readonly metrics: ControllerMetrics;

  constructor(options: { name: string; reconciler: Reconciler; workers: number; log: Logger; metrics: ControllerMetrics }) {
    this.name = options.name;
    this.reconciler = options.reconciler;
    this.workers = options.workers;
    this.log = options.log.child({ controller: options.name });
    this.metrics = options.metrics;
    const labels = { name: this.name };
    this.queue = new WorkQueue({
      metrics: {
        depth: (n) => this.metrics.queueDepth.set(labels, n),
        added: () => this.metrics.queueAdds.inc(labels),
        retried: () => this.metrics.queueRetries.inc(labels),
      },
    });
    this.metrics.maxWorkers.set({ controller: this.name }, this.workers);
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  start(): void {
    for (let i = 0; i < this.workers; i++) this.running.push(this.work());
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.process(key);
      this.queue.done(key);
    }
  }

  private async process(key: string): Promise<void> {
    const [namespace, name] = key.includes('/') ? key.split('/', 2) : [undefined, key];
    const log = this.log.child({ namespace, name, reconcileID: randomUUID() });
    const labels = { controller: this.name };
    const end = this.metrics.reconcileTime.startTimer(labels);
    this.metrics.activeWorkers.inc(labels);
    try {
      const result = await this.reconciler.reconcile(key, log);
      this.queue.forget(key);
      if (result?.requeueAfterMs !== undefined) {
        this.queue.addAfter(key, result.requeueAfterMs);
        this.metrics.reconcileTotal.inc({ ...labels, result: 'requeue_after' });
      } else {
        this.metrics.reconcileTotal.inc({ ...labels, result: 'success' });
      }
    } catch (err) {
      this.metrics.reconcileErrors.inc(labels);
      if (err instanceof TerminalError) {
        this.metrics.terminalErrors.inc(labels);
        this.metrics.reconcileTotal.inc({ ...labels, result: 'error' });
        log.error({ err: err.message }, 'reconcile failed terminally; not retrying');
      } else {
        this.metrics.reconcileTotal.inc({ ...labels, result: 'error' });
        log.warn({ err: (err as Error).message }, 'reconcile failed; retrying with backoff');
        this.queue.addRateLimited(key);
      }
    } finally {
      end();
      this.metrics.activeWorkers.dec(labels);
    }
  }

  async stop(): Promise<void> {
    this.queue.shutdown();
    await Promise.all(this.running);
  }
}
