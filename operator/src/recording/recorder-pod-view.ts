// The part of a recorder Pod the Recording controller reads: identity, labels, owners, phase, IP and the
// recorder container's state (its termination message is the final report). The Pod's spec, with the
// recorder configuration in its environment, is most of the object and is never read after creation,
// so the cache does not keep it: with 1,000 recordings that is most of the operator's memory.
import type { V1Pod } from '@kubernetes/client-node';
import { stripBookkeeping } from '../runtime/informer.ts';

export function recorderPodView(pod: V1Pod): V1Pod {
  const { metadata, status } = stripBookkeeping(pod);
  return {
    metadata,
    status: status && { phase: status.phase, reason: status.reason, message: status.message, podIP: status.podIP, containerStatuses: status.containerStatuses },
  };
}
