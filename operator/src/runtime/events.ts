// Kubernetes Events for the objects the operator manages (what `kubectl describe` shows).
import type { CoreV1Event, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { apiPath, type KubeApi } from './kube-api.ts';

export class EventRecorder {
  private readonly api: KubeApi;
  private readonly component: string;
  private readonly log: Logger;

  constructor(api: KubeApi, component: string, log: Logger) {
    this.api = api;
    this.component = component;
    this.log = log;
  }

  /** Records an event; never fails the caller (events are best effort, as in client-go). */
  async record(object: KubernetesObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = object.metadata?.namespace ?? 'default';
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    try {
      await this.api.create<CoreV1Event>(apiPath.core('events', namespace), {
          metadata: { generateName: `${object.metadata?.name ?? 'object'}.`, namespace },
          involvedObject: { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata?.name, namespace: object.metadata?.namespace, uid: object.metadata?.uid },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: this.component },
          reportingComponent: this.component,
          reportingInstance: this.component,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        } as unknown as CoreV1Event);
    } catch (err) {
      this.log.debug({ err: (err as Error).message, reason }, 'event not recorded');
    }
  }
}
