// The chart as platform teams meet it before anything runs: `helm lint --strict`, values checked by
// values.schema.json (a wrong value names its field and installs nothing), every rendering valid against
// the real schemas of the pinned Kubernetes and of the CRDs it writes (kubeconform -strict), and the CRDs
// kept on uninstall so users' Recordings survive it. Against a real apiserver, without the operator.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ApiextensionsV1Api, AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { helmBinary, kubernetesBinary, thirdPartyCrdDirs } from '../harness/assets.ts';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { chartDir, untilRecordingsAdmitted } from '../harness/crds.ts';
import { kubeconform, objectCount, writeKubeconformSchemas } from '../harness/kube-schemas.ts';
import { pinnedVersions } from '../harness/versions.ts';
import { repoRoot } from '../harness/paths.ts';

const run = promisify(execFile);
const kubeVersion = pinnedVersions().KUBERNETES_VERSION;
const digest = `sha256:${'ab'.repeat(32)}`;
/** Value sets that between them render every template. */
const renderings: Record<string, string[]> = {
  defaults: [],
  'everything on': ['metrics.serviceMonitor.enabled=true', 'metrics.prometheusRule.enabled=true', 'metrics.dashboard.enabled=true', 'test.callType=demo', 'commonLabels.team=media', `operator.image.digest=${digest}`, `recorder.image.digest=${digest}`, 'operator.imagePullSecrets[0].name=registry'],
  'API only': ['operator.deploy=false'],
  'one replica, nothing optional': ['operator.replicas=1', 'callEvents.enabled=false', 'admissionPolicy.enabled=false', 'userRoles.enabled=false', 'crds.keep=false', 'operator.topologySpreadConstraints=null'],
};

function helm(args: string[]) {
  return run(helmBinary(), args, { maxBuffer: 64 * 1024 * 1024 });
}

const template = (values: string[]) => helm(['template', 'rec', chartDir, '--namespace', 'recording-system', '--kube-version', kubeVersion, ...values.flatMap((v) => ['--set', v])]);

describe('Helm chart validation', () => {
  let cp: ControlPlane;
  let schemas: string;
  before(async () => {
    cp = await startControlPlane();
    schemas = mkdtempSync(join(tmpdir(), 'kubeconform-schemas-'));
    await writeKubeconformSchemas(cp.kubeconfigPath, schemas, [join(repoRoot, 'crds'), ...thirdPartyCrdDirs()]);
  });
  after(async () => {
    await cp?.stop();
    rmSync(schemas, { recursive: true, force: true });
  });

  test('helm lint --strict passes with the defaults and with every option on', async () => {
    for (const values of [renderings.defaults!, renderings['everything on']!]) {
      const { stdout } = await helm(['lint', '--strict', chartDir, ...values.flatMap((v) => ['--set', v])]);
      assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  test('NOTES.txt tells the installer what to do next, for this release', async () => {
    const notes = async (values: string[]) => (await helm(['install', 'rec', chartDir, '--dry-run', '--namespace', 'media', '--kubeconfig', cp.kubeconfigPath, ...values.flatMap((v) => ['--set', v])])).stdout.split('NOTES:')[1] ?? '';
    const plain = await notes([]);
    assert.match(plain, /kubectl -n media rollout status deployment\/recording-operator/);
    assert.match(plain, /kubectl wait --for=condition=Ready rec\/standup/);
    assert.match(plain, /set test.callType/);
    assert.match(plain, /http:\/\/recording-operator-call-events.media.svc:80\/call-events/);
    assert.match(await notes(['test.callType=webinar']), /helm test rec -n media --logs/);
  });

  test('every rendering is valid for Kubernetes and the CRDs it writes (kubeconform -strict)', async () => {
    for (const [name, values] of Object.entries(renderings)) {
      const { stdout: manifests } = await template(values);
      const report = await kubeconform(manifests, schemas);
      assert.equal(report.exitCode, 0, `${name}: ${JSON.stringify(report.resources.filter((r) => r.status !== 'statusValid'))}`);
      assert.equal(report.summary.invalid + report.summary.errors + report.summary.skipped, 0, name);
      assert.equal(report.summary.valid, objectCount(manifests), `${name}: every object was validated`);
    }
  });

  test('kubeconform -strict catches what it should: an unknown field, a wrong type, a missing schema', async () => {
    const { stdout } = await template(['metrics.serviceMonitor.enabled=true']);
    const broken = [
      stdout.replace('  replicas: 2\n', '  replicas: 2\n  replicaz: 2\n'),
      stdout.replace('maxUnavailable: 1', 'maxUnavailable: [1]'),
      stdout.replace('apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor', 'apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitorz'),
    ];
    for (const manifests of broken) {
      assert.notEqual(manifests, stdout, 'the test edit applied');
      assert.notEqual((await kubeconform(manifests, schemas)).exitCode, 0);
    }
  });

  test('a wrong value fails with its field named, and `helm install` then creates nothing', async () => {
    const cases: [string, RegExp][] = [
      ['operator.replicas=two', /at '\/operator\/replicas': got string, want integer/],
      ['operator.replicaz=2', /at '\/operator': additional properties? 'replicaz' not allowed/],
      ['operator.logLevel=loud', /at '\/operator\/logLevel'/],
      ['operator.image.digest=latest', /at '\/operator\/image\/digest'/],
      ['metrics.prometheusRule.erroredRatio=5', /at '\/metrics\/prometheusRule\/erroredRatio'/],
      ['test.callType=Not_A_Name', /at '\/test\/callType'/],
    ];
    for (const [value, message] of cases) {
      await assert.rejects(template([value]), (err: Error & { stderr?: string }) => {
        assert.match(err.stderr ?? err.message, message, value);
        return true;
      });
    }
    await assert.rejects(helm(['install', 'bad', chartDir, '--namespace', 'bad-values', '--create-namespace', '--kubeconfig', cp.kubeconfigPath, '--set', 'operator.replicas=-1']), /at '\/operator\/replicas'/);
    const kc = cp.kubeConfig();
    const namespaces = await kc.makeApiClient(CoreV1Api).listNamespace();
    assert.ok(!namespaces.items.some((n) => n.metadata?.name === 'bad-values'), 'not even the namespace was created');
    const crds = await kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
    assert.ok(!crds.items.some((c) => c.spec.group === 'recording.dev'), 'no CRD was installed');
  });

  test('uninstall keeps the CRDs and the Recordings (crds.keep); a reinstall adopts them; crds.keep=false removes them', async () => {
    const kc = cp.kubeConfig();
    const kubeconfig = ['--kubeconfig', cp.kubeconfigPath];
    const install = (extra: string[] = []) => helm(['upgrade', '--install', 'recording-operator', chartDir, '--namespace', 'recording-system', '--create-namespace', '--wait', ...kubeconfig, '--set', 'operator.deploy=false', ...extra]);
    await install();
    const crdApi = kc.makeApiClient(ApiextensionsV1Api);
    const crd = await crdApi.readCustomResourceDefinition({ name: 'recordings.recording.dev' });
    assert.equal(crd.metadata?.annotations?.['helm.sh/resource-policy'], 'keep');
    assert.equal(crd.metadata?.labels?.['app.kubernetes.io/managed-by'], 'Helm');
    const custom = kc.makeApiClient(CustomObjectsApi);
    await untilRecordingsAdmitted(kc); // the admission policy resolves the new kind a moment after the CRD
    await custom.createNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: 'default', plural: 'recordings', body: { apiVersion: 'recording.dev/v1alpha1', kind: 'Recording', metadata: { name: 'survivor' }, spec: { callType: 'demo', callId: 'survivor' } } });

    const { stdout } = await helm(['uninstall', 'recording-operator', '--namespace', 'recording-system', ...kubeconfig]);
    assert.match(stdout, /kept due to the resource policy/);
    await crdApi.readCustomResourceDefinition({ name: 'recordings.recording.dev' });
    await crdApi.readCustomResourceDefinition({ name: 'calltypes.recording.dev' });
    const survivor = await custom.getNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: 'default', plural: 'recordings', name: 'survivor' }) as { spec: { callId: string } };
    assert.equal(survivor.spec.callId, 'survivor');

    // The kept CRDs still carry the release's ownership, so installing again takes them back.
    await install();
    await install(['--set', 'crds.keep=false']);
    await helm(['uninstall', 'recording-operator', '--namespace', 'recording-system', '--wait', ...kubeconfig]);
    for (let i = 0; i < 100 && (await crdApi.listCustomResourceDefinition()).items.some((c) => c.spec.group === 'recording.dev'); i++) await new Promise((r) => setTimeout(r, 200));
    assert.ok(!(await crdApi.listCustomResourceDefinition()).items.some((c) => c.spec.group === 'recording.dev'), 'crds.keep=false: the CRDs went with the release');
    assert.equal((await kc.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace: 'recording-system' })).items.length, 0);
  });

  test('CRDs installed before the chart managed them are adopted as docs/upgrading.md says, Recordings intact', async () => {
    const kc = cp.kubeConfig();
    const kubectl = (...args: string[]) => run(kubernetesBinary('kubectl'), ['--kubeconfig', cp.kubeconfigPath, ...args]);
    await kubectl('apply', '--server-side', '-f', join(repoRoot, 'crds'));
    await kubectl('wait', '--for=condition=Established', 'crd/recordings.recording.dev', 'crd/calltypes.recording.dev');
    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.createNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: 'default', plural: 'recordings', body: { apiVersion: 'recording.dev/v1alpha1', kind: 'Recording', metadata: { name: 'from-before' }, spec: { callType: 'demo', callId: 'from-before' } } });
    const install = () => helm(['upgrade', '--install', 'recording-operator', chartDir, '--namespace', 'recording-system', '--create-namespace', '--kubeconfig', cp.kubeconfigPath, '--set', 'operator.deploy=false', '--set', 'admissionPolicy.enabled=false']);
    await assert.rejects(install(), /invalid ownership metadata/, 'Helm refuses objects it does not own');
    // The commands of docs/upgrading.md, as written there.
    const guide = readFileSync(join(repoRoot, 'docs', 'upgrading.md'), 'utf8');
    assert.match(guide, /kubectl label crd \$crd app.kubernetes.io\/managed-by=Helm --overwrite/);
    assert.match(guide, /kubectl annotate crd \$crd meta.helm.sh\/release-name=recording-operator meta.helm.sh\/release-namespace=recording-system --overwrite/);
    for (const crd of ['recordings.recording.dev', 'calltypes.recording.dev']) {
      await kubectl('label', 'crd', crd, 'app.kubernetes.io/managed-by=Helm', '--overwrite');
      await kubectl('annotate', 'crd', crd, 'meta.helm.sh/release-name=recording-operator', 'meta.helm.sh/release-namespace=recording-system', '--overwrite');
    }
    await install();
    const crd = await kc.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: 'recordings.recording.dev' });
    assert.equal(crd.metadata?.annotations?.['helm.sh/resource-policy'], 'keep');
    const survivor = await custom.getNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: 'default', plural: 'recordings', name: 'from-before' }) as { spec: { callId: string } };
    assert.equal(survivor.spec.callId, 'from-before');
    await helm(['uninstall', 'recording-operator', '--namespace', 'recording-system', '--kubeconfig', cp.kubeconfigPath]);
  });
});
