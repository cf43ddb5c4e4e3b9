// examples/gitops as Argo CD or Flux would apply it: every kustomize overlay builds with kubectl's
// kustomize, is valid for the CRD schemas (kubeconform -strict) and is accepted by a real apiserver with
// the API installed (server-side dry run, so the CRDs' CEL rules run too); the Argo CD Application and
// the Flux HelmRelease are valid for their own projects' CRDs, and the chart values they carry pass the
// chart's values.schema.json.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { helmBinary, kubernetesBinary, thirdPartyCrdDirs } from '../harness/assets.ts';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { chartDir, installApi } from '../harness/crds.ts';
import { kubeconform, objectCount, writeKubeconformSchemas } from '../harness/kube-schemas.ts';
import { repoRoot } from '../harness/paths.ts';
import { pinnedVersions } from '../harness/versions.ts';

const run = promisify(execFile);
const gitops = join(repoRoot, 'examples', 'gitops');
const kustomizations = ['calltypes/overlays/staging', 'calltypes/overlays/production', 'recordings'];

describe('GitOps examples', () => {
  let cp: ControlPlane;
  let schemas: string;
  let work: string;
  const kubectl = (...args: string[]) => run(kubernetesBinary('kubectl'), ['--kubeconfig', cp.kubeconfigPath, ...args]);
  before(async () => {
    cp = await startControlPlane();
    await installApi(cp.kubeConfig());
    work = mkdtempSync(join(tmpdir(), 'gitops-'));
    schemas = join(work, 'schemas');
    await writeKubeconformSchemas(cp.kubeconfigPath, schemas, [join(repoRoot, 'crds'), ...thirdPartyCrdDirs()]);
  });
  after(async () => {
    await cp?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('every kustomization builds, is schema-valid, and a real apiserver accepts it', async () => {
    await cp.kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'town-hall' } } });
    const built: Record<string, string> = {};
    for (const path of kustomizations) {
      const { stdout } = await kubectl('kustomize', join(gitops, path));
      built[path] = stdout;
      const report = await kubeconform(stdout, schemas);
      assert.equal(report.exitCode, 0, `${path}: ${JSON.stringify(report.resources)}`);
      assert.equal(report.summary.valid, objectCount(stdout), path);
      const applied = await kubectl('apply', '--dry-run=server', '-k', join(gitops, path));
      assert.match(applied.stdout, /(created|configured) \(server dry run\)/, path);
    }
    // The overlays change what they say they change.
    const webinar = (path: string) => parseAllDocuments(built[path]!).map((d) => d.toJS() as { kind: string; metadata: { labels: Record<string, string> }; spec: { recording: { quality: string }; storage: { bucket: string; reclaimPolicy: string } } }).find((o) => o.kind === 'CallType')!;
    assert.equal(webinar('calltypes/overlays/staging').spec.storage.bucket, 'recordings-staging');
    assert.equal(webinar('calltypes/overlays/staging').spec.storage.reclaimPolicy, 'Delete');
    assert.equal(webinar('calltypes/overlays/production').spec.storage.bucket, 'recordings-production');
    assert.equal(webinar('calltypes/overlays/production').spec.recording.quality, '1080p');
    assert.equal(webinar('calltypes/overlays/production').metadata.labels['app.kubernetes.io/part-of'], 'recording-platform');
    assert.match(built.recordings!, /namespace: town-hall/);
  });

  test('every manifest in examples/ is accepted by a real apiserver with the API installed', async () => {
    const core = cp.kubeConfig().makeApiClient(CoreV1Api);
    for (const namespace of ['recording-system', 'podcasts']) await core.createNamespace({ body: { metadata: { name: namespace } } }).catch(() => undefined);
    const examples = readdirSync(join(repoRoot, 'examples')).filter((f) => f.endsWith('.yaml'));
    assert.ok(examples.includes('calltype-gcs.yaml') && examples.includes('calltype-sftp.yaml') && examples.includes('calltype-aws.yaml'));
    for (const file of examples) {
      const applied = await kubectl('apply', '--dry-run=server', '-f', join(repoRoot, 'examples', file));
      assert.equal(applied.stdout.match(/\(server dry run\)/g)?.length, objectCount(readFileSync(join(repoRoot, 'examples', file), 'utf8')), file);
    }
  });

  test('a broken overlay is refused by the apiserver with the field named', async () => {
    const broken = join(work, 'broken');
    const { stdout } = await kubectl('kustomize', join(gitops, 'calltypes/overlays/production'));
    writeFileSync(`${broken}.yaml`, stdout.replace('quality: 1080p', 'quality: 4k'));
    await assert.rejects(kubectl('apply', '--dry-run=server', '-f', `${broken}.yaml`), /spec\.recording\.quality: Unsupported value: "4k"/);
  });

  test('the Argo CD Application and the Flux HelmRelease are valid, and the chart accepts their values', async () => {
    for (const file of ['platform/argocd-application.yaml', 'platform/flux-helmrelease.yaml']) {
      const text = readFileSync(join(gitops, file), 'utf8');
      const report = await kubeconform(text, schemas);
      assert.equal(report.exitCode, 0, `${file}: ${JSON.stringify(report.resources)}`);
      assert.equal(report.summary.valid, objectCount(text), file);
      for (const doc of parseAllDocuments(text).map((d) => d.toJS() as { kind: string; spec: { source?: { helm?: { valuesObject?: object } }; values?: object } })) {
        const values = doc.spec.source?.helm?.valuesObject ?? (doc.kind === 'HelmRelease' ? doc.spec.values : undefined);
        if (!values) continue;
        const valuesFile = join(work, `${doc.kind}-values.yaml`);
        writeFileSync(valuesFile, stringify(values));
        const rendered = await run(helmBinary(), ['template', 'recording-operator', chartDir, '--namespace', 'recording-system', '--kube-version', pinnedVersions().KUBERNETES_VERSION, '-f', valuesFile], { maxBuffer: 64 * 1024 * 1024 });
        assert.match(rendered.stdout, /kind: Deployment/, `${file}: the chart renders with its values`);
      }
    }
  });
});
