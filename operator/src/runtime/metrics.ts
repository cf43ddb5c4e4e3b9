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
  private countByPhase: () => Record<string, number> = () => ({});
  readonly recordings = new Gauge({
    name: 'recording_operator_recordings',
    help: 'Recordings known to the operator, by phase (PENDING: no status yet)',
    labelNames: ['phase'],
    registers: [this.registry],
    collect: () => {
      this.recordings.reset();
      for (const [phase, n] of Object.entries(this.countByPhase())) this.recordings.set({ phase }, n);
    },
  });
  readonly leader = new Gauge({ name: 'leader_election_master_status', help: 'Whether this process is the leader (1) or not (0)', labelNames: ['name'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Where recording_operator_recordings counts from (the Recording cache), read at each scrape. */
  countRecordingsWith(count: () => Record<string, number>): void {
    this.countByPhase = count;
  }
}
