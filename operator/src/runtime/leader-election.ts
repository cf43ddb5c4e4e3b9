// Lease-based leader election with controller-runtime's timings: a lease lasts 15 s, the leader renews
// every 2 s and gives up leadership (and the process exits) if it cannot renew within 10 s.
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface LeaderElectionOptions {
  kc: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  log: Logger;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private stopped = false;
  private readonly o: Required<LeaderElectionOptions>;

  constructor(options: LeaderElectionOptions) {
    this.o = { leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...options };
    this.api = options.kc.makeApiClient(CoordinationV1Api);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    // Lease times are MicroTime: the apiserver wants six fractional digits, which V1MicroTime writes.
    const now = new V1MicroTime();
    const { namespace, name, identity, leaseDurationSeconds } = this.o;
    let lease: V1Lease | undefined;
    try {
      lease = await this.api.readNamespacedLease({ namespace, name });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
    if (!lease) {
      await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } } });
      return true;
    }
    const spec = lease.spec ?? {};
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = renewed + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000 < now.getTime();
    if (spec.holderIdentity !== identity && !expired) return false;
    const takeover = spec.holderIdentity !== identity;
    await this.api.replaceNamespacedLease({
      namespace,
      name,
      body: {
        ...lease,
        spec: { ...spec, holderIdentity: identity, leaseDurationSeconds, renewTime: now, acquireTime: takeover ? now : spec.acquireTime, leaseTransitions: (spec.leaseTransitions ?? 0) + (takeover ? 1 : 0) },
      },
    });
    return true;
  }

  /**
   * Resolves once this process leads; afterwards renews in the background and calls onLost (once) if it
   * cannot within the renew deadline. Call again to campaign anew.
   */
  async acquire(onLost: () => void): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const ok = await this.tryAcquireOrRenew().catch((err: Error) => {
        this.o.log.debug({ err: err.message }, 'lease not acquired');
        return false;
      });
      if (ok) break;
      await new Promise((r) => setTimeout(r, this.o.retryPeriodMs));
    }
    this.o.log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, 'became leader');
    let lastRenew = Date.now();
    const renew = async () => {
      if (this.stopped) return;
      const ok = await this.tryAcquireOrRenew().catch(() => false);
      if (ok) lastRenew = Date.now();
      if (Date.now() - lastRenew > this.o.renewDeadlineMs) {
        this.o.log.error('lost the lease');
        onLost();
        return;
      }
      setTimeout(() => void renew(), this.o.retryPeriodMs).unref();
    };
    setTimeout(() => void renew(), this.o.retryPeriodMs).unref();
  }

  /** Gives the lease up so that another replica can take over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    try {
      const lease = await this.api.readNamespacedLease({ namespace: this.o.namespace, name: this.o.name });
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      await this.api.replaceNamespacedLease({ namespace: this.o.namespace, name: this.o.name, body: { ...lease, spec: { ...lease.spec, holderIdentity: undefined, renewTime: new V1MicroTime(0) } } });
    } catch {
      // best effort: the lease expires by itself
    }
  }
}
