// Reconciles one Recording: admission rules (mode, one active recording per call, allowed pages), the
// per-recording Secret and recorder Pod, status from the recorder and its Pod, spec.state as pause /
// resume / stop, signed download URLs, labels, and file removal on deletion (reclaimPolicy Delete).
// Level-triggered and idempotent: everything is recomputed from the caches on every pass.
import { randomBytes } from 'node:crypto';
import type { V1Pod, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { CallType, Recording, RecordingStatus, StorageSpec } from '@recording-operator/common/api/generated/types.ts';
import { recorderSecretFiles } from '@recording-operator/common/protocol/recorder-config.ts';
import { sealAssignment, standbyKeyFile, type StandbyAssignment } from '@recording-operator/common/protocol/standby.ts';
import { storageSecretFiles } from '@recording-operator/common/protocol/storage-secret-files.ts';
import type { RecorderStatus } from '@recording-operator/common/protocol/recorder-report.ts';
import type { ReconcileResult, Reconciler } from '../runtime/controller.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { ControllerMetrics } from '../runtime/metrics.ts';
import type { ResilientInformer } from '../runtime/informer.ts';
import { jsonEqual } from '../runtime/json-equal.ts';
import { apiPath, type KubeApi } from '../runtime/kube-api.ts';
import type { ObjectStore, StoreCredentials } from '@recording-operator/common/storage/object-store.ts';
import { NoDownloadUrlError, parseLocation } from '@recording-operator/common/storage/object-store.ts';
import type { StorageAccess } from '../storage.ts';
import { callUrl } from './call-url.ts';
import { desiredPod, labels, podName, recordingOwner, secretName } from './desired-pod.ts';
import { available, fitsStandby } from '../standby/standby-pod.ts';
import { effectiveSettings, maxDurationLimitSeconds, SettingsError } from './effective-settings.ts';
import { setCondition } from './conditions.ts';
import { awaitingSalvage, errored, isTerminal, observedStatus, recorderJustStarted, recorderRestarts, recorderTermination, startingPollMs, type Phase } from './observe.ts';
import { objectKey, recorderConfig, recorderPort } from './recorder-spec.ts';
import type { RecorderEndpoint, RecorderWatch } from './recorder-watch.ts';
import { callTypePath, recordingPath, storageFinalizer, webhooksFinalizer } from '../recording-api.ts';
import { appendToOutbox, outboxLimit, pendingEventsFor } from '../webhooks/recording-events.ts';

export { group, version } from '../recording-api.ts';

export interface RecordingReconcilerOptions {
  api: KubeApi;
  metrics?: ControllerMetrics;
  recordings: ResilientInformer<Recording>;
  callTypes: ResilientInformer<CallType>;
  pods: ResilientInformer<V1Pod>;
  storage: StorageAccess;
  events: EventRecorder;
  recorderImage: string;
  podGracePeriodSeconds: number;
  uploadRetryWindowSeconds: number;
  /** How often to read a running recorder's status. */
  pollMs: number;
  /** Follows running recorders' phases between polls (a long poll per recorder). */
  watch?: RecorderWatch;
}

type Loose = Record<string, unknown>;

export class RecordingReconciler implements Reconciler {
  private readonly api: KubeApi;
  private readonly tokens = new Map<string, string>();
  private readonly o: RecordingReconcilerOptions;

  constructor(options: RecordingReconcilerOptions) {
    this.o = options;
    this.api = options.api;
  }

  async reconcile(key: string, log: Logger): Promise<ReconcileResult | void> {
    const [namespace, name] = key.split('/') as [string, string];
    const cached = this.o.recordings.get(name, namespace);
    if (!cached) {
      this.o.watch?.forget(key);
      return;
    }
    const recording = structuredClone(cached) as Recording;
    const now = new Date();
    if (recording.metadata?.deletionTimestamp) return this.finalize(recording, log);

    const callType = await this.callType(recording.spec.callType);
    const pod = this.recorderPod(recording);
    await this.ensureLabels(recording);
    // A Recording whose events go to webhooks is not removed before they are sent (the dispatcher lets go).
    if (callType?.spec.webhooks?.length) await this.ensureFinalizer(recording, webhooksFinalizer);

    if (awaitingSalvage(recording.status) && pod) return this.followSalvage(recording, pod, callType, log);
    if (isTerminal(recording.status?.phase)) return this.maintainOutput(recording, callType, log);

    if (!pod && !recording.status?.podName) {
      // Not started yet: admission rules first.
      const refusal = await this.confirmedRefusal(recording, callType);
      if (refusal) {
        if (refusal.code === 'CALL_TYPE_NOT_FOUND') {
          // Not an error: with GitOps a Recording may arrive before its CallType. Wait, and say so.
          const waiting = observedStatus(recording, { now, podGone: false });
          const generation = recording.metadata?.generation;
          waiting.conditions = setCondition(waiting.conditions, { type: 'Reconciling', status: 'True', reason: 'CallTypeNotFound', message: `waiting for ${refusal.message.replace('does not exist', 'to exist')}`, observedGeneration: generation }, now);
          waiting.conditions = setCondition(waiting.conditions, { type: 'Ready', status: 'False', reason: 'CallTypeNotFound', message: refusal.message, observedGeneration: generation }, now);
          await this.writeStatus(recording, waiting, log);
          return { requeueAfterMs: 10_000 };
        }
        await this.writeStatus(recording, errored(recording, refusal.code, refusal.message, now), log);
        return;
      }
      const started = await this.start(recording, callType!, log);
      if (started) return started;
    }

    // A recorder that has finished answered its watch with its report and exits: nothing left to ask.
    // One whose phase has just changed said so in the answer that brought this reconcile here.
    const live = pod ? (this.o.watch?.finalStatus(key) ?? this.o.watch?.takeAnswer(key) ?? (await this.readRecorder(recording, pod, log))) : undefined;
    if (live && pod) await this.driveState(recording, pod, live, log);
    if (live && pod) {
      const endpoint = await this.recorderEndpoint(recording, pod);
      if (endpoint) this.o.watch?.follow(key, endpoint, live.phase);
    }
    const next = observedStatus(recording, { now, pod, podGone: !pod && Boolean(recording.status?.podName) && !this.podJustCreated(recording), live });
    if (next.phase === 'UPLOADED' && callType) {
      // UPLOADED and its download URL arrive in one write: nobody sees an uploaded recording without one.
      const { status, refreshInMs } = await this.withDownloadUrls(recording, next, callType);
      await this.writeStatus(recording, status, log);
      return refreshInMs ? { requeueAfterMs: refreshInMs } : {};
    }
    await this.writeStatus(recording, next, log);
    if (isTerminal(next.phase)) {
      this.o.watch?.forget(key);
      return this.maintainOutput({ ...recording, status: next }, callType, log);
    }
    // A recorder that has just started does not listen yet, and nothing else would bring this Recording
    // back before the next poll: RECORDING, a second later, reached the status up to POLL_MS late
    // (measured through the kubelet: 0.5 s of a 2.7 s start). Ask again soon while it starts up.
    if (!live && pod && next.phase === 'INVOKED' && recorderJustStarted(pod, now)) return { requeueAfterMs: Math.min(this.o.pollMs, startingPollMs) };
    return { requeueAfterMs: this.o.pollMs };
  }

  /**
   * The Recording's recorder Pod: the one its status names, its own (podName) before the status names one,
   * or a standby recorder it took whose name the status has not caught (found by its label).
   */
  private recorderPod(recording: Recording): V1Pod | undefined {
    const { name, namespace } = recording.metadata!;
    const named = recording.status?.podName;
    if (named) return this.o.pods.get(named, namespace);
    return this.o.pods.get(podName(name!), namespace) ?? this.o.pods.listCached(namespace).find((p) => p.metadata?.labels?.[labels.recording] === name && !p.metadata?.labels?.[labels.standby]);
  }

  /** The CallType from the cache, or from the API when the cache has not seen a just-created one yet. */
  private async callType(name: string): Promise<CallType | undefined> {
    const cached = this.o.callTypes.get(name);
    if (cached) return cached;
    return this.api.find<CallType>(callTypePath(name));
  }

  /**
   * The refusal, confirmed against the API where the cache may lag: a recording that just ended may
   * still look active in the cache, and refusing its successor for that would be wrong.
   */
  private async confirmedRefusal(recording: Recording, callType: CallType | undefined): Promise<{ code: string; message: string } | undefined> {
    const refusal = this.refusal(recording, callType);
    if (refusal?.code !== 'ALREADY_RECORDING') return refusal;
    const others = this.activeOthers(recording);
    const fresh = await Promise.all(
      others.map((r) =>
        this.api.find<Recording>(recordingPath(r.metadata!.namespace!, r.metadata!.name)).catch(() => r),
      ),
    );
    return fresh.some((r) => r && !isTerminal(r.status?.phase) && !r.metadata?.deletionTimestamp) ? refusal : this.refusal(recording, callType, fresh.filter((r): r is Recording => r !== undefined));
  }

  /** Other Recordings of the same call that are (per the cache) active and ahead of this one. */
  private activeOthers(recording: Recording, candidates: readonly Recording[] = this.o.recordings.listCached()): Recording[] {
    return candidates
      .filter((r) => r.spec.callType === recording.spec.callType && r.spec.callId === recording.spec.callId && r.metadata?.uid !== recording.metadata?.uid)
      .filter((r) => !isTerminal(r.status?.phase) && !r.metadata?.deletionTimestamp)
      .filter((r) => r.status?.podName || isOlder(r, recording));
  }

  /** Why this Recording may not record, if it may not. */
  private refusal(recording: Recording, callType: CallType | undefined, others?: readonly Recording[]): { code: string; message: string } | undefined {
    if (!callType) return { code: 'CALL_TYPE_NOT_FOUND', message: `CallType ${recording.spec.callType} does not exist` };
    if (callType.spec.recording?.mode === 'disabled') return { code: 'RECORDING_DISABLED', message: `recording is disabled for CallType ${recording.spec.callType} (spec.recording.mode: disabled)` };
    try {
      const settings = effectiveSettings(callType, recording);
      callUrl(callType, recording, settings);
    } catch (err) {
      if (err instanceof SettingsError) return { code: 'INVALID_SETTINGS', message: err.message };
      throw err;
    }
    if (!callType.spec.recording?.allowMultipleRecordings && recording.spec.callId) {
      const earlier = this.activeOthers(recording, others);
      if (earlier.length > 0) {
        const other = earlier[0]!;
        return { code: 'ALREADY_RECORDING', message: `call ${recording.spec.callId} of CallType ${recording.spec.callType} is already being recorded by ${other.metadata?.namespace}/${other.metadata?.name} (allowMultipleRecordings is false)` };
      }
    }
    return undefined;
  }

  private effectiveStorage(recording: Recording, callType: CallType): { storage: StorageSpec; ownNamespace?: string } {
    return recording.spec.storage ? { storage: recording.spec.storage, ownNamespace: recording.metadata?.namespace } : { storage: callType.spec.storage };
  }

  /** Creates the Secret and the Pod (idempotently); returns a result when the pass should end here. */
  private async start(recording: Recording, callType: CallType, log: Logger): Promise<ReconcileResult | undefined> {
    const namespace = recording.metadata!.namespace!;
    const settings = effectiveSettings(callType, recording);
    const { storage, ownNamespace } = this.effectiveStorage(recording, callType);
    if (storage.reclaimPolicy === 'Delete') await this.ensureFinalizer(recording, storageFinalizer);
    const key = objectKey(recording, callType.metadata!.name!, storage, settings);
    const credentialsFailed = async (err: Error) => {
      await this.writeStatus(recording, errored(recording, 'STORAGE_CREDENTIALS', err.message, new Date()), log);
      return undefined;
    };
    const account = await this.o.storage.account(storage, ownNamespace).catch(credentialsFailed);
    if (!account) return {};
    // Issued only when the Secret does not exist yet. They must outlive the recording and its upload.
    const credentials = async () => {
      // The longest the recording may ever run, since spec.maxDurationSeconds can be raised while it records.
      const lifetimeSeconds = maxDurationLimitSeconds + this.o.uploadRetryWindowSeconds + 900;
      // AWS allows 64 characters of [\w+=,.@-] in a session name; CloudTrail shows it.
      const sessionName = `recording-${namespace}-${recording.metadata!.name!}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
      const issued = await this.o.storage.recorderCredentials(storage, account, { bucket: storage.bucket!, objectKeyBase: key, lifetimeSeconds, sessionName }).catch(credentialsFailed);
      if (issued && !issued.scoped) {
        // Said once per recording, as a Warning only when the storage spec or Secret could change it.
        log.info({ reason: issued.reason }, 'recorder gets unscoped storage credentials');
        if (issued.avoidable) void this.o.events.record(recording, 'Warning', 'CredentialsNotScoped', `the recorder gets the storage Secret's own keys: ${issued.reason}`);
      }
      return issued?.credentials;
    };
    const secretFiles = await this.ensureSecret(recording, credentials, log);
    if (!secretFiles) return {};
    const config = recorderConfig({ recording, settings, url: callUrl(callType, recording, settings), endpoint: account.endpoint, key, uploadRetryWindowSeconds: this.o.uploadRetryWindowSeconds });
    let started = fitsStandby(callType, recording, settings) ? await this.takeStandby(recording, callType, { config, secretFiles }, log) : undefined;
    if (!started) {
      const pod = desiredPod({ recording, callType, settings, config, image: this.o.recorderImage, gracePeriodSeconds: this.o.podGracePeriodSeconds });
      started = pod.metadata!.name!;
      try {
        await this.api.create(apiPath.core('pods', namespace), pod);
        log.info({ pod: started }, 'recorder Pod created');
        void this.o.events.record(recording, 'Normal', 'RecorderCreated', `created recorder Pod ${started}`);
      } catch (err) {
        if ((err as { code?: number }).code !== 409) throw err;
      }
    }
    const status: RecordingStatus = observedStatus(recording, { now: new Date(), podGone: false });
    status.podName = started;
    await this.writeStatus(recording, status, log);
    return { requeueAfterMs: 500 };
  }

  /**
   * Takes one of the CallType's standby recorders (standby/pool.ts): claims its Pod (labels and owner,
   * conditional on the cached resourceVersion, so two passes never take the same one) and hands it the
   * recording, sealed with its key. A Pod that cannot take it is deleted and the next is tried; with none
   * left, undefined, and the Recording gets its own Pod.
   */
  private async takeStandby(recording: Recording, callType: CallType, assignment: StandbyAssignment, log: Logger): Promise<string | undefined> {
    const namespace = recording.metadata!.namespace!;
    const name = recording.metadata!.name!;
    const candidates = this.o.pods.listCached(namespace).filter((p) => p.metadata?.labels?.[labels.standby] === callType.metadata!.name && available(p));
    for (const candidate of candidates) {
      const podPath = apiPath.core('pods', namespace, candidate.metadata!.name);
      const claim = { metadata: { resourceVersion: candidate.metadata!.resourceVersion, labels: { [labels.standby]: null, [labels.recording]: name, [labels.callId]: recording.spec.callId ?? null }, ownerReferences: [recordingOwner(recording)] } };
      const pod = await this.api.mergePatch<V1Pod>(podPath, claim).catch((err: { code?: number }) => {
        if (err.code === 409 || err.code === 404) return undefined; // taken by another pass, or gone
        throw err;
      });
      if (!pod) continue;
      try {
        if (pod.metadata?.deletionTimestamp) throw new Error('the Pod is being deleted');
        await this.assign(pod, assignment);
        log.info({ pod: pod.metadata?.name }, 'standby recorder taken');
        void this.o.events.record(recording, 'Normal', 'RecorderCreated', `took standby recorder Pod ${pod.metadata?.name}`);
        return pod.metadata!.name!;
      } catch (err) {
        log.warn({ pod: pod.metadata?.name, err: (err as Error).message }, 'the standby recorder did not take the recording; deleting it');
        await this.api.delete(podPath).catch(() => undefined);
      }
    }
    return undefined;
  }

  /** POST /assign: the configuration and the Recording's Secret files, sealed with the standby Pod's key. */
  private async assign(pod: V1Pod, assignment: StandbyAssignment): Promise<void> {
    const { namespace, name } = pod.metadata!;
    const secret = await this.api.find<V1Secret>(apiPath.core('secrets', namespace, name));
    const key = secret?.data?.[standbyKeyFile];
    if (!key) throw new Error(`Secret ${namespace}/${name} has no ${standbyKeyFile}`);
    const ip = pod.status?.podIP;
    if (!ip) throw new Error('the Pod has no IP');
    const res = await fetch(`${controlUrl(ip)}/assign`, { method: 'POST', body: sealAssignment(Buffer.from(key, 'base64').toString(), assignment), signal: AbortSignal.timeout(5000) });
    if (res.status !== 202) throw new Error(`POST /assign: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  }

  private podJustCreated(recording: Recording): boolean {
    // The informer may not have seen a Pod created a moment ago.
    const invoked = Date.parse(recording.status?.invokedTime ?? '');
    return recording.status?.phase === 'INVOKED' && Date.now() - invoked < 5_000;
  }

  /** The recorder's Secret (created once), as its files: the control token, storage credentials, RTMP key. */
  private async ensureSecret(recording: Recording, issueCredentials: () => Promise<StoreCredentials | undefined>, log: Logger): Promise<Record<string, string> | undefined> {
    const namespace = recording.metadata!.namespace!;
    const name = secretName(recording.metadata!.name!);
    const existing = await this.api.find<V1Secret>(apiPath.core('secrets', namespace, name));
    if (existing) {
      const files = Object.fromEntries(Object.entries(existing.data ?? {}).map(([file, value]) => [file, Buffer.from(value, 'base64').toString()]));
      this.tokens.set(recording.metadata!.uid!, files[recorderSecretFiles.controlToken] ?? '');
      return files;
    }
    const credentials = await issueCredentials();
    if (!credentials) return undefined;
    const token = randomBytes(32).toString('hex');
    const data: Record<string, string> = {
      [recorderSecretFiles.controlToken]: token,
      ...storageSecretFiles(credentials),
    };
    const rtmp = recording.spec.rtmp?.streamKeySecretRef;
    if (rtmp) {
      const source = await this.api.find<V1Secret>(apiPath.core('secrets', namespace, rtmp.name)).catch(() => undefined);
      const streamKey = source?.data?.[rtmp.key ?? 'streamKey'];
      if (!streamKey) {
        await this.writeStatus(recording, errored(recording, 'RTMP_KEY_MISSING', `Secret ${namespace}/${rtmp.name} has no key ${rtmp.key ?? 'streamKey'} for spec.rtmp.streamKeySecretRef`, new Date()), log);
        return undefined;
      }
      data[recorderSecretFiles.rtmpStreamKey] = Buffer.from(streamKey, 'base64').toString();
    }
    await this.api.create<V1Secret>(apiPath.core('secrets', namespace), {
        metadata: {
          name,
          namespace,
          labels: { [labels.recording]: recording.metadata!.name!, [labels.managedBy]: 'recording-operator' },
          ownerReferences: [recordingOwner(recording)],
        },
        type: 'Opaque',
        stringData: data,
    }).catch((err: { code?: number }) => {
      if (err.code !== 409) throw err;
    });
    this.tokens.set(recording.metadata!.uid!, token);
    return data;
  }

  private async token(recording: Recording): Promise<string | undefined> {
    const uid = recording.metadata!.uid!;
    const known = this.tokens.get(uid);
    if (known) return known;
    const secret = await this.api.find<V1Secret>(apiPath.core('secrets', recording.metadata!.namespace, secretName(recording.metadata!.name!))).catch(() => undefined);
    const encoded = secret?.data?.[recorderSecretFiles.controlToken];
    const token = encoded ? Buffer.from(encoded, 'base64').toString() : undefined;
    if (token) this.tokens.set(uid, token);
    return token;
  }

  /** Where a running recorder's control endpoint is, and its token; undefined until it can answer. */
  private async recorderEndpoint(recording: Recording, pod: V1Pod): Promise<RecorderEndpoint | undefined> {
    const ip = pod.status?.podIP;
    if (!ip || pod.status?.phase !== 'Running') return undefined;
    const token = await this.token(recording);
    if (!token) return undefined;
    return { baseUrl: controlUrl(ip), token };
  }

  private async recorderRequest(recording: Recording, pod: V1Pod, method: 'GET' | 'POST', path: string, body?: unknown): Promise<RecorderStatus | undefined> {
    const endpoint = await this.recorderEndpoint(recording, pod);
    if (!endpoint) return undefined;
    const headers: Record<string, string> = { authorization: `Bearer ${endpoint.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
    const timeoutMs = method === 'GET' ? statusReadTimeoutMs : recorderActionTimeoutMs;
    const res = await fetch(`${endpoint.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`recorder ${method} ${path}: HTTP ${res.status}`);
    return (await res.json()) as RecorderStatus;
  }

  private async readRecorder(recording: Recording, pod: V1Pod, log: Logger): Promise<RecorderStatus | undefined> {
    try {
      return await this.recorderRequest(recording, pod, 'GET', '/status');
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'recorder status not available');
      return undefined;
    }
  }

  /** spec.state → pause, resume or stop, and a changed spec.maxDurationSeconds, when the recorder is not there yet. */
  private async driveState(recording: Recording, pod: V1Pod, live: RecorderStatus, log: Logger): Promise<void> {
    const wantedMax = recording.spec.maxDurationSeconds;
    if (wantedMax !== undefined && live.maxDurationSeconds !== undefined && live.maxDurationSeconds !== wantedMax && ['STARTING', 'RECORDING', 'PAUSED'].includes(live.phase)) {
      log.info({ from: live.maxDurationSeconds, to: wantedMax }, 'passing the new maximum duration to the recorder');
      const after = await this.recorderRequest(recording, pod, 'POST', '/max-duration', { maxDurationSeconds: wantedMax }).catch((err: Error) => {
        log.warn({ err: err.message }, 'recorder did not take the new maximum duration; will retry');
        return undefined;
      });
      if (after) Object.assign(live, after);
    }
    const state = recording.spec.state ?? 'Recording';
    let action: '/pause' | '/resume' | '/stop' | undefined;
    if (state === 'Stopped' && ['STARTING', 'RECORDING', 'PAUSED'].includes(live.phase)) action = '/stop';
    else if (state === 'Paused' && live.phase === 'RECORDING') action = '/pause';
    else if (state === 'Recording' && live.phase === 'PAUSED') action = '/resume';
    if (!action) return;
    log.info({ action, state }, 'asking the recorder');
    const after = await this.recorderRequest(recording, pod, 'POST', action).catch((err: Error) => {
      log.warn({ err: err.message, action }, 'recorder did not accept the request; will retry');
      return undefined;
    });
    if (after) Object.assign(live, after);
  }

  /**
   * Writes the status and, in the same write, the webhook events the change produces (the outbox the
   * WebhookDispatcher drains). An append is conditional on the resourceVersion this pass started from:
   * written over a newer status it could drop an event, so a conflict fails the pass and it runs again
   * on the fresh object. status.webhooks belongs to the dispatcher and is never written here.
   */
  private async writeStatus(recording: Recording, observed: RecordingStatus, log: Logger): Promise<void> {
    const previous = recording.status ?? {};
    const appended = pendingEventsFor(recording, this.o.callTypes.get(recording.spec.callType), previous, observed, new Date());
    const outbox = appended.length === 0 ? undefined : appendToOutbox(previous.events ?? [], appended);
    const next: RecordingStatus = outbox ? { ...observed, events: outbox.events, eventsGenerated: appended.at(-1)!.seq } : observed;
    if (!worthWriting(previous, next)) return;
    // The active label changes before the phase does, so a label selector never sees an ended recording
    // as active. Guarded by this pass's resourceVersion as the outbox is: the version it leaves differs
    // from the pass's by this label change alone.
    if (isTerminal(next.phase) !== isTerminal(previous.phase)) await this.ensureLabels(recording, next.phase, true);
    // status.webhooks is the dispatcher's (undefined leaves it out of the patch); the outbox is written
    // only with its resourceVersion guard.
    const { events, eventsGenerated, ...rest } = next;
    const status: Loose = { ...rest, webhooks: undefined, error: next.error ?? null };
    const body: Loose = outbox ? { metadata: { resourceVersion: recording.metadata?.resourceVersion }, status: { ...status, events, eventsGenerated } } : { status };
    await this.patch(recording, body, 'status');
    if (outbox?.dropped) void this.o.events.record(recording, 'Warning', 'WebhookEventsDropped', `${outbox.dropped} undelivered webhook event(s) dropped: more than ${outboxLimit} were waiting for a failing endpoint`);
    if (previous.phase !== next.phase) {
      log.info({ from: previous.phase, to: next.phase, stopReason: next.stopReason?.type, error: next.error?.code }, 'phase changed');
      const warning = next.phase === 'ERRORED';
      void this.o.events.record(recording, warning ? 'Warning' : 'Normal', phaseReason(next.phase!), warning ? `${next.error?.code}: ${next.error?.message}` : `recording is ${next.phase}${next.stopReason?.type ? ` (${next.stopReason.type})` : ''}`);
    }
    if (isTerminal(next.phase) && !isTerminal(previous.phase)) {
      this.o.metrics?.recordingsFinished.inc({ phase: next.phase, stop_reason: next.stopReason?.type ?? 'NONE' });
      this.o.metrics?.recordedSeconds.inc(next.recordingDurationSeconds ?? 0);
    }
    recording.status = next;
  }

  /**
   * A merge patch of the Recording (or its status). The rest of the pass continues from what the API
   * returned, resourceVersion and status together: a conditional outbox write must never pair a fresh
   * resourceVersion with a status the cache had not caught up with (it would append an event twice).
   */
  private async patch(recording: Recording, body: Loose, subresource?: 'status'): Promise<void> {
    const written = await this.api.mergePatch<Recording>(recordingPath(recording.metadata!.namespace!, recording.metadata!.name, subresource), body);
    if (!written?.metadata?.resourceVersion) return;
    recording.metadata = { ...recording.metadata, resourceVersion: written.metadata.resourceVersion, finalizers: written.metadata.finalizers, labels: written.metadata.labels };
    recording.status = written.status;
  }

  private async ensureFinalizer(recording: Recording, name: string): Promise<void> {
    const finalizers = recording.metadata?.finalizers ?? [];
    if (finalizers.includes(name)) return;
    await this.patch(recording, { metadata: { finalizers: [...finalizers, name], resourceVersion: recording.metadata?.resourceVersion } });
  }

  /** The labels selectors use; `phase` is the one about to be written, `guarded` makes the write conditional on the version read. */
  private async ensureLabels(recording: Recording, phase = recording.status?.phase, guarded = false): Promise<void> {
    const wanted: Record<string, string | null> = {
      [labels.callType]: recording.spec.callType,
      [labels.callId]: recording.spec.callId ?? null,
      [labels.active]: isTerminal(phase) ? 'false' : 'true',
    };
    const current = recording.metadata?.labels ?? {};
    if (Object.entries(wanted).every(([k, v]) => (current[k] ?? null) === v)) return;
    await this.patch(recording, { metadata: { labels: wanted, ...(guarded ? { resourceVersion: recording.metadata?.resourceVersion } : {}) } });
  }

  /**
   * ERRORED RECORDER_LOST while the restarted recorder uploads what the crashed one captured: adds the
   * file to the status when it reports. A salvage run that crashes as well ends the restarts.
   */
  private async followSalvage(recording: Recording, pod: V1Pod, callType: CallType | undefined, log: Logger): Promise<ReconcileResult | void> {
    const next = observedStatus(recording, { now: new Date(), pod, podGone: false });
    if (next.output?.location && callType) {
      const { status, refreshInMs } = await this.withDownloadUrls(recording, next, callType);
      await this.writeStatus(recording, status, log);
      log.info({ location: next.output.location }, 'uploaded what the crashed recorder captured');
      void this.o.events.record(recording, 'Normal', 'Salvaged', `the crashed recorder's capture was uploaded to ${next.output.location}`);
      return refreshInMs ? { requeueAfterMs: refreshInMs } : {};
    }
    await this.writeStatus(recording, next, log);
    if (recorderTermination(pod)) return; // the salvage run reported (and failed) or ended: nothing more will come
    if (recorderRestarts(pod) >= 2) {
      log.warn('the salvage run crashed too; deleting the recorder Pod to end the restarts');
      await this.api.delete(apiPath.core('pods', pod.metadata!.namespace, pod.metadata!.name)).catch(() => undefined);
      return;
    }
    return { requeueAfterMs: this.o.pollMs };
  }

  /** After the end: keep the labels right and the signed download URLs fresh. */
  private async maintainOutput(recording: Recording, callType: CallType | undefined, log: Logger): Promise<ReconcileResult | void> {
    await this.ensureLabels(recording);
    const status = recording.status;
    const output = status?.output;
    // UPLOADED, or ERRORED with what a restarted recorder salvaged: either way a file to download.
    if (!status || !isTerminal(status.phase) || !output?.location || !callType || output.downloadUrlUnavailable) return;
    const lifetime = this.effectiveStorage(recording, callType).storage.downloadUrlExpirySeconds ?? 3600;
    const expiry = Date.parse(output.downloadUrlExpiry ?? '');
    const refreshAt = expiry - Math.max(60_000, lifetime * 200); // 20 % of the lifetime before expiry
    if (Number.isFinite(expiry) && Date.now() < refreshAt) return { requeueAfterMs: refreshAt - Date.now() };
    const signed = await this.withDownloadUrls(recording, status, callType);
    await this.writeStatus(recording, signed.status, log);
    return signed.refreshInMs ? { requeueAfterMs: signed.refreshInMs } : {};
  }

  /**
   * The status with freshly signed download URLs for every stored file, and when to sign again; for
   * storage without download URLs (sftp), the status says so and there is nothing to refresh.
   */
  private async withDownloadUrls(recording: Recording, current: RecordingStatus, callType: CallType): Promise<{ status: RecordingStatus; refreshInMs?: number }> {
    const output = current.output!;
    const lifetime = this.effectiveStorage(recording, callType).storage.downloadUrlExpirySeconds ?? 3600;
    const store = await this.storeHolding(recording, callType, output.location!);
    const sign = async (location: string | undefined) => {
      const at = location && parseLocation(location);
      return at ? store.signedGetUrl(at.key, lifetime) : undefined;
    };
    const next: RecordingStatus = structuredClone(current);
    let downloadUrl: string | undefined;
    try {
      downloadUrl = await sign(output.location);
    } catch (err) {
      if (!(err instanceof NoDownloadUrlError)) throw err;
      next.output = { ...output, downloadUrlUnavailable: err.message };
      return { status: next };
    }
    const newExpiry = new Date(Date.now() + lifetime * 1000).toISOString();
    next.output = { ...output, downloadUrl, downloadUrlExpiry: newExpiry };
    if (output.audioFile) next.output.audioFile = { ...output.audioFile, downloadUrl: await sign(output.audioFile.location), downloadUrlExpiry: newExpiry };
    if (output.thumbnail) next.output.thumbnail = { ...output.thumbnail, downloadUrl: await sign(output.thumbnail.location), downloadUrlExpiry: newExpiry };
    return { status: next, refreshInMs: lifetime * 800 };
  }

  /**
   * The store holding a Recording's files: its storage spec's account, but the bucket (container) the
   * files were written to, which the CallType may name differently by now. A recording's files share it.
   */
  private async storeHolding(recording: Recording, callType: CallType, location: string): Promise<ObjectStore> {
    const at = parseLocation(location);
    if (!at) throw new Error(`${location} is not a location the operator wrote`);
    const { storage, ownNamespace } = this.effectiveStorage(recording, callType);
    if ((storage.type ?? 's3') !== at.type) throw new Error(`${location} is in ${at.type} storage, but the storage spec is now ${storage.type ?? 's3'}`);
    // For sftp the location names the server (host:port) rather than a bucket.
    return this.o.storage.store(at.type === 'sftp' ? { ...storage, endpoint: `sftp://${at.bucket}` } : { ...storage, bucket: at.bucket }, ownNamespace);
  }

  /** Deletion: stop a running recorder, then remove the files when reclaimPolicy is Delete. */
  private async finalize(recording: Recording, log: Logger): Promise<ReconcileResult | void> {
    if (!recording.metadata?.finalizers?.includes(storageFinalizer)) return;
    const namespace = recording.metadata.namespace!;
    const pod = this.recorderPod(recording);
    if (pod && !isTerminal(recording.status?.phase)) {
      // Let the recorder finish its upload first, so no file appears after we removed the others.
      const live = await this.readRecorder(recording, pod, log);
      if (live && ['STARTING', 'RECORDING', 'PAUSED'].includes(live.phase)) await this.recorderRequest(recording, pod, 'POST', '/stop').catch(() => undefined);
      const next = observedStatus(recording, { now: new Date(), pod, podGone: false, live });
      if (!isTerminal(next.phase)) {
        await this.writeStatus(recording, next, log);
        return { requeueAfterMs: 1000 };
      }
      recording.status = next;
    }
    const callType = this.o.callTypes.get(recording.spec.callType);
    const output = recording.status?.output;
    const locations = [output?.location, output?.audioFile?.location, output?.thumbnail?.location].filter((l): l is string => Boolean(l));
    if (locations.length > 0) {
      if (!callType) throw new Error(`cannot remove the files of ${namespace}/${recording.metadata.name}: CallType ${recording.spec.callType} is gone`);
      const store = await this.storeHolding(recording, callType, locations[0]!);
      for (const location of locations) {
        const at = parseLocation(location);
        if (!at) throw new Error(`cannot remove ${location}: not a location the operator wrote`);
        await store.remove(at.key);
      }
      log.info({ files: locations.length }, 'removed the recording files (reclaimPolicy Delete)');
    }
    await this.patch(recording, { metadata: { finalizers: recording.metadata.finalizers.filter((f) => f !== storageFinalizer), resourceVersion: recording.metadata.resourceVersion } });
  }
}

/**
 * How long a reconcile waits for a recorder's status. A recorder answers it from memory in milliseconds;
 * one that takes longer is busy or unreachable, and the next poll asks again. Waiting holds one of the
 * controller's workers, so a wait of 3 s let a few slow recorders hold up every other Recording: with
 * 30 recorders answering in 1-3 s (load 10 on 2 cores), all 8 workers waited, 24 Recordings queued,
 * and one whose recorder had run for a minute was still INVOKED (the webhook chaos test). A kubelet's
 * probe waits 1 s by default as well.
 */
const statusReadTimeoutMs = 1000;
/** Pause, resume, stop and a new maximum change the recorder: worth a longer wait (they are retried too). */
const recorderActionTimeoutMs = 3000;

/** The recorder's control endpoint at a Pod IP (v4 or v6). */
function controlUrl(ip: string): string {
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${recorderPort}`;
}

function isOlder(a: Recording, b: Recording): boolean {
  const ta = Date.parse(a.metadata?.creationTimestamp as unknown as string);
  const tb = Date.parse(b.metadata?.creationTimestamp as unknown as string);
  return ta !== tb ? ta < tb : (a.metadata?.uid ?? '') < (b.metadata?.uid ?? '');
}

function phaseReason(phase: Phase): string {
  return { INVOKED: 'Invoked', RECORDING: 'Recording', PAUSED: 'Paused', UPLOADING: 'Uploading', UPLOADED: 'Uploaded', ERRORED: 'Errored' }[phase];
}

/**
 * The live duration alone is written only once it has grown by liveDurationStepSeconds: writing it at
 * every poll would cost one API write per recording every two seconds (see the lifecycle benchmark).
 */
const liveDurationStepSeconds = 10;

function worthWriting(previous: RecordingStatus, next: RecordingStatus): boolean {
  const withoutDuration = (s: RecordingStatus) => stripVolatile({ ...s, recordingDurationSeconds: undefined });
  if (!jsonEqual(withoutDuration(previous), withoutDuration(next))) return true;
  const grown = (next.recordingDurationSeconds ?? 0) - (previous.recordingDurationSeconds ?? 0);
  if (grown === 0) return false;
  return isTerminal(next.phase) || previous.recordingDurationSeconds === undefined || Math.abs(grown) >= liveDurationStepSeconds;
}

/** Status without fields that change on their own (condition times). */
function stripVolatile(status: RecordingStatus): unknown {
  return { ...status, conditions: status.conditions?.map((c) => ({ ...c, lastTransitionTime: undefined })) };
}
