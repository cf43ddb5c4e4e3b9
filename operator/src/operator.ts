// Wires the operator together: informers, the Recording, CallType, webhook and standby-pool controllers, leader election,
// health and metrics, graceful shutdown.
import { hostname } from 'node:os';
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { CallType, Recording } from '@recording-operator/common/api/generated/types.ts';
import { CallTypeReconciler } from './calltype/reconciler.ts';
import type { OperatorConfig } from './config.ts';
import { labels } from './recording/desired-pod.ts';
import { group, RecordingReconciler, version } from './recording/reconciler.ts';
import { RecorderWatch } from './recording/recorder-watch.ts';
import { recorderPodView } from './recording/recorder-pod-view.ts';
import { Controller } from './runtime/controller.ts';
import { StandbyPoolReconciler } from './standby/pool.ts';
import { EventRecorder } from './runtime/events.ts';
import { startHealthServer } from './runtime/health.ts';
import { ResilientInformer } from './runtime/informer.ts';
import { KubeApi, type KubeConnection } from './runtime/kube-api.ts';
import { LeaderElector } from './runtime/leader-election.ts';
import { ControllerMetrics } from './runtime/metrics.ts';
import { StorageAccess } from './storage.ts';
import { CallEventReceiver, startCallEventServer } from './call-events/receiver.ts';
import { needsDispatch, WebhookDispatcher } from './webhooks/dispatcher.ts';
import { SigningKeys } from './webhooks/signing-keys.ts';
import { countByPhase, oldestWaitSeconds, storageReachability } from './observability/cache-gauges.ts';

const recorderPodSelector = `${labels.component}=recorder,${labels.managedBy}=recording-operator`;

export class Operator {
  readonly metrics = new ControllerMetrics();
  private readonly informers: ResilientInformer<never>[] = [];
  private controllers: Controller[] = [];
  private elector?: LeaderElector;
  private recorderWatch?: RecorderWatch;
  private server?: Awaited<ReturnType<typeof startHealthServer>>;
  private callEventServer?: Awaited<ReturnType<typeof startCallEventServer>>;
  private synced = false;
  private stopping = false;
  private readonly api: KubeApi;
  /** Webhook and call-event signing keys: one cache for the receiver and the dispatcher. */
  private readonly keys: SigningKeys;
  private readonly config: OperatorConfig;
  private readonly log: Logger;

  constructor(connection: KubeConnection, config: OperatorConfig, log: Logger) {
    this.api = new KubeApi(connection, (method, code) => this.metrics.apiRequests.inc({ method, code: String(code) }));
    this.config = config;
    this.log = log;
    this.keys = new SigningKeys(this.api, config.OPERATOR_NAMESPACE);
  }

  get healthPort(): number | undefined {
    return this.server?.port;
  }

  get callEventsPort(): number | undefined {
    return this.callEventServer?.port;
  }

  /**
   * Serves health and metrics, then runs the controllers whenever this process holds the lease. Losing
   * the lease (say the apiserver was away longer than the renew deadline) stops the controllers before
   * anyone else can take over, and the process campaigns again instead of exiting.
   */
  async start(): Promise<void> {
    const { api, config, log } = this;
    this.server = await startHealthServer({ port: config.HEALTH_PORT, host: config.HEALTH_HOST, registry: this.metrics.registry, ready: () => this.synced || (this.elector?.standingBy() ?? false) });
    if (config.CALL_EVENTS_ENABLED) {
      // Not only on the leader: the receiver writes through the API, so every replica can take events.
      const receiver = new CallEventReceiver({ api, keys: this.keys, metrics: this.metrics, log: log.child({ component: 'call-events' }) });
      this.callEventServer = await startCallEventServer(receiver, { port: config.CALL_EVENTS_PORT, host: config.CALL_EVENTS_HOST });
    }
    if (!config.LEADER_ELECT) return this.startControllers();
    // A container restarted in the same Pod keeps POD_NAME (downward API) and takes its lease back at once.
    const elector = new LeaderElector({ api, namespace: config.OPERATOR_NAMESPACE, name: config.LEASE_NAME, identity: process.env.POD_NAME ?? `${hostname()}-${process.pid}`, log });
    this.elector = elector;
    const leading = new Promise<void>((resolve) => {
      void (async () => {
        while (!this.stopping) {
          let lost!: () => void;
          const lostLease = new Promise<void>((r) => (lost = r));
          this.metrics.leader.set({ name: config.LEASE_NAME }, 0);
          await elector.acquire(() => lost());
          if (this.stopping) return;
          this.metrics.leader.set({ name: config.LEASE_NAME }, 1);
          await this.startControllers();
          resolve();
          await lostLease;
          log.warn('lost the lease: controllers stopped; campaigning again');
          await this.stopControllers();
        }
      })();
    });
    await leading;
  }

  private async startControllers(): Promise<void> {
    const { api, config, log } = this;
    const recordings = new ResilientInformer<Recording>({ api, log, path: `/apis/${group}/${version}/recordings` });
    const callTypes = new ResilientInformer<CallType>({ api, log, path: `/apis/${group}/${version}/calltypes` });
    const pods = new ResilientInformer<V1Pod>({ api, log, path: '/api/v1/pods', labelSelector: recorderPodSelector, transform: recorderPodView });
    this.informers.push(recordings as never, callTypes as never, pods as never);
    this.metrics.readFromCaches({
      recordingsByPhase: () => countByPhase(recordings.listCached()),
      oldestWaitSeconds: () => oldestWaitSeconds(recordings.listCached(), Date.now()),
      storageReachable: () => storageReachability(callTypes.listCached()),
    });

    const storage = new StorageAccess(api, config.OPERATOR_NAMESPACE);
    const events = new EventRecorder(api, 'recording-operator', log);
    // A recorder's phase change enqueues its Recording at once (the controller exists by the time one comes).
    const recorderWatch = new RecorderWatch({ onChange: (key) => recordingController.enqueue(key), log: log.child({ component: 'recorder-watch' }) });
    this.recorderWatch = recorderWatch;
    const recordingController = new Controller({
      name: 'recording',
      workers: config.RECORDING_WORKERS,
      log,
      metrics: this.metrics,
      reconciler: new RecordingReconciler({ api, metrics: this.metrics, recordings, callTypes, pods, storage, events, recorderImage: config.RECORDER_IMAGE, podGracePeriodSeconds: config.POD_GRACE_SECONDS, uploadRetryWindowSeconds: config.UPLOAD_RETRY_WINDOW_SECONDS, pollMs: config.POLL_MS, watch: recorderWatch }),
    });
    const callTypeController = new Controller({ name: 'calltype', workers: 2, log, metrics: this.metrics, reconciler: new CallTypeReconciler({ api, callTypes, recordings, storage, recheckMs: config.CALLTYPE_RECHECK_MS }) });
    const webhookController = new Controller({
      name: 'webhook',
      workers: config.WEBHOOK_WORKERS,
      log,
      metrics: this.metrics,
      reconciler: new WebhookDispatcher({ api, recordings, callTypes, keys: this.keys, events, metrics: this.metrics, maxBackoffMs: config.WEBHOOK_MAX_BACKOFF_SECONDS * 1000 }),
    });
    const standbyController = new Controller({ name: 'standby', workers: 1, log, metrics: this.metrics, reconciler: new StandbyPoolReconciler({ api, callTypes, pods, recorderImage: config.RECORDER_IMAGE, podGracePeriodSeconds: config.POD_GRACE_SECONDS }) });
    this.controllers = [recordingController, callTypeController, webhookController, standbyController];

    const recordingKey = (r: Recording) => `${r.metadata?.namespace}/${r.metadata?.name}`;
    const onRecording = (r: Recording) => {
      recordingController.enqueue(recordingKey(r));
      callTypeController.enqueue(r.spec.callType);
      if (needsDispatch(r)) webhookController.enqueue(recordingKey(r));
    };
    recordings.addHandlers({ onAdd: onRecording, onUpdate: onRecording, onDelete: (r) => callTypeController.enqueue(r.spec.callType) });
    const onPod = (p: V1Pod) => {
      const owner = p.metadata?.labels?.[labels.recording];
      if (owner) recordingController.enqueue(`${p.metadata?.namespace}/${owner}`);
      // A standby recorder that became Ready, ended, or was taken: its pool may need another.
      const callType = p.metadata?.labels?.[labels.callType];
      if (callType && callTypes.get(callType)?.spec.recorder?.standby) standbyController.enqueue(callType);
    };
    pods.addHandlers({ onAdd: onPod, onUpdate: onPod, onDelete: onPod });
    const onCallType = (ct: CallType) => {
      callTypeController.enqueue(ct.metadata!.name!);
      standbyController.enqueue(ct.metadata!.name!);
      // A CallType that appears or changes may unblock Recordings waiting for it (GitOps applies in any order).
      for (const r of recordings.listCached()) if (r.spec.callType === ct.metadata?.name && !r.status?.podName) recordingController.enqueue(recordingKey(r));
    };
    callTypes.addHandlers({ onAdd: onCallType, onUpdate: onCallType, onDelete: (ct) => standbyController.enqueue(ct.metadata!.name!) });

    // Workers start only once every cache holds a full list.
    await Promise.all([recordings.start(), callTypes.start(), pods.start()]);
    await Promise.all([recordings.synced, callTypes.synced, pods.synced]);
    this.synced = true;
    for (const c of this.controllers) c.start();
    log.info({ recordings: recordings.listCached().length, callTypes: callTypes.listCached().length }, 'caches synced; controllers started');
  }

  private async stopControllers(): Promise<void> {
    this.synced = false;
    this.recorderWatch?.stop();
    this.recorderWatch = undefined;
    await Promise.all(this.controllers.map((c) => c.stop()));
    await Promise.all(this.informers.map((i) => i.stop()));
    this.controllers = [];
    this.informers.length = 0;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.stopControllers();
    await this.elector?.release();
    this.server?.close();
    this.callEventServer?.close();
  }
}
