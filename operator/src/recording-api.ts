// The operator's own API group: its name, the paths of its resources, and its finalizers, in one place
// for every controller and the call-events receiver.
import { apiPath } from './runtime/kube-api.ts';

export const group = 'recording.dev';
export const version = 'v1alpha1';
export const groupVersion = `${group}/${version}`;

/** A Recording (or the collection of a namespace, without a name), or one of its subresources. */
export const recordingPath = (namespace: string, name?: string, subresource?: string) => apiPath.group(groupVersion, 'recordings', namespace, name, subresource);
export const callTypePath = (name: string, subresource?: string) => apiPath.group(groupVersion, 'calltypes', undefined, name, subresource);

/** Held while files must be removed from storage (reclaimPolicy Delete). */
export const storageFinalizer = 'recording.dev/storage-cleanup';
/** Held while a deleted Recording still has webhook events to send. */
export const webhooksFinalizer = 'recording.dev/webhooks';
