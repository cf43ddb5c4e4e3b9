// Metrics under controller-runtime's names, so existing dashboards and alerts work unchanged.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({ name: 'controller_runtime_reconcile_total', help: 'Total number of reconciliations per controller', labelNames: ['controller', 'result'], registers: [this.registry] });
  readonly reconcileErrors = new Counter({ name: 'controller_runtime_reconcile_errors_total', help: 'Total number of reconciliation errors per controller', labelNames: ['controller'], registers: [this.registry] });
  readonly terminalErrors = new Counter({ name: 'controller_runtime_terminal_reconcile_errors_total', help: 'Total number of terminal reconciliation errors per controller', labelNames: ['controller'], registers: [this.registry] });
  readonly reconcileTime = new Histogram({ name: 'controller_runtime_reconcile_time_seconds', help: 'Length of time per reconciliation per controller', labelNames: ['controller'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });
  readonly activeWorkers = new Gauge({ name: 'controller_runtime_active_workers', help: 'Number of currently used workers per controller', labelNames: ['controller'], registers: [this.registry] });
  readonly maxWorkers = new Gauge({ name: 'controller_runtime_max_concurrent_reconciles', help: 'Maximum number of concurrent reconciles per controller', labelNames: ['controller'], registers: [this.registry] });
  readonly queueDepth = new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames: ['name'], registers: [this.registry] });
  readonly queueAdds = new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames: ['name'], registers: [this.registry] });
  readonly queueRetries = new Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames: ['name'], registers: [this.registry] });
  readonly apiRequests = new Counter({ name: 'rest_client_requests_total', help: 'Number of HTTP requests to the Kubernetes API, partitioned by status code and method', labelNames: ['code', 'method'], registers: [this.registry] });
  // Recording metrics (the product's own, beside controller-runtime's).
  readonly recordingsFinished = new Counter({ name: 'recording_operator_recordings_finished_total', help: 'Recordings that reached UPLOADED or ERRORED, by phase and stop reason', labelNames: ['phase', 'stop_reason'], registers: [this.registry] });
  readonly recordedSeconds = new Counter({ name: 'recording_operator_recorded_seconds_total', help: 'Seconds recorded by finished recordings (pauses excluded)', registers: [this.registry] });
  readonly webhookDeliveries = new Counter({ name: 'recording_operator_webhook_deliveries_total', help: 'Webhook delivery attempts, by result: success (2xx), failure (retried), gave_up (retry window over or endpoint removed)', labelNames: ['result'], registers: [this.registry] });
  readonly webhookRequestTime = new Histogram({ name: 'recording_operator_webhook_request_duration_seconds', help: 'Duration of one webhook delivery attempt (HTTP request and answer)', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry] });
  readonly webhookLatency = new Histogram({ name: 'recording_operator_webhook_delivery_latency_seconds', help: 'Time from the transition that caused a webhook event to its successful delivery (retries included)', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600], registers: [this.registry] });
  readonly callEvents = new Counter({ name: 'recording_operator_call_events_total', help: 'Inbound call events (auto-on), by event type and result (created, stopped, ignored, rejected)', labelNames: ['type', 'result'], registers: [this.registry] });
  private cacheView: CacheView = { recordingsByPhase: () => ({}), oldestWaitSeconds: () => ({}), storageReachable: () => ({}) };
  readonly recordings = this.cacheGauge('recording_operator_recordings', 'Recordings known to the operator, by phase (PENDING: no status yet)', 'phase', () => this.cacheView.recordingsByPhase());
  readonly oldestWait = this.cacheGauge('recording_operator_recording_wait_seconds', 'Seconds the oldest Recording has spent in a phase that should be brief (PENDING since creation, INVOKED since accepted, UPLOADING since capture ended); 0 when none is', 'phase', () => this.cacheView.oldestWaitSeconds());
  readonly storageReachable = this.cacheGauge('recording_operator_calltype_storage_reachable', "1 when the CallType's storage answered its last check (condition StorageReachable), 0 when it did not", 'calltype', () => this.cacheView.storageReachable());
  readonly leader = new Gauge({ name: 'leader_election_master_status', help: 'Whether this process is the leader (1) or not (0)', labelNames: ['name'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Where the cache gauges read from (the leader's informer caches), at each scrape. */
  readFromCaches(view: CacheView): void {
    this.cacheView = view;
  }

  /** A gauge whose values are computed at scrape time; series that are gone disappear. */
  private cacheGauge(name: string, help: string, label: string, values: () => Record<string, number>): Gauge {
    const gauge: Gauge = new Gauge({
      name, help, labelNames: [label], registers: [this.registry],
      collect: () => {
        gauge.reset();
        for (const [value, n] of Object.entries(values())) gauge.set({ [label]: value }, n);
      },
    });
    return gauge;
  }
}

/** Gauge values by label value. A standby has no caches and reports none, so sums over replicas stay right. */
export interface CacheView {
  recordingsByPhase(): Record<string, number>;
  oldestWaitSeconds(): Record<string, number>;
  storageReachable(): Record<string, number>;
}
