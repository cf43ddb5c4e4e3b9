// Keeps each CallType's standby recorders (spec.recorder.standby) at their number, keyed by CallType
// name: starts the missing ones (Pod, then its Secret with the sealing key), replaces ended ones and
// ones made for an earlier spec (another size, image or placement), removes extras and all of them when
// standby is unset. A Recording that takes one (RecordingReconciler) removes its standby label, so it
// leaves the pool and a replacement starts.
import { createHash } from 'node:crypto';
import type { V1Pod, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { CallType, CallTypeStatus } from '@recording-operator/common/api/generated/types.ts';
import { newStandbyKey } from '@recording-operator/common/protocol/standby.ts';
import type { ReconcileResult, Reconciler } from '../runtime/controller.ts';
import type { ResilientInformer } from '../runtime/informer.ts';
import { apiPath, type KubeApi } from '../runtime/kube-api.ts';
import { labels } from '../recording/desired-pod.ts';
import { callTypePath } from '../recording-api.ts';
import { available, standbyPod, standbyPodName, standbySecret } from './standby-pod.ts';

/** On each standby Pod: a digest of the spec it was made from, so a changed CallType replaces it. */
export const standbySpecAnnotation = 'recording.dev/standby-spec';
/** How long a created Pod counts as present before the cache shows it (creations are not repeated meanwhile). */
const creationGraceMs = 30_000;

export interface StandbyPoolOptions {
  api: KubeApi;
  callTypes: ResilientInformer<CallType>;
  pods: ResilientInformer<V1Pod>;
  recorderImage: string;
  podGracePeriodSeconds: number;
}

function specDigest(pod: V1Pod): string {
  return createHash('sha256').update(JSON.stringify([pod.metadata?.namespace, pod.spec])).digest('hex').slice(0, 16);
}

export class StandbyPoolReconciler implements Reconciler {
  private readonly o: StandbyPoolOptions;
  /** Per CallType: Pods created but not yet in the cache, with when. */
  private readonly created = new Map<string, Map<string, number>>();

  constructor(options: StandbyPoolOptions) {
    this.o = options;
  }

  /** The standby recorders of a CallType (waiting, not taken), in any namespace. */
  private members(callTypeName: string): V1Pod[] {
    return this.o.pods.listCached().filter((p) => p.metadata?.labels?.[labels.standby] === callTypeName && !p.metadata.deletionTimestamp);
  }

  async reconcile(name: string, log: Logger): Promise<ReconcileResult | void> {
    const callType = this.o.callTypes.get(name);
    const standby = callType?.metadata?.deletionTimestamp ? undefined : callType?.spec.recorder?.standby;
    const wanted = standby?.replicas ?? 0;
    const template = standby && callType ? standbyPod({ callType, namespace: standby.namespace, name: 'template', image: this.o.recorderImage, gracePeriodSeconds: this.o.podGracePeriodSeconds }) : undefined;
    const digest = template && specDigest(template);

    const members = this.members(name);
    const stale = members.filter((p) => p.metadata?.annotations?.[standbySpecAnnotation] !== digest || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed');
    const current = members.filter((p) => !stale.includes(p));
    // Extras go first among those not Ready yet: a Ready one is worth more.
    const extras = [...current].sort((a, b) => Number(available(a)) - Number(available(b))).slice(0, Math.max(0, current.length - wanted));
    for (const pod of [...stale, ...extras]) {
      log.info({ pod: pod.metadata?.name, namespace: pod.metadata?.namespace, reason: stale.includes(pod) ? 'ended or made for an earlier spec' : 'more than spec.recorder.standby.replicas' }, 'removing a standby recorder');
      // Only the version seen: a Recording may have taken it meanwhile (its claim changes the version).
      await this.o.api.delete(apiPath.core('pods', pod.metadata!.namespace, pod.metadata!.name), pod.metadata!.resourceVersion).catch((err: { code?: number }) => {
        if (err.code !== 404 && err.code !== 409) throw err;
      });
    }

    const pending = this.pendingCreations(name, members);
    const missing = wanted - (current.length - extras.length) - pending.size;
    for (let i = 0; i < missing && template && standby && callType; i++) {
      const pod = standbyPod({ callType, namespace: standby.namespace, name: standbyPodName(name), image: this.o.recorderImage, gracePeriodSeconds: this.o.podGracePeriodSeconds });
      pod.metadata!.annotations = { [standbySpecAnnotation]: digest! };
      const createdPod = await this.o.api.create<V1Pod>(apiPath.core('pods', standby.namespace), pod);
      pending.set(pod.metadata!.name!, Date.now());
      // The Secret follows the Pod so that it can be owned by it; the kubelet waits for it to mount.
      await this.o.api.create<V1Secret>(apiPath.core('secrets', standby.namespace), standbySecret(createdPod, newStandbyKey()));
      log.info({ pod: pod.metadata?.name, namespace: standby.namespace }, 'standby recorder created');
    }
    if (callType && !callType.metadata?.deletionTimestamp) {
      const ready = current.filter((p) => !extras.includes(p) && available(p)).length;
      await this.reportStatus(callType, standby ? { replicas: wanted, readyReplicas: ready } : undefined);
    }
    // Look again while some are on their way (the cache shows them, Pod events enqueue this too).
    return pending.size > 0 ? { requeueAfterMs: 5_000 } : undefined;
  }

  /** CallType status.standby, written when it changed (a merge patch of that field alone; null removes it). */
  private async reportStatus(callType: CallType, standby: CallTypeStatus['standby']): Promise<void> {
    const previous = callType.status?.standby;
    if (previous?.replicas === standby?.replicas && previous?.readyReplicas === standby?.readyReplicas) return;
    await this.o.api.mergePatch(callTypePath(callType.metadata!.name!, 'status'), { status: { standby: standby ?? null } });
  }

  /** Creations this operator made that the cache does not show yet (forgotten after creationGraceMs). */
  private pendingCreations(name: string, members: V1Pod[]): Map<string, number> {
    const pending = this.created.get(name) ?? new Map<string, number>();
    this.created.set(name, pending);
    const seen = new Set(members.map((p) => p.metadata?.name));
    for (const [pod, at] of pending) if (seen.has(pod) || Date.now() - at > creationGraceMs) pending.delete(pod);
    return pending;
  }
}
