// Webhooks out and call events in, through the real operator process, a real apiserver, MinIO and the
// Pod runner with recorder stand-ins (the subject is the operator; the media path is tested elsewhere).
// The receiver is examples/webhooks/receiver.ts, which verifies every request with the Standard
// Webhooks reference library, so each delivery counted here was correctly signed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { CallType, Recording } from '@recording-operator/common/api/generated/types.ts';
import { startWebhookReceiver, type ReceivedEvent } from '../../examples/webhooks/receiver.ts';
import { sendCallEvent } from '../../examples/webhooks/send-call-event.ts';
import { podName } from '../../operator/src/recording/desired-pod.ts';
import { freePort } from '../harness/processes.ts';
import { group, OperatorTestEnvironment, operatorNamespace, version } from './environment.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secret = `whsec_${randomBytes(32).toString('base64')}`;
const callEventsSecret = `whsec_${randomBytes(32).toString('base64')}`;

const fullLifecycle = ['recording.status_updated:INVOKED', 'recording.started', 'recording.stopped', 'recording.ready'];
const withPause = ['recording.status_updated:INVOKED', 'recording.started', 'recording.status_updated:PAUSED', 'recording.status_updated:RECORDING', 'recording.stopped', 'recording.ready'];

describe('webhooks and auto-on', () => {
  const env = new OperatorTestEnvironment();
  const received: ReceivedEvent[] = [];
  const readyOnly: ReceivedEvent[] = [];
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let filtered: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let receiverPort: number;
  let callEventsUrl: string;
  let ns: string;
  const operatorEnv: Record<string, string> = { WEBHOOK_MAX_BACKOFF_SECONDS: '4' };

  /** Received events of one Recording, in arrival order, as "type" or "type:STATUS" for status updates. */
  const eventsOf = (name: string, from: ReceivedEvent[] = received) => from.filter((r) => r.event.recording.name === name && r.event.recording.namespace === ns);
  const label = (r: ReceivedEvent) => (r.event.type === 'recording.status_updated' ? `${r.event.type}:${r.event.recording.status}` : r.event.type);
  /** The distinct events in first-arrival order; fails on an id delivered twice with different bodies. */
  const distinct = (events: ReceivedEvent[]) => {
    const bodies = new Map<string, string>();
    const out: ReceivedEvent[] = [];
    for (const r of events) {
      const known = bodies.get(r.event.id);
      if (known !== undefined) {
        assert.equal(r.body, known, `event ${r.event.id} was delivered twice with different bodies`);
        continue;
      }
      bodies.set(r.event.id, r.body);
      out.push(r);
    }
    return out;
  };
  const seqOf = (r: ReceivedEvent) => Number(r.event.id.split('.').pop());
  const waitForEvents = async (name: string, expected: string[], timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (distinct(eventsOf(name)).length < expected.length && Date.now() < deadline) await sleep(100);
    const got = distinct(eventsOf(name));
    // A rare run lost a Recording's first event (seen once in 18 local runs of the chaos test): what the
    // operators logged about it goes with the failure.
    const logs = () => (isDeepStrictEqual(got.map(label), expected) && isDeepStrictEqual(got.map(seqOf), expected.map((_, i) => i + 1)) ? '' : env.logsAbout(ns, name));
    assert.deepEqual(got.map(label), expected, `${name}: events received ${JSON.stringify(got.map(label))} (ids ${got.map((r) => r.event.id).join(', ')})${logs()}`);
    assert.deepEqual(got.map(seqOf), expected.map((_, i) => i + 1), `${name}: in order, numbered 1..n${logs()}`);
    return got;
  };

  before(async () => {
    await env.start({ standIns: true });
    receiver = await startWebhookReceiver({ secret, onEvent: (r) => received.push(r) });
    receiverPort = receiver.port;
    filtered = await startWebhookReceiver({ secret, onEvent: (r) => readyOnly.push(r) });
    operatorEnv.CALL_EVENTS_PORT = String(await freePort());
    operatorEnv.CALL_EVENTS_HOST = '127.0.0.1';
    callEventsUrl = `http://127.0.0.1:${operatorEnv.CALL_EVENTS_PORT}/call-events`;
    await env.startOperator(operatorEnv);
    await env.core.createNamespacedSecret({ namespace: operatorNamespace, body: { metadata: { name: 'webhook-key' }, stringData: { secret } } });
    await env.core.createNamespacedSecret({ namespace: operatorNamespace, body: { metadata: { name: 'call-events-key' }, stringData: { secret: callEventsSecret } } });
    ns = await env.createNamespace('hooks');
    await createCallType('hooks', {
      webhooks: [
        { name: 'app', url: `http://127.0.0.1:${receiverPort}/hooks`, secretRef: { name: 'webhook-key' } },
        { name: 'archive', url: `http://127.0.0.1:${filtered.port}/`, secretRef: { name: 'webhook-key' }, events: ['recording.ready'] },
      ],
    });
  });
  after(async () => {
    await env.stop();
    for (const server of [receiver, filtered]) {
      server?.close();
      server?.closeAllConnections();
    }
  });

  const createCallType = (name: string, spec: Partial<CallType['spec']>, recording: CallType['spec']['recording'] = {}) => env.createCallType(name, recording, {}, spec);

  const pauseResumeStop = async (name: string) => {
    await env.createRecording(ns, name, { callType: 'hooks', callId: name });
    await env.phase(ns, name, 'RECORDING', 90_000);
    await env.setState(ns, name, 'Paused');
    await env.phase(ns, name, 'PAUSED', 90_000);
    await env.setState(ns, name, 'Recording');
    await env.phase(ns, name, 'RECORDING', 90_000);
    await env.setState(ns, name, 'Stopped');
    return env.phase(ns, name, 'UPLOADED', 90_000);
  };

  test('a lifecycle with a pause: one signed event per transition, in order, with the file when ready', async () => {
    const done = await pauseResumeStop('standup');
    const got = await waitForEvents('standup', withPause);
    const ready = got.at(-1)!.event;
    assert.equal(ready.call_cid, 'hooks:standup');
    assert.equal(ready.recording.status, 'UPLOADED');
    assert.equal(ready.recording.sha256, done.status?.output?.sha256);
    assert.equal(ready.recording.size_bytes, done.status?.output?.sizeBytes);
    assert.equal(ready.recording.stop_reason, 'API_CALL');
    assert.ok(ready.recording.url?.startsWith('http'), 'the signed download URL');
    assert.equal((await fetch(ready.recording.url!)).status, 200, 'which downloads the file');
    // The filtered endpoint got only the ready event.
    for (let i = 0; i < 50 && eventsOf('standup', readyOnly).length === 0; i++) await sleep(100);
    assert.deepEqual(distinct(eventsOf('standup', readyOnly)).map(label), ['recording.ready']);
    // Delivery state in the status; the outbox is empty once everything is delivered.
    let r: Recording = done;
    for (let i = 0; i < 50 && (r.status?.events?.length ?? 0) > 0; i++) {
      await sleep(100);
      r = await env.getRecording(ns, 'standup');
    }
    assert.deepEqual(r.status?.events ?? [], []);
    const app = r.status?.webhooks?.find((w) => w.name === 'app');
    assert.equal(app?.delivered, 6);
    assert.equal(app?.deliveredSeq, 6);
    const archive = r.status?.webhooks?.find((w) => w.name === 'archive');
    assert.deepEqual([archive?.delivered, archive?.deliveredSeq], [1, 6], 'the archive endpoint got only event 6, the ready one');
    assert.ok(app?.lastSuccessTime);
    assert.equal(receiver.rejected, 0);
  });

  test('ERRORED: the recorder is killed and its Pod deleted mid-recording → recording.failed with the reason', async () => {
    await env.createRecording(ns, 'lost', { callType: 'hooks', callId: 'lost' });
    await env.phase(ns, 'lost', 'RECORDING', 60_000);
    // SIGKILL first: a deleted Pod alone gets SIGTERM, on which the recorder stops and uploads (UPLOADING)
    // before it is gone, and the recording would be stopped rather than lost.
    env.runner!.process(ns, podName('lost'))!.kill('SIGKILL');
    await env.core.deleteNamespacedPod({ namespace: ns, name: podName('lost'), gracePeriodSeconds: 0 });
    await env.phase(ns, 'lost', 'ERRORED', 60_000);
    const got = await waitForEvents('lost', ['recording.status_updated:INVOKED', 'recording.started', 'recording.failed']);
    assert.equal(got.at(-1)!.event.recording.error?.code, 'RECORDER_LOST');
    assert.equal(got.at(-1)!.event.recording.stop_reason, 'RECORDER_LOST');
  });

  test('the operator SIGKILLed 10 times mid-lifecycle: no event lost, duplicates only with the same id and body, order kept', async () => {
    let kills = 0;
    const killer = (async () => {
      while (kills < 10) {
        await sleep(700 + Math.random() * 1500);
        await env.operator!.stop('SIGKILL');
        kills++;
        await sleep(Math.random() * 500);
        await env.startOperator(operatorEnv);
      }
    })();
    let killed = false;
    void killer.then(() => (killed = true));
    // Recordings start in staggered waves for as long as the operator is being killed.
    const names: string[] = [];
    const lifecycles: Promise<unknown>[] = [];
    while (!killed) {
      for (let j = 0; j < 3; j++) {
        const i = names.length;
        const name = `chaos-${i}`;
        names.push(name);
        lifecycles.push(i % 2 === 0 ? pauseResumeStop(name) : env.recordThenStop(ns, name, { callType: 'hooks', callId: name }));
        await sleep(300);
      }
      await sleep(1500);
    }
    await killer;
    await Promise.all(lifecycles);
    assert.equal(kills, 10);
    for (const [i, name] of names.entries()) {
      await waitForEvents(name, i % 2 === 0 ? withPause : fullLifecycle);
      // Order per recording: no event arrived before every earlier one had been delivered.
      let highest = 0;
      for (const r of eventsOf(name)) {
        assert.ok(seqOf(r) <= highest + 1, `${name}: event ${seqOf(r)} arrived before ${highest + 1}`);
        highest = Math.max(highest, seqOf(r));
      }
    }
    const duplicates = names.flatMap((n) => eventsOf(n)).filter((r) => !r.first).length;
    console.log(`# ${kills} kills, ${names.length} recordings, ${names.flatMap((n) => eventsOf(n)).length} deliveries, ${duplicates} of them repeats (same id and body)`);
  });

  test('the receiver down for 60 s, then back: every event arrives, in order', async () => {
    receiver.close();
    receiver.closeAllConnections();
    const names = ['outage-0', 'outage-1', 'outage-2'];
    const downAt = Date.now();
    await Promise.all(names.map((name, i) => (i === 0 ? pauseResumeStop(name) : env.recordThenStop(ns, name, { callType: 'hooks', callId: name }))));
    const during = await env.getRecording(ns, 'outage-1');
    const app = during.status?.webhooks?.find((w) => w.name === 'app');
    assert.ok((during.status?.events?.length ?? 0) > 0, 'events wait in the outbox');
    assert.match(app?.lastError ?? '', /ECONNREFUSED|connect/i, JSON.stringify(app));
    assert.ok(app?.failingSince && app.nextAttemptTime);
    const warnings = await env.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'reason=WebhookDeliveryFailed' });
    assert.ok(warnings.items.length > 0, 'a WebhookDeliveryFailed event says so');
    await sleep(Math.max(0, 60_000 - (Date.now() - downAt)));
    receiver = await startWebhookReceiver({ secret, port: receiverPort, onEvent: (r) => received.push(r) });
    await waitForEvents('outage-0', withPause, 30_000);
    for (const name of names.slice(1)) await waitForEvents(name, fullLifecycle, 30_000);
    const metrics = await (await fetch(`http://127.0.0.1:${env.operator!.healthPort}/metrics`)).text();
    assert.match(metrics, /recording_operator_webhook_deliveries_total\{result="failure"\} [1-9]/);
    assert.match(metrics, /recording_operator_webhook_deliveries_total\{result="success"\} [1-9]/);
    assert.match(metrics, /recording_operator_webhook_delivery_latency_seconds_count [1-9]/);
  });

  test('an endpoint on a link-local / cloud metadata address is refused unless allowed', async () => {
    await createCallType('metadata-hook', { webhooks: [{ name: 'imds', url: 'http://169.254.169.254/latest/meta-data/', secretRef: { name: 'webhook-key' } }] });
    await env.createRecording(ns, 'imds', { callType: 'metadata-hook', callId: 'imds' });
    const r = await env.waitFor(ns, 'imds', 'refused by the address policy', (x) => Boolean(x.status?.webhooks?.[0]?.lastError), 30_000);
    assert.match(r.status!.webhooks![0]!.lastError!, /169\.254\.169\.254 is a link-local or cloud metadata address; set allowLinkLocal/);
    await env.setState(ns, 'imds', 'Stopped');
  });

  describe('auto-on', () => {
    let autoNs: string;
    const send = (type: string, callCid: string, sessionId: string, options: { id?: string; timestamp?: Date; key?: string; createdAt?: string } = {}) =>
      sendCallEvent(callEventsUrl, options.key ?? callEventsSecret, { type, call_cid: callCid, session_id: sessionId, ...(options.createdAt ? { created_at: options.createdAt } : {}) }, options);
    const recordingsIn = async (namespace: string) => ((await env.custom.listNamespacedCustomObject({ group, version, namespace, plural: 'recordings' })) as { items: Recording[] }).items;

    before(async () => {
      autoNs = await env.createNamespace('auto');
      await createCallType('town-hall', { autoStart: { namespace: autoNs, secretRef: { name: 'call-events-key' } } }, { mode: 'auto-on' });
      await createCallType('manual', {}, { mode: 'available' });
    });

    test('call started → a Recording (RECORD_ON_START) → call ended → UPLOADED with CALL_ENDED', async () => {
      const started = await send('call.session_started', 'town-hall:weekly', 'session-1');
      assert.equal(started.status, 201, JSON.stringify(started.body));
      const [namespace, name] = String(started.body.recording).split('/') as [string, string];
      assert.equal(namespace, autoNs);
      const recording = await env.phase(namespace, name, 'RECORDING', 60_000);
      assert.equal(recording.status?.startReason?.type, 'RECORD_ON_START');
      assert.equal(recording.metadata?.labels?.['recording.dev/call-id'], 'weekly');
      assert.equal(recording.metadata?.labels?.['recording.dev/active'], 'true');
      const ended = await send('call.session_ended', 'town-hall:weekly', 'session-1');
      assert.deepEqual(ended, { status: 200, body: { result: 'stopped', recording: `${namespace}/${name}` } });
      const done = await env.phase(namespace, name, 'UPLOADED', 60_000);
      assert.equal(done.status?.stopReason?.type, 'CALL_ENDED');
      assert.match(done.status?.output?.location ?? '', /^s3:\/\/recordings\/town-hall\//);
    });

    test('100 identical events (and participants joining) → one Recording', async () => {
      const createdAt = new Date().toISOString();
      const id = 'evt_same';
      const timestamp = new Date();
      const answers = await Promise.all(Array.from({ length: 100 }, () => send('call.session_started', 'town-hall:daily', 'session-7', { id, timestamp, createdAt })));
      const joined = await Promise.all(Array.from({ length: 5 }, () => send('call.session_participant_joined', 'town-hall:daily', 'session-7')));
      const statuses = [...answers, ...joined].map((a) => a.status);
      assert.equal(statuses.filter((s) => s === 201).length, 1, JSON.stringify(statuses));
      assert.equal(statuses.filter((s) => s === 200).length, 104);
      const mine = (await recordingsIn(autoNs)).filter((r) => r.spec.callId === 'daily');
      assert.equal(mine.length, 1);
      await send('call.session_ended', 'town-hall:daily', 'session-7');
      await env.phase(autoNs, mine[0]!.metadata!.name!, 'UPLOADED', 60_000);
    });

    test('forged signature, stale timestamp, unknown or manual call type, bad body → 4xx, nothing created', async () => {
      const before = (await recordingsIn(autoNs)).length;
      const forged = await send('call.session_started', 'town-hall:x', 'session-9', { key: `whsec_${randomBytes(32).toString('base64')}` });
      assert.equal(forged.status, 401);
      assert.match(String(forged.body.error), /webhook-signature does not match/);
      const stale = await send('call.session_started', 'town-hall:x', 'session-9', { timestamp: new Date(Date.now() - 10 * 60_000) });
      assert.equal(stale.status, 401);
      assert.match(String(stale.body.error), /outside the 300 s tolerance/);
      const unknown = await send('call.session_started', 'no-such-type:x', 'session-9');
      assert.equal(unknown.status, 404);
      assert.match(String(unknown.body.error), /CallType no-such-type \(from call_cid\) does not exist/);
      const manual = await send('call.session_started', 'manual:x', 'session-9');
      assert.equal(manual.status, 422);
      assert.match(String(manual.body.error), /recording.mode available; call events start recordings only for mode auto-on/);
      const bad = await send('call.created', 'town-hall', 'session-9');
      assert.equal(bad.status, 400);
      assert.match(String(bad.body.error), /type: .*call_cid: /);
      const unsigned = await fetch(callEventsUrl, { method: 'POST', body: JSON.stringify({ type: 'call.session_started', call_cid: 'town-hall:x', session_id: 's' }) });
      assert.equal(unsigned.status, 401);
      assert.match(((await unsigned.json()) as { error: string }).error, /missing webhook-id header/);
      assert.equal((await recordingsIn(autoNs)).length, before, 'nothing was created');
      const metrics = await (await fetch(`http://127.0.0.1:${env.operator!.healthPort}/metrics`)).text();
      assert.match(metrics, /recording_operator_call_events_total\{type="call.session_started",result="rejected"\} [4-9]/);
    });
  });
});
