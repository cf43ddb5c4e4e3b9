// The Helm chart: it lints, installs into a real apiserver with `helm install`, and the operator runs as
// the chart's ServiceAccount (a token for it, its RBAC and nothing else) through a whole recording
// lifecycle, CallType status and deletion with file removal included. Recorder Pods run the protocol
// stand-in; the chart's Deployment itself cannot run here (no kubelet, no image registry).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { AppsV1Api } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { randomBytes } from 'node:crypto';
import { startWebhookReceiver, type ReceivedEvent } from '../../examples/webhooks/receiver.ts';
import { sendCallEvent } from '../../examples/webhooks/send-call-event.ts';
import { helmBinary } from '../harness/assets.ts';
import { freePort } from '../harness/processes.ts';
import { chartDir } from '../harness/crds.ts';
import { OperatorTestEnvironment, operatorNamespace } from '../operator/environment.ts';
import { PatchStrategy, loadAllYaml, setHeaderOptions } from '@kubernetes/client-node';
import type { CallType, Recording } from '@recording-operator/common/api/generated/types.ts';
import { kubernetesBinary } from '../harness/assets.ts';
import { chartCheck } from '../harness/chart-check.ts';
import { pinnedVersions } from '../harness/versions.ts';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const kubectl = () => kubernetesBinary('kubectl');

interface Dashboard {
  panels: { type: string; title: string; targets: { expr: string }[] }[];
  templating: { list: { name: string; type: string; definition?: string }[] };
}

/** As Grafana does before it sends a query: its variables become values. */
const grafanaVariablesReplaced = (expr: string) => expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '1h').replaceAll('$namespace', 'recording-system');
/** label_values(metric, label) is Grafana's, not PromQL: the metric is what it reads. */
const labelValuesMetric = (definition: string) => /^label_values\((\w+),/.exec(definition)?.[1] ?? definition;

/** Series names in a Prometheus exposition: every family, histograms as their _bucket, _sum and _count. */
function exportedSeriesNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram' || type === 'summary') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name! + suffix);
  }
  return names;
}

/** Prometheus' own parser (test/tools/chart-check): a parse error, or the metric names an expression reads. */
async function parsePromQL(exprs: string[]): Promise<{ error?: string; metrics: string[] }[]> {
  const out = await chartCheck(['promql'], exprs.map((e) => JSON.stringify(e)).join('\n') + '\n');
  return out.trim().split('\n').map((line) => JSON.parse(line) as { error?: string; metrics: string[] });
}

/** The health an Argo CD health script gives an object, run in gopher-lua as Argo CD runs it. */
async function argoHealth(script: string, object: object): Promise<{ status: string; message: string }> {
  return JSON.parse(await chartCheck(['health', script], JSON.stringify(object))) as { status: string; message: string };
}

const run = promisify(execFile);

describe('Helm chart', () => {
  const env = new OperatorTestEnvironment();
  before(async () => env.start({ standIns: true }));
  after(async () => env.stop());

  test('helm install, then the operator as the chart ServiceAccount: a lifecycle, CallType status, deletion', async () => {
    // The API (CRDs, admission policy, user roles) is already there from the same chart (installApi).
    await run(helmBinary(), ['install', 'recording-operator', chartDir, '--namespace', operatorNamespace, '--kubeconfig', env.cp.kubeconfigPath, '--set', 'crds.enabled=false', '--set', 'admissionPolicy.enabled=false', '--set', 'userRoles.enabled=false', '--set', 'operator.image.tag=test', '--set', 'test.callType=charted', '--set', 'test.recordSeconds=2']);
    const deployment = await env.kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: operatorNamespace, name: 'recording-operator' });
    const pod = deployment.spec!.template.spec!;
    assert.equal(deployment.spec?.replicas, 2, 'a hot standby behind the lease');
    assert.equal(pod.serviceAccountName, 'recording-operator');
    assert.equal(pod.containers[0]!.image, 'recording-operator/operator:test');
    assert.equal(pod.containers[0]!.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.deepEqual(pod.containers[0]!.env?.find((e) => e.name === 'OPERATOR_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace');
    const callEvents = await env.core.readNamespacedService({ namespace: operatorNamespace, name: 'recording-operator-call-events' });
    assert.equal(callEvents.spec?.ports?.[0]?.targetPort, 'call-events');
    assert.ok(pod.containers[0]!.ports?.some((p) => p.name === 'call-events'));

    // A kubeconfig with a token for the chart's ServiceAccount: the operator gets exactly its RBAC.
    const token = (await env.core.createNamespacedServiceAccountToken({ namespace: operatorNamespace, name: 'recording-operator', body: { spec: { expirationSeconds: 3600 } } })).status!.token;
    const kubeconfig = parse(readFileSync(env.cp.kubeconfigPath, 'utf8')) as { users: { user: Record<string, unknown> }[] };
    kubeconfig.users[0]!.user = { token };
    const saKubeconfig = join(env.cp.dir, 'kubeconfig-operator-sa');
    writeFileSync(saKubeconfig, stringify(kubeconfig), { mode: 0o600 });
    const callEventsPort = await freePort();
    await env.startOperator({ KUBECONFIG: saKubeconfig, CALL_EVENTS_PORT: String(callEventsPort), CALL_EVENTS_HOST: '127.0.0.1' });

    await env.createCallType('charted', {}, { reclaimPolicy: 'Delete' });
    const ns = await env.createNamespace('chart');
    const done = await env.recordThenStop(ns, 'by-sa', { callType: 'charted', callId: 'by-sa' });
    assert.ok(done.metadata?.finalizers?.includes('recording.dev/storage-cleanup'));
    const location = done.status!.output!.location!.replace(`s3://${env.bucket}/`, '');
    await env.s3.statObject(env.bucket, location);
    const callType = await env.custom.getClusterCustomObject({ group: 'recording.dev', version: 'v1alpha1', plural: 'calltypes', name: 'charted' }) as { status?: { conditions?: { type: string; status: string }[] } };
    assert.equal(callType.status?.conditions?.find((c) => c.type === 'StorageReachable')?.status, 'True');
    const events = await env.core.listNamespacedEvent({ namespace: ns });
    assert.ok(events.items.some((e) => e.reason === 'Uploaded'), 'events are recorded');

    // `helm test`: the chart's test Pod, run with its own ServiceAccount, records through `charted`.
    const helmTest = await run(helmBinary(), ['test', 'recording-operator', '--namespace', operatorNamespace, '--kubeconfig', env.cp.kubeconfigPath, '--logs', '--timeout', '3m']);
    assert.match(helmTest.stdout, /TEST SUITE:\s+recording-operator-test[\s\S]*Phase:\s+Succeeded/);
    // No kubelet serves container logs here, so the verdict is read where a user also finds it: the
    // test Pod's termination message.
    const testVerdict = async () => (await env.core.readNamespacedPod({ namespace: operatorNamespace, name: 'recording-operator-test' })).status?.containerStatuses?.[0]?.state?.terminated?.message ?? '';
    assert.match(await testVerdict(), /^passed: s3:\/\/\S+, \d+ bytes/);
    const testRecordings = async () => (await env.custom.listNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: operatorNamespace, plural: 'recordings' }) as { items: unknown[] }).items.length;
    for (let i = 0; i < 100 && (await testRecordings()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await testRecordings(), 0, 'the test removed its Recording');
    // A test against a CallType that does not exist fails, with the reason in its log.
    await run(helmBinary(), ['upgrade', 'recording-operator', chartDir, '--namespace', operatorNamespace, '--kubeconfig', env.cp.kubeconfigPath, '--reuse-values', '--set', 'test.callType=no-such-type', '--set', 'test.timeoutSeconds=30']);
    await assert.rejects(run(helmBinary(), ['test', 'recording-operator', '--namespace', operatorNamespace, '--kubeconfig', env.cp.kubeconfigPath, '--timeout', '3m']), /recording-operator-test failed/);
    assert.match(await testVerdict(), /^FAILED: no RECORDING within 30 s; phase INVOKED.*waiting for CallType no-such-type to exist/);

    await env.custom.deleteNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: ns, plural: 'recordings', name: 'by-sa' });
    await env.waitGone(ns, 'by-sa');
    await assert.rejects(env.s3.statObject(env.bucket, location), 'the finalizer removed the file');

    // Webhooks and auto-on with the same identity: signing keys read, a Recording created from a call
    // event, its events delivered, the webhooks finalizer set and released.
    const key = `whsec_${randomBytes(32).toString('base64')}`;
    await env.core.createNamespacedSecret({ namespace: operatorNamespace, body: { metadata: { name: 'chart-keys' }, stringData: { secret: key } } });
    const received: ReceivedEvent[] = [];
    const receiver = await startWebhookReceiver({ secret: key, onEvent: (r) => received.push(r) });
    try {
      await env.custom.createClusterCustomObject({ group: 'recording.dev', version: 'v1alpha1', plural: 'calltypes', body: {
        apiVersion: 'recording.dev/v1alpha1', kind: 'CallType', metadata: { name: 'charted-auto' },
        spec: {
          recording: { mode: 'auto-on', quality: '360p' }, callUrlTemplate: `${env.page.url}/call/{callId}`,
          storage: { type: 's3', endpoint: env.minio.endpoint, bucket: env.bucket, forcePathStyle: true, path: 'charted-auto', secretRef: { name: 'storage', namespace: operatorNamespace } },
          autoStart: { namespace: ns, secretRef: { name: 'chart-keys' } },
          webhooks: [{ name: 'app', url: `http://127.0.0.1:${receiver.port}/`, secretRef: { name: 'chart-keys' } }],
        },
      } });
      const url = `http://127.0.0.1:${callEventsPort}/call-events`;
      const started = await sendCallEvent(url, key, { type: 'call.session_started', call_cid: 'charted-auto:sa', session_id: 's1' });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      const name = String(started.body.recording).split('/')[1]!;
      await env.phase(ns, name, 'RECORDING', 60_000);
      assert.equal((await sendCallEvent(url, key, { type: 'call.session_ended', call_cid: 'charted-auto:sa', session_id: 's1' })).status, 200);
      const ended = await env.phase(ns, name, 'UPLOADED', 60_000);
      assert.ok(ended.metadata?.finalizers?.includes('recording.dev/webhooks'));
      for (let i = 0; i < 100 && !received.some((r) => r.event.type === 'recording.ready'); i++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(received.map((r) => r.event.type), ['recording.status_updated', 'recording.started', 'recording.stopped', 'recording.ready']);
      await env.custom.deleteNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: ns, plural: 'recordings', name });
      await env.waitGone(ns, name);
    } finally {
      receiver.close();
    }
    assert.doesNotMatch(env.operatorLog(), /forbidden|HTTP 403/i, 'the ServiceAccount was never refused');
  });

  test('the dashboard and the alerts parse as PromQL and read only metrics the operator exports', async () => {
    // After the lifecycles above, /metrics has every family (histograms included) with samples.
    const exported = await fetch(`http://127.0.0.1:${env.operator!.healthPort}/metrics`).then((r) => r.text());
    const names = exportedSeriesNames(exported);
    const dashboard = JSON.parse(readFileSync(join(chartDir, 'dashboards', 'recording-operator.json'), 'utf8')) as Dashboard;
    const rendered = (await run(helmBinary(), ['template', 'rec', chartDir, '--namespace', operatorNamespace, '--kube-version', pinnedVersions().KUBERNETES_VERSION, '--set', 'metrics.prometheusRule.enabled=true'])).stdout;
    const rule = (loadAllYaml(rendered) as { kind?: string; spec?: { groups: { rules: { alert: string; expr: string }[] }[] } }[]).find((o) => o?.kind === 'PrometheusRule')!;
    const alerts = rule.spec!.groups.flatMap((g) => g.rules);
    assert.deepEqual(alerts.map((a) => a.alert).sort(), ['RecordingOperatorNoLeader', 'RecordingOperatorReconcileErrors', 'RecordingStorageUnreachable', 'RecordingStuck', 'RecordingWebhookEventsDropped', 'RecordingsErroring']);
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    const queries = [
      ...panels.flatMap((p) => p.targets.map((t) => ({ where: `panel "${p.title}"`, expr: grafanaVariablesReplaced(t.expr) }))),
      ...dashboard.templating.list.flatMap((v) => (v.type === 'query' ? [{ where: `variable ${v.name}`, expr: labelValuesMetric(v.definition!) }] : [])),
      ...alerts.map((a) => ({ where: `alert ${a.alert}`, expr: a.expr })),
    ];
    const checked = await parsePromQL(queries.map((q) => q.expr));
    const covered = new Set<string>();
    for (const [i, result] of checked.entries()) {
      assert.equal(result.error, undefined, `${queries[i]!.where}: ${result.error}`);
      assert.ok(result.metrics.length > 0, `${queries[i]!.where} reads a metric`);
      for (const metric of result.metrics) {
        assert.ok(names.has(metric), `${queries[i]!.where} reads ${metric}, which the operator does not export`);
        covered.add(metric.replace(/_(bucket|sum|count)$/, ''));
      }
    }
    // What the issue asks the dashboard to show is there.
    for (const metric of ['recording_operator_recordings', 'recording_operator_recordings_finished_total', 'recording_operator_recorded_seconds_total', 'controller_runtime_reconcile_total', 'controller_runtime_reconcile_errors_total', 'controller_runtime_reconcile_time_seconds', 'workqueue_depth', 'recording_operator_webhook_deliveries_total']) {
      assert.ok(covered.has(metric), `the dashboard or alerts show ${metric}`);
    }
    // And a renamed metric would be caught: the same check fails on a misspelt name.
    const [misspelt] = await parsePromQL(['sum(recording_operator_recordingz)']);
    assert.ok(!names.has(misspelt!.metrics[0]!));
  });

  test('Argo CD health (the Lua the chart ships, run as Argo CD runs it) and kubectl wait, on real Recordings in every phase', async () => {
    const ns = await env.createNamespace('health');
    const snapshots = new Map<string, Recording>();
    const snap = async (name: string, label: string) => snapshots.set(label, await env.custom.getNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: ns, plural: 'recordings', name }) as Recording);

    // No status yet: created while the operator is stopped.
    await env.operator!.stop();
    await env.createRecording(ns, 'life', { callType: 'charted', callId: 'life' });
    await snap('life', 'no status');
    await env.createRecording(ns, 'early', { callType: 'arrives-later', callId: 'early' });
    await env.startOperator();
    // INVOKED lasts from the Pod's creation until the recorder's first frame: read it as it passes.
    for (let i = 0; i < 2000 && !snapshots.has('INVOKED'); i++) {
      const r = await env.custom.getNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: ns, plural: 'recordings', name: 'life' }) as Recording;
      if (r.status?.phase === 'INVOKED') snapshots.set('INVOKED', r);
      else if (r.status?.phase) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await env.phase(ns, 'life', 'RECORDING', 60_000).then((r) => snapshots.set('RECORDING', r));
    // A Recording whose CallType is not there yet (GitOps may apply it first) waits, and says why.
    await env.waitFor(ns, 'early', 'waiting for its CallType', (r) => r.status?.conditions?.some((c) => c.reason === 'CallTypeNotFound') ?? false).then((r) => snapshots.set('waiting for CallType', r));
    const waitReady = run(kubectl(), ['wait', '--for=condition=Ready', `rec/life`, '-n', ns, '--timeout=120s', '--kubeconfig', env.cp.kubeconfigPath]);
    await env.custom.patchNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: ns, plural: 'recordings', name: 'life', body: { spec: { state: 'Paused' } } }, mergePatch);
    await env.phase(ns, 'life', 'PAUSED', 30_000).then((r) => snapshots.set('PAUSED', r));
    // Storage away while stopping: the recorder holds its file in UPLOADING until storage is back.
    await env.minio.stop();
    try {
      await env.custom.patchNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: ns, plural: 'recordings', name: 'life', body: { spec: { state: 'Stopped' } } }, mergePatch);
      await env.phase(ns, 'life', 'UPLOADING', 30_000).then((r) => snapshots.set('UPLOADING', r));
    } finally {
      await env.minio.start();
    }
    await env.phase(ns, 'life', 'UPLOADED', 120_000).then((r) => snapshots.set('UPLOADED', r));
    const waited = await waitReady;
    assert.match(waited.stdout, /recording.recording.dev\/life condition met/);

    await env.createCallType('switched-off', { mode: 'disabled' });
    await env.createRecording(ns, 'lost', { callType: 'switched-off', callId: 'lost' });
    await env.phase(ns, 'lost', 'ERRORED', 30_000).then((r) => snapshots.set('ERRORED', r));
    // kubectl wait on a Recording that can no longer become Ready: it waits on Stalled instead.
    await assert.rejects(run(kubectl(), ['wait', '--for=condition=Ready', 'rec/lost', '-n', ns, '--timeout=3s', '--kubeconfig', env.cp.kubeconfigPath]), /timed out/);
    const stalled = await run(kubectl(), ['wait', '--for=condition=Stalled', 'rec/lost', '-n', ns, '--timeout=10s', '--kubeconfig', env.cp.kubeconfigPath]);
    assert.match(stalled.stdout, /condition met/);

    const recordingScript = join(chartDir, 'argocd', 'recording-health.lua');
    const expected: Record<string, [string, RegExp]> = {
      'no status': ['Progressing', /Waiting for the operator/],
      INVOKED: ['Progressing', /Recording is INVOKED/],
      'waiting for CallType': ['Progressing', /waiting for CallType arrives-later to exist/],
      RECORDING: ['Progressing', /Recording is RECORDING/],
      PAUSED: ['Suspended', /Paused/],
      UPLOADING: ['Progressing', /Recording is UPLOADING/],
      UPLOADED: ['Healthy', /Uploaded s3:\/\/.+ \(\d+ bytes\)/],
      ERRORED: ['Degraded', /RECORDING_DISABLED: recording is disabled for CallType switched-off/],
    };
    for (const [label, [status, message]] of Object.entries(expected)) {
      const health = await argoHealth(recordingScript, snapshots.get(label)!);
      assert.equal(health.status, status, `${label}: ${JSON.stringify(health)}`);
      assert.match(health.message, message, label);
    }
    // A spec change the operator has not seen yet is Progressing whatever the phase.
    const uploaded = snapshots.get('UPLOADED')!;
    assert.equal((await argoHealth(recordingScript, { ...uploaded, metadata: { ...uploaded.metadata, generation: (uploaded.metadata!.generation ?? 1) + 1 } })).status, 'Progressing');

    // CallTypes: a reachable one is Healthy, one whose storage does not answer Degraded.
    await env.createCallType('unreachable', {}, { bucket: 'no-such-bucket' });
    const callTypeScript = join(chartDir, 'argocd', 'calltype-health.lua');
    const readCallType = (name: string) => env.custom.getClusterCustomObject({ group: 'recording.dev', version: 'v1alpha1', plural: 'calltypes', name }) as Promise<CallType>;
    let unreachable = await readCallType('unreachable');
    for (let i = 0; i < 100 && !unreachable.status?.conditions?.length; i++) {
      await new Promise((r) => setTimeout(r, 200));
      unreachable = await readCallType('unreachable');
    }
    assert.deepEqual(await argoHealth(callTypeScript, await readCallType('charted')), { status: 'Healthy', message: 'storage reachable' });
    const degraded = await argoHealth(callTypeScript, unreachable);
    assert.equal(degraded.status, 'Degraded');
    assert.match(degraded.message, /no-such-bucket/);
  });
});
