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

const run = promisify(execFile);

describe('Helm chart', () => {
  const env = new OperatorTestEnvironment();
  before(async () => env.start({ standIns: true }));
  after(async () => env.stop());

  test('helm lint passes', async () => {
    const { stdout } = await run(helmBinary(), ['lint', chartDir]);
    assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  test('helm install, then the operator as the chart ServiceAccount: a lifecycle, CallType status, deletion', async () => {
    // The API (CRDs, admission policy, user roles) is already there from the same chart (installApi).
    await run(helmBinary(), ['install', 'recording-operator', chartDir, '--namespace', operatorNamespace, '--kubeconfig', env.cp.kubeconfigPath, '--skip-crds', '--set', 'admissionPolicy.enabled=false', '--set', 'userRoles.enabled=false', '--set', 'operator.image.tag=test']);
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
});
