// Delivers the webhook events waiting in Recordings' status (status.events, the outbox the Recording
// reconciler appends to in the same write as the transition), in order per Recording and endpoint,
// at least once: an event leaves the outbox only after its endpoint answered 2xx (or it was given up
// after the endpoint's retryWindowSeconds), and that removal is written with the Recording's
// resourceVersion, so it never overwrites an event appended meanwhile. Delivery state per endpoint is
// in status.webhooks. Holds the recording.dev/webhooks finalizer while a deleted Recording still has
// events to send.
import type { Logger } from 'pino';
import type { CallType, PendingWebhookEvent, Recording, WebhookDeliveryStatus, WebhookSpec } from '@recording-operator/common/api/generated/types.ts';
import type { ReconcileResult, Reconciler } from '../runtime/controller.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { ResilientInformer } from '../runtime/informer.ts';
import { recordingPath, webhooksFinalizer } from '../recording-api.ts';
import { KubeApiError, type KubeApi } from '../runtime/kube-api.ts';
import type { ControllerMetrics } from '../runtime/metrics.ts';
import { deliver, type DeliveryResult } from './delivery.ts';
import type { SigningKeys } from './signing-keys.ts';

export interface WebhookDispatcherOptions {
  api: KubeApi;
  recordings: ResilientInformer<Recording>;
  callTypes: ResilientInformer<CallType>;
  keys: SigningKeys;
  events: EventRecorder;
  metrics: ControllerMetrics;
  /** The longest wait between two attempts at one event. */
  maxBackoffMs: number;
}

/** Whether a Recording has anything for the dispatcher: events to send, or a finalizer to release. */
export function needsDispatch(r: Recording): boolean {
  return (r.status?.events?.length ?? 0) > 0 || (Boolean(r.metadata?.deletionTimestamp) && Boolean(r.metadata?.finalizers?.includes(webhooksFinalizer)));
}

/** 1 s, 2 s, 4 s, … up to the maximum, ±20 % so that endpoints coming back are not hit in lockstep. */
export function backoffMs(attempts: number, maxBackoffMs: number): number {
  const base = Math.min(maxBackoffMs, 1000 * 2 ** Math.min(attempts - 1, 30));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

export class WebhookDispatcher implements Reconciler {
  private readonly o: WebhookDispatcherOptions;
  /**
   * Each endpoint's delivery state as this process last computed it, which the cache may not show yet
   * (Recording key → its uid and the state per endpoint): after a status write that lost a race, or
   * before the informer caught up, nothing is sent twice, no backoff is cut short and no count is lost.
   */
  private readonly remembered = new Map<string, { uid: string; states: Map<string, WebhookDeliveryStatus> }>();

  constructor(options: WebhookDispatcherOptions) {
    this.o = options;
  }

  async reconcile(key: string, log: Logger): Promise<ReconcileResult | void> {
    const [namespace, name] = key.split('/') as [string, string];
    const recording = this.o.recordings.get(name, namespace);
    if (!recording) return void this.remembered.delete(key);
    const pending = recording.status?.events ?? [];
    if (pending.length === 0) {
      this.remembered.delete(key);
      return this.releaseFinalizer(recording);
    }
    const uid = recording.metadata!.uid!;
    let remembered = this.remembered.get(key);
    if (remembered?.uid !== uid) this.remembered.set(key, (remembered = { uid, states: new Map() }));

    const callType = this.o.callTypes.get(recording.spec.callType);
    const endpoints = new Map((callType?.spec.webhooks ?? []).map((w) => [w.name, w]));
    const previous = new Map((recording.status?.webhooks ?? []).map((s) => [s.name, s]));
    const names = [...new Set(pending.flatMap((e) => e.endpoints))];
    const now = Date.now();
    const states = await Promise.all(
      names.map(async (endpointName) => {
        const cached = previous.get(endpointName);
        const known = remembered.states.get(endpointName);
        const from = known && (known.deliveredSeq ?? 0) >= (cached?.deliveredSeq ?? 0) ? known : { ...cached, name: endpointName };
        const state = await this.deliverTo(recording, endpoints.get(endpointName), from, pending, now, log);
        remembered.states.set(endpointName, state);
        return state;
      }),
    );
    const stateOf = new Map(states.map((s) => [s.name, s]));
    const remaining = pending
      .map((e) => ({ ...e, endpoints: e.endpoints.filter((n) => e.seq > (stateOf.get(n)?.deliveredSeq ?? 0)) }))
      .filter((e) => e.endpoints.length > 0);
    const webhooks = [...[...previous.values()].filter((s) => !stateOf.has(s.name)), ...states].sort((a, b) => a.name.localeCompare(b.name));

    let resourceVersion: string | undefined;
    try {
      const written = await this.o.api.mergePatch<Recording>(recordingPath(namespace, name, 'status'), { metadata: { resourceVersion: recording.metadata!.resourceVersion }, status: { events: remaining, webhooks } });
      resourceVersion = written.metadata?.resourceVersion;
    } catch (err) {
      // An event appended meanwhile (409): look again once the cache has it; what was delivered is remembered.
      if (err instanceof KubeApiError && err.code === 409) return { requeueAfterMs: 20 };
      throw err;
    }
    if (remaining.length === 0) return this.releaseFinalizer({ ...recording, metadata: { ...recording.metadata, resourceVersion } });
    const next = Math.min(...states.map((s) => (s.nextAttemptTime ? Date.parse(s.nextAttemptTime) : now + 1000)));
    return { requeueAfterMs: Math.max(10, next - Date.now()) };
  }

  /** Sends this endpoint's events in order until one fails or must wait; returns its new delivery state. */
  private async deliverTo(recording: Recording, endpoint: WebhookSpec | undefined, from: WebhookDeliveryStatus, pending: PendingWebhookEvent[], now: number, log: Logger): Promise<WebhookDeliveryStatus> {
    const name = from.name;
    let state: WebhookDeliveryStatus = { ...from, deliveredSeq: from.deliveredSeq ?? 0 };
    const queue = pending.filter((e) => e.endpoints.includes(name) && e.seq > state.deliveredSeq!).sort((a, b) => a.seq - b.seq);
    for (const event of queue) {
      if (!endpoint) {
        // The endpoint was removed from the CallType: there is nowhere to send the event any more.
        state = this.gaveUp(recording, state, event, `endpoint ${name} is no longer in CallType ${recording.spec.callType}`, log);
        continue;
      }
      if (state.nextAttemptTime && Date.parse(state.nextAttemptTime) > now) break;
      const result = await this.attempt(endpoint, event, log);
      if (result.ok) {
        state = { name, deliveredSeq: event.seq, delivered: (state.delivered ?? 0) + 1, gaveUp: state.gaveUp, lastSuccessTime: new Date().toISOString() };
        this.o.metrics.webhookDeliveries.inc({ result: 'success' });
        this.o.metrics.webhookLatency.observe((Date.now() - Date.parse(event.time)) / 1000);
        continue;
      }
      const windowMs = (endpoint.retryWindowSeconds ?? 86_400) * 1000;
      if (Date.now() - Date.parse(event.time) >= windowMs) {
        state = this.gaveUp(recording, { ...state, lastError: result.error }, event, `no delivery within retryWindowSeconds (${endpoint.retryWindowSeconds ?? 86_400} s); last error: ${result.error}`, log);
        continue;
      }
      const attempts = (state.attempts ?? 0) + 1;
      this.o.metrics.webhookDeliveries.inc({ result: 'failure' });
      if (attempts === 1) void this.o.events.record(recording, 'Warning', 'WebhookDeliveryFailed', `event ${event.type} (${event.id}) to endpoint ${name}: ${result.error}; retrying with backoff`);
      log.info({ endpoint: name, event: event.id, type: event.type, attempts, err: result.error }, 'webhook delivery failed; will retry');
      state = { ...state, attempts, failingSince: state.failingSince ?? new Date().toISOString(), lastError: result.error.slice(0, 1024), nextAttemptTime: new Date(Date.now() + backoffMs(attempts, this.o.maxBackoffMs)).toISOString() };
      break;
    }
    return state;
  }

  private async attempt(endpoint: WebhookSpec, event: PendingWebhookEvent, log: Logger): Promise<DeliveryResult> {
    let key: Buffer;
    try {
      key = await this.o.keys.get(endpoint.secretRef);
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
    const end = this.o.metrics.webhookRequestTime.startTimer();
    const result = await deliver(endpoint, key, event);
    end();
    log.debug({ endpoint: endpoint.name, event: event.id, type: event.type, result }, 'webhook delivery attempt');
    return result;
  }

  private gaveUp(recording: Recording, state: WebhookDeliveryStatus, event: PendingWebhookEvent, why: string, log: Logger): WebhookDeliveryStatus {
    this.o.metrics.webhookDeliveries.inc({ result: 'gave_up' });
    log.warn({ endpoint: state.name, event: event.id, type: event.type, why }, 'webhook event given up');
    void this.o.events.record(recording, 'Warning', 'WebhookGaveUp', `event ${event.type} (${event.id}) was not delivered to endpoint ${state.name}: ${why}`);
    return { ...state, deliveredSeq: event.seq, gaveUp: (state.gaveUp ?? 0) + 1, attempts: undefined, nextAttemptTime: undefined, failingSince: undefined };
  }

  /** A deleted Recording with nothing left to send may go. */
  private async releaseFinalizer(recording: Recording): Promise<void> {
    const finalizers = recording.metadata?.finalizers ?? [];
    if (!recording.metadata?.deletionTimestamp || !finalizers.includes(webhooksFinalizer)) return;
    await this.o.api.mergePatch(recordingPath(recording.metadata.namespace!, recording.metadata.name), { metadata: { finalizers: finalizers.filter((f) => f !== webhooksFinalizer), resourceVersion: recording.metadata.resourceVersion } }).catch((err: unknown) => {
      if (err instanceof KubeApiError && (err.code === 404 || err.code === 409)) return; // gone, or changed: the next pass decides
      throw err;
    });
  }
}
