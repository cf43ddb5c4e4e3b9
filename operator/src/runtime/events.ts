// Kubernetes Events for the objects the operator manages (what `kubectl describe` shows).
import { CoreV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';

export class EventRecorder {
  private readonly api: CoreV1Api;
  private readonly component: string;
  private readonly log: Logger;

  constructor(kc: KubeConfig, component: string, log: Logger) {
    this.api = kc.makeApiClient(CoreV1Api);
    this.component = component;
    this.log = log;
  }

  /** Records an event; never fails the caller (events are best effort, as in client-go). */
  async record(object: KubernetesObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = object.metadata?.namespace ?? 'default';
    const now = new Date();
    try {
      await this.api.createNamespacedEvent({
        namespace,
        body: {
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
          eventTime: undefined,
          count: 1,
        },
      });
    } catch (err) {
      this.log.debug({ err: (err as Error).message, reason }, 'event not recorded');
    }
  }
}
