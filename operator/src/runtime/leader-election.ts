// Lease-based leader election with controller-runtime's timings: a lease lasts 15 s, the leader renews
// every 2 s and gives up leadership (and the process exits) if it cannot renew within 10 s.
import type { V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { apiPath, type KubeApi } from './kube-api.ts';

export interface LeaderElectionOptions {
  api: KubeApi;
  namespace: string;
  name: string;
  identity: string;
  log: Logger;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export class LeaderElector {
  private readonly api: KubeApi;
  private stopped = false;
  /** When this process last read a lease that another live process holds. */
  private standbyObservedAt = 0;
  private readonly o: Required<LeaderElectionOptions>;

  constructor(options: LeaderElectionOptions) {
    this.o = { leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...options };
    this.api = options.api;
  }

  private leasePath(name?: string): string {
    return apiPath.group('coordination.k8s.io/v1', 'leases', this.o.namespace, name);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const nowMs = Date.now();
    const now = microTime(nowMs);
    const { namespace, name, identity, leaseDurationSeconds } = this.o;
    const lease = await this.api.find<LeaseJson>(this.leasePath(name));
    if (!lease) {
      await this.api.create<LeaseJson>(this.leasePath(), { metadata: { name, namespace }, spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } });
      return true;
    }
    const spec = lease.spec ?? {};
    const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0;
    const expired = renewed + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000 < nowMs;
    if (spec.holderIdentity !== identity && !expired) {
      this.standbyObservedAt = nowMs;
      return false;
    }
    this.standbyObservedAt = 0;
    const takeover = spec.holderIdentity !== identity;
    await this.api.replace<LeaseJson>(this.leasePath(name), {
      ...lease,
      spec: { ...spec, holderIdentity: identity, leaseDurationSeconds, renewTime: now, acquireTime: takeover ? now : spec.acquireTime, leaseTransitions: (spec.leaseTransitions ?? 0) + (takeover ? 1 : 0) },
    });
    return true;
  }

  /**
   * True while this process waits as a hot standby: within the last lease duration it read the lease and
   * found another live holder. Such a replica is Ready (it reaches the apiserver and would take over), as
   * controller-runtime's standbys are; otherwise rollouts and `helm install --wait` never finish.
   */
  standingBy(): boolean {
    return this.standbyObservedAt > 0 && Date.now() - this.standbyObservedAt < this.o.leaseDurationSeconds * 1000;
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
      const lease = await this.api.get<LeaseJson>(this.leasePath(this.o.name));
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      await this.api.replace<LeaseJson>(this.leasePath(this.o.name), { ...lease, spec: { ...lease.spec, holderIdentity: undefined, renewTime: microTime(0) } });
    } catch {
      // best effort: the lease expires by itself
    }
  }
}

/** A Lease as JSON: its times are strings on the wire, where client-node's type says Date. */
type LeaseJson = Omit<V1Lease, 'spec'> & { spec?: Omit<NonNullable<V1Lease['spec']>, 'acquireTime' | 'renewTime'> & { acquireTime?: string; renewTime?: string } };

/** Lease times are MicroTime: the apiserver wants exactly six fractional digits. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
