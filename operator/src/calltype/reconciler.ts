// CallType status: a real connectivity check of its storage (condition StorageReachable) and the
// number of its Recordings that have not ended. Rechecked every minute.
import type { Logger } from 'pino';
import type { CallType, CallTypeStatus, Recording } from '@recording-operator/common/api/generated/types.ts';
import type { ReconcileResult, Reconciler } from '../runtime/controller.ts';
import { jsonEqual } from '../runtime/json-equal.ts';
import { callTypePath } from '../recording-api.ts';
import type { KubeApi } from '../runtime/kube-api.ts';
import type { ResilientInformer } from '../runtime/informer.ts';
import { setCondition } from '../recording/conditions.ts';
import { storageErrorMessage } from '@recording-operator/common/storage/errors.ts';
import { isTerminal } from '../recording/observe.ts';
import type { StorageAccess } from '../storage.ts';

export class CallTypeReconciler implements Reconciler {
  private readonly o: { api: KubeApi; callTypes: ResilientInformer<CallType>; recordings: ResilientInformer<Recording>; storage: StorageAccess; recheckMs: number };

  constructor(options: { api: KubeApi; callTypes: ResilientInformer<CallType>; recordings: ResilientInformer<Recording>; storage: StorageAccess; recheckMs: number }) {
    this.o = options;
  }

  async reconcile(name: string, log: Logger): Promise<ReconcileResult | void> {
    const callType = this.o.callTypes.get(name);
    if (!callType) return;
    const now = new Date();
    const active = this.o.recordings.listCached().filter((r) => r.spec.callType === name && !isTerminal(r.status?.phase)).length;
    const check = await this.checkStorage(callType);
    const previous = callType.status ?? {};
    const conditions = setCondition(previous.conditions, { type: 'StorageReachable', status: check.ok ? 'True' : 'False', reason: check.ok ? 'BucketReachable' : 'StorageUnreachable', message: check.message, observedGeneration: callType.metadata?.generation }, now);
    const next: CallTypeStatus = {
      observedGeneration: callType.metadata?.generation,
      activeRecordings: active,
      storage: { lastCheckTime: now.toISOString(), message: check.message },
      conditions: setCondition(conditions, { type: 'Ready', status: check.ok ? 'True' : 'False', reason: check.ok ? 'Ready' : 'StorageUnreachable', message: check.ok ? 'storage reachable' : check.message, observedGeneration: callType.metadata?.generation }, now),
    };
    if (previous.activeRecordings !== next.activeRecordings || previous.observedGeneration !== next.observedGeneration || previous.storage?.message !== next.storage?.message || !sameConditions(previous, next)) {
      await this.o.api.mergePatch(callTypePath(name, 'status'), { status: next });
      if (!check.ok) log.warn({ message: check.message }, 'storage unreachable');
    }
    return { requeueAfterMs: this.o.recheckMs };
  }

  private async checkStorage(callType: CallType): Promise<{ ok: boolean; message: string }> {
    const storage = callType.spec.storage;
    try {
      const store = await this.o.storage.store(storage);
      await Promise.race([
        store.checkReachable(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 5 s')), 5000).unref()),
      ]);
      return { ok: true, message: `${target(storage)} is reachable` };
    } catch (err) {
      return { ok: false, message: `${target(storage)}: ${storageErrorMessage(err)}` };
    }
  }
}

/** What the check reached, in the storage's own words: bucket X, container X, SFTP server host:port. */
function target(storage: CallType['spec']['storage']): string {
  if (storage.type === 'sftp') return `SFTP server ${new URL(storage.endpoint!).host}`;
  return `${storage.type === 'azure' ? 'container' : 'bucket'} ${storage.bucket}`;
}

function sameConditions(a: CallTypeStatus, b: CallTypeStatus): boolean {
  const strip = (s: CallTypeStatus) => (s.conditions ?? []).map((c) => ({ ...c, lastTransitionTime: undefined }));
  return jsonEqual(strip(a), strip(b));
}
