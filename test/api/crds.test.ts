// The API against a real kube-apiserver: the CRDs install, the examples are accepted, and bad input is
// rejected by the apiserver itself with a message that names the field (and nothing is stored).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ApiException, CoreV1Api, CustomObjectsApi, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions } from '@kubernetes/client-node';
import type { CallType, Recording } from '@recording-operator/common/api/generated/types.ts';
import { kubernetesBinary } from '../harness/assets.ts';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { installApi } from '../harness/crds.ts';
import { repoRoot } from '../harness/paths.ts';

const run = promisify(execFile);
const group = 'recording.dev';
const version = 'v1alpha1';
const namespace = 'api-test';

const validCallType = (): CallType => ({
  apiVersion: `${group}/${version}`,
  kind: 'CallType',
  metadata: { name: 'placeholder' },
  spec: {
    recording: { mode: 'available', quality: '720p', layout: { name: 'grid' } },
    callUrlTemplate: 'https://meet.example.com/{callId}',
    storage: { type: 's3', bucket: 'recordings', secretRef: { name: 'storage' } },
  },
});

const validRecording = (): Recording => ({
  apiVersion: `${group}/${version}`,
  kind: 'Recording',
  metadata: { name: 'placeholder', namespace },
  spec: { callType: 'default', callId: 'call-1' },
});

// JSON-shaped edits of the valid objects: the tests deliberately write values the types forbid.
type Loose = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface InvalidCase {
  name: string;
  kind: 'CallType' | 'Recording';
  edit: (o: Loose) => void;
  /** Field path and message fragments the apiserver's error must contain. */
  expect: string[];
}

const invalid: InvalidCase[] = [
  { name: 'unknown mode', kind: 'CallType', edit: (o) => (o.spec.recording.mode = 'sometimes'), expect: ['spec.recording.mode', 'Unsupported value: "sometimes"'] },
  { name: 'unknown quality', kind: 'CallType', edit: (o) => (o.spec.recording.quality = '4k'), expect: ['spec.recording.quality', 'Unsupported value'] },
  { name: 'width above 1920', kind: 'CallType', edit: (o) => { delete o.spec.recording.quality; o.spec.recording.video = { width: 2560, height: 1440 }; }, expect: ['spec.recording.video.width', '1920'] },
  { name: 'odd width', kind: 'CallType', edit: (o) => { delete o.spec.recording.quality; o.spec.recording.video = { width: 1281, height: 720 }; }, expect: ['spec.recording.video.width', 'multiple of 2'] },
  { name: 'width without height', kind: 'CallType', edit: (o) => { delete o.spec.recording.quality; o.spec.recording.video = { width: 1280 }; }, expect: ['spec.recording.video', 'video.width and video.height must be set together'] },
  { name: 'quality and explicit size', kind: 'CallType', edit: (o) => (o.spec.recording.video = { width: 1280, height: 720 }), expect: ['spec.recording', 'set either quality or video.width/video.height'] },
  { name: 'VP8 with AAC', kind: 'CallType', edit: (o) => { o.spec.recording.video = { codec: 'VP8' }; o.spec.recording.audio = { codec: 'AAC' }; }, expect: ['spec.recording', 'VP8 (WebM) needs audio.codec OPUS or VORBIS'] },
  { name: 'Opus with H264', kind: 'CallType', edit: (o) => { o.spec.recording.video = { codec: 'H264' }; o.spec.recording.audio = { codec: 'OPUS' }; }, expect: ['spec.recording', 'OPUS or VORBIS is only for VP8'] },
  { name: 'audioOnly with quality', kind: 'CallType', edit: (o) => { o.spec.recording.audioOnly = true; delete o.spec.recording.layout; }, expect: ['spec.recording', 'audioOnly records no video'] },
  { name: 'max duration below 60', kind: 'CallType', edit: (o) => (o.spec.recording.maxDurationSeconds = 30), expect: ['spec.recording.maxDurationSeconds', 'greater than or equal to 60'] },
  { name: 'max duration above a day', kind: 'CallType', edit: (o) => (o.spec.recording.maxDurationSeconds = 100000), expect: ['spec.recording.maxDurationSeconds', 'less than or equal to 86400'] },
  { name: 'custom layout without app', kind: 'CallType', edit: (o) => (o.spec.recording.layout = { name: 'custom' }), expect: ['spec.recording.layout', 'custom needs layout.externalAppUrl'] },
  { name: 'app URL without custom layout', kind: 'CallType', edit: (o) => (o.spec.recording.layout = { name: 'grid', externalAppUrl: 'https://app.example.com' }), expect: ['spec.recording.layout', 'only used with layout.name custom'] },
  { name: 'grid.columns 0', kind: 'CallType', edit: (o) => (o.spec.recording.layout.options = { 'grid.columns': 0 }), expect: ['spec.recording.layout.options.grid.columns', 'greater than or equal to 1'] },
  { name: 'color name instead of hex', kind: 'CallType', edit: (o) => (o.spec.recording.layout.options = { 'video.background_color': 'red' }), expect: ['spec.recording.layout.options.video.background_color', 'should match'] },
  { name: 'misspelt layout option', kind: 'CallType', edit: (o) => (o.spec.recording.layout.options = { 'grid.colums': 3 }), expect: ['unknown field', 'spec.recording.layout.options.grid.colums'] },
  { name: 'ftp page template', kind: 'CallType', edit: (o) => (o.spec.callUrlTemplate = 'ftp://meet.example.com/{callId}'), expect: ['spec.callUrlTemplate', 'should match'] },
  { name: 'template without {callId}', kind: 'CallType', edit: (o) => (o.spec.callUrlTemplate = 'https://meet.example.com/room'), expect: ['spec.callUrlTemplate', 'must contain the {callId} placeholder'] },
  { name: 'javascript: allowed URL', kind: 'CallType', edit: (o) => (o.spec.allowedUrls = ['javascript:alert(1)']), expect: ['spec.allowedUrls[0]', 'should match'] },
  { name: 'unknown storage type', kind: 'CallType', edit: (o) => (o.spec.storage.type = 'dropbox'), expect: ['spec.storage.type', 'Unsupported value: "dropbox"'] },
  { name: 's3 without bucket', kind: 'CallType', edit: (o) => delete o.spec.storage.bucket, expect: ['spec.storage', 'storage.bucket is required'] },
  { name: 'sftp without endpoint', kind: 'CallType', edit: (o) => (o.spec.storage = { type: 'sftp', path: 'in' }), expect: ['spec.storage', 'sftp needs endpoint sftp://'] },
  { name: 'storage path escaping upwards', kind: 'CallType', edit: (o) => (o.spec.storage.path = 'a/../../etc'), expect: ['spec.storage.path', "must not contain '..'"] },
  { name: 'download URL expiry too short', kind: 'CallType', edit: (o) => (o.spec.storage.downloadUrlExpirySeconds = 10), expect: ['spec.storage.downloadUrlExpirySeconds', 'greater than or equal to 60'] },
  { name: 'unknown reclaim policy', kind: 'CallType', edit: (o) => (o.spec.storage.reclaimPolicy = 'Keep'), expect: ['spec.storage.reclaimPolicy', 'Unsupported value: "Keep"'] },
  { name: 'missing storage', kind: 'CallType', edit: (o) => delete o.spec.storage, expect: ['spec.storage', 'Required value'] },
  { name: 'webhook URL not http', kind: 'CallType', edit: (o) => (o.spec.webhooks = [{ name: 'app', url: 'mailto:ops@example.com', secretRef: { name: 's' } }]), expect: ['spec.webhooks[0].url', 'should match'] },
  { name: 'unknown webhook event', kind: 'CallType', edit: (o) => (o.spec.webhooks = [{ name: 'app', url: 'https://x.example.com', events: ['recording.exploded'], secretRef: { name: 's' } }]), expect: ['spec.webhooks[0].events[0]', 'Unsupported value'] },
  { name: 'auto-on without autoStart', kind: 'CallType', edit: (o) => (o.spec.recording.mode = 'auto-on'), expect: ['spec', 'auto-on needs autoStart'] },
  { name: 'watermark in the middle', kind: 'CallType', edit: (o) => (o.spec.recording.video = { watermark: { url: 'https://x.example.com/w.png', position: 'center' } }), expect: ['spec.recording.video.watermark.position', 'Unsupported value: "center"'] },
  { name: 'unknown file name placeholder', kind: 'CallType', edit: (o) => (o.spec.recording.fileNameTemplate = '{user}-{callId}'), expect: ['spec.recording.fileNameTemplate', 'should match'] },
  { name: 'surround audio', kind: 'CallType', edit: (o) => (o.spec.recording.audio = { channel: 'surround' }), expect: ['spec.recording.audio.channel', 'Unsupported value'] },
  { name: '120 fps', kind: 'CallType', edit: (o) => (o.spec.recording.video = { fps: 120 }), expect: ['spec.recording.video.fps', 'less than or equal to 60'] },
  { name: 'CPU request not a quantity', kind: 'CallType', edit: (o) => (o.spec.recorder = { resources: { requests: { cpu: 'lots' } } }), expect: ['spec.recorder.resources.requests.cpu', 'should match'] },
  { name: 'missing callType', kind: 'Recording', edit: (o) => delete o.spec.callType, expect: ['spec.callType', 'Required value'] },
  { name: 'neither callId nor url', kind: 'Recording', edit: (o) => delete o.spec.callId, expect: ['spec', 'set spec.callId, spec.url, or both'] },
  { name: 'callId with a space', kind: 'Recording', edit: (o) => (o.spec.callId = 'my call'), expect: ['spec.callId', 'should match'] },
  { name: 'callId longer than a label value', kind: 'Recording', edit: (o) => (o.spec.callId = 'c'.repeat(64)), expect: ['spec.callId', 'Too long'] },
  { name: 'file URL', kind: 'Recording', edit: (o) => (o.spec.url = 'file:///etc/passwd'), expect: ['spec.url', 'should match'] },
  { name: 'unknown state', kind: 'Recording', edit: (o) => (o.spec.state = 'Running'), expect: ['spec.state', 'Unsupported value: "Running"'] },
  { name: 'mode is not overridable', kind: 'Recording', edit: (o) => (o.spec.settingsOverride = { mode: 'available' }), expect: ['unknown field', 'spec.settingsOverride.mode'] },
  { name: 'override VP8 without Opus', kind: 'Recording', edit: (o) => (o.spec.settingsOverride = { video: { codec: 'VP8' } }), expect: ['spec.settingsOverride', 'VP8 (WebM) needs audio.codec OPUS or VORBIS'] },
  { name: 'override 8k', kind: 'Recording', edit: (o) => (o.spec.settingsOverride = { quality: '8k' }), expect: ['spec.settingsOverride.quality', 'Unsupported value'] },
  { name: 'storage Secret in another namespace', kind: 'Recording', edit: (o) => (o.spec.storage = { bucket: 'mine', secretRef: { name: 's', namespace: 'kube-system' } }), expect: ['spec.storage', 'secretRef.namespace must be unset'] },
  { name: 'max duration twice', kind: 'Recording', edit: (o) => { o.spec.maxDurationSeconds = 600; o.spec.settingsOverride = { maxDurationSeconds: 900 }; }, expect: ['spec', 'not both'] },
  { name: 'http RTMP URL', kind: 'Recording', edit: (o) => (o.spec.rtmp = { url: 'http://live.example.com/app' }), expect: ['spec.rtmp.url', 'should match'] },
];

function apiMessage(err: unknown): string {
  if (!(err instanceof ApiException)) throw err;
  const body: unknown = err.body;
  const parsed = typeof body === 'string' ? (JSON.parse(body) as { message?: string }) : (body as { message?: string });
  return parsed.message ?? String(body);
}

describe('CRDs against a real kube-apiserver', () => {
  let cp: ControlPlane;
  let custom: CustomObjectsApi;
  const kubectl = (...args: string[]) => run(kubernetesBinary('kubectl'), [`--kubeconfig=${cp.kubeconfigPath}`, ...args]);

  before(async () => {
    cp = await startControlPlane();
    const crds = await installApi(cp.kubeConfig());
    assert.equal(crds.length, 2);
    custom = cp.kubeConfig().makeApiClient(CustomObjectsApi);
    await cp.kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  });
  after(async () => cp?.stop());

  test('both CRDs are Established with their short names and category', async () => {
    const { stdout } = await kubectl('api-resources', '--api-group=recording.dev', '-o', 'wide');
    assert.match(stdout, /calltypes\s+ct\s+recording\.dev\/v1alpha1\s+false\s+CallType/);
    assert.match(stdout, /recordings\s+rec\s+recording\.dev\/v1alpha1\s+true\s+Recording/);
    const categories = await kubectl('get', 'recording', '-A', '-o', 'name');
    assert.equal(categories.stdout.trim(), '', 'category "recording" resolves and lists nothing yet');
  });

  test('every example manifest is accepted by kubectl apply with strict validation', async () => {
    const files = readdirSync(join(repoRoot, 'examples')).filter((f) => f.endsWith('.yaml'));
    assert.ok(files.length >= 5, `expected examples, found ${files.join(', ')}`);
    await kubectl('create', 'namespace', 'podcasts');
    for (const f of files.sort((a, b) => (a.includes('secret') ? -1 : b.includes('secret') ? 1 : 0))) {
      await kubectl('apply', '--validate=strict', '-f', join(repoRoot, 'examples', f));
    }
    const { stdout } = await kubectl('get', 'rec', '-n', 'default', '-o', 'name');
    assert.deepEqual(stdout.trim().split('\n').sort(), ['recording.recording.dev/dashboard-walkthrough', 'recording.recording.dev/standup', 'recording.recording.dev/town-hall']);
    const wide = await kubectl('get', 'rec', '-n', 'default');
    assert.match(wide.stdout, /NAME\s+PHASE\s+CALL TYPE\s+CALL\s+DURATION\s+SIZE\s+AGE/);
  });

  test('defaults are applied by the apiserver', async () => {
    const ct = (await custom.getClusterCustomObject({ group, version, plural: 'calltypes', name: 'default' })) as CallType;
    assert.equal(ct.spec.storage.reclaimPolicy, 'Retain');
    assert.equal(ct.spec.recording?.allowMultipleRecordings, false);
    assert.equal(ct.spec.recording?.autoStop?.allParticipantsLeftSeconds, 60);
    assert.equal(ct.spec.recording?.autoStop?.noMediaSeconds, 0);
    const rec = (await custom.getNamespacedCustomObject({ group, version, namespace: 'default', plural: 'recordings', name: 'standup' })) as Recording;
    assert.equal(rec.spec.state, 'Recording');
    const override = (await custom.getNamespacedCustomObject({ group, version, namespace: 'default', plural: 'recordings', name: 'town-hall' })) as Recording;
    assert.equal(override.spec.settingsOverride?.video, undefined, 'overrides get no defaults, so unset fields inherit');
  });

  test(`${invalid.length} invalid objects are rejected, each naming the field, and none is stored`, async () => {
    assert.ok(invalid.length >= 30);
    for (const [i, c] of invalid.entries()) {
      const object: Loose = c.kind === 'CallType' ? validCallType() : validRecording();
      object.metadata.name = `invalid-${i}`;
      c.edit(object);
      const create =
        c.kind === 'CallType'
          ? custom.createClusterCustomObject({ group, version, plural: 'calltypes', body: object, fieldValidation: 'Strict' })
          : custom.createNamespacedCustomObject({ group, version, namespace, plural: 'recordings', body: object, fieldValidation: 'Strict' });
      const message = await create.then(
        () => assert.fail(`${c.name}: accepted, expected a rejection mentioning ${c.expect.join(' and ')}`),
        apiMessage,
      );
      for (const part of c.expect) assert.ok(message.includes(part), `${c.name}: "${message}" does not mention "${part}"`);
      const stored =
        c.kind === 'CallType'
          ? custom.getClusterCustomObject({ group, version, plural: 'calltypes', name: object.metadata.name })
          : custom.getNamespacedCustomObject({ group, version, namespace, plural: 'recordings', name: object.metadata.name });
      await assert.rejects(stored, (err: ApiException<unknown>) => err.code === 404, `${c.name}: object was stored`);
    }
  });

  test('the valid base objects are accepted (so the table above tests the edits, not the base)', async () => {
    const ct: Loose = validCallType();
    ct.metadata.name = 'base';
    await custom.createClusterCustomObject({ group, version, plural: 'calltypes', body: ct, fieldValidation: 'Strict' });
    const rec: Loose = validRecording();
    rec.metadata.name = 'base';
    await custom.createNamespacedCustomObject({ group, version, namespace, plural: 'recordings', body: rec, fieldValidation: 'Strict' });
  });

  test('update rules: identity and settings are immutable, a Stopped recording stays stopped', async () => {
    const name = 'update-rules';
    const rec: Loose = validRecording();
    rec.metadata.name = name;
    rec.spec.settingsOverride = { quality: '480p' };
    await custom.createNamespacedCustomObject({ group, version, namespace, plural: 'recordings', body: rec });
    const patch = (spec: Loose) =>
      kubectl('patch', 'rec', name, '-n', namespace, '--type=merge', '-p', JSON.stringify({ spec })).then(
        () => '',
        (err: { stderr: string }) => err.stderr,
      );
    assert.match(await patch({ callId: 'other' }), /spec\.callId is immutable/);
    assert.match(await patch({ callType: 'other' }), /spec\.callType is immutable/);
    assert.match(await patch({ settingsOverride: { quality: '1080p' } }), /spec\.settingsOverride is immutable/);
    assert.match(await patch({ url: 'https://meet.example.com/x' }), /spec\.url cannot be added or removed after creation/);
    assert.equal(await patch({ maxDurationSeconds: 600 }), '', 'the limit may change while recording');
    assert.equal(await patch({ state: 'Paused' }), '');
    assert.equal(await patch({ state: 'Recording' }), '');
    assert.equal(await patch({ state: 'Stopped' }), '');
    assert.match(await patch({ state: 'Recording' }), /spec\.state: Invalid value.*a Stopped recording cannot be restarted/);
    const stored = (await custom.getNamespacedCustomObject({ group, version, namespace, plural: 'recordings', name })) as Recording;
    assert.equal(stored.spec.state, 'Stopped');
    assert.equal(stored.spec.callId, 'call-1');
  });

  test('the shipped roles let namespace users record, and the admission policy names who created and who stopped', async () => {
    const rbac = cp.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    for (const user of ['alice', 'bob']) {
      await rbac.createNamespacedRoleBinding({ namespace, body: { metadata: { name: `${user}-records` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'recording-editor' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }] } });
    }
    const as = (user: 'alice' | 'bob') => cp.kubeConfig(user).makeApiClient(CustomObjectsApi);
    const read = async (name: string) => ((await custom.getNamespacedCustomObject({ group, version, namespace, plural: 'recordings', name })) as Recording).metadata?.annotations ?? {};
    const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const patchAs = (user: 'alice' | 'bob', name: string, body: Loose) => as(user).patchNamespacedCustomObject({ group, version, namespace, plural: 'recordings', name, body }, mergePatch);

    // Alice creates one and tries to pass it off as someone else's.
    const rec: Loose = validRecording();
    rec.metadata.name = 'callers';
    rec.metadata.annotations = { 'recording.dev/requested-by': 'mallory', 'recording.dev/state-changed-by': 'mallory' };
    await as('alice').createNamespacedCustomObject({ group, version, namespace, plural: 'recordings', body: rec });
    assert.deepEqual(await read('callers'), { 'recording.dev/requested-by': 'alice' });

    // Edits that leave spec.state alone cannot rewrite or add the annotations.
    await patchAs('bob', 'callers', { metadata: { annotations: { 'recording.dev/requested-by': 'bob', 'recording.dev/state-changed-by': 'bob', note: 'kept' } } });
    assert.deepEqual(await read('callers'), { 'recording.dev/requested-by': 'alice', note: 'kept' });

    // Bob stops it: he is recorded as the one who changed the state; alice stays the creator.
    await patchAs('bob', 'callers', { spec: { state: 'Stopped' } });
    assert.deepEqual(await read('callers'), { 'recording.dev/requested-by': 'alice', 'recording.dev/state-changed-by': 'bob', note: 'kept' });
    await patchAs('alice', 'callers', { metadata: { annotations: { 'recording.dev/state-changed-by': null, note: null } } });
    assert.deepEqual(await read('callers'), { 'recording.dev/requested-by': 'alice', 'recording.dev/state-changed-by': 'bob' });

    // Users cannot write status or CallTypes; they can read CallTypes.
    await assert.rejects(as('alice').patchNamespacedCustomObjectStatus({ group, version, namespace, plural: 'recordings', name: 'callers', body: { status: { phase: 'UPLOADED' } } }, mergePatch), (err: { code?: number }) => err.code === 403);
    await as('alice').listClusterCustomObject({ group, version, plural: 'calltypes' });
    await assert.rejects(as('alice').createClusterCustomObject({ group, version, plural: 'calltypes', body: { ...validCallType(), metadata: { name: 'by-alice' } } }), (err: { code?: number }) => err.code === 403);
  });

  test('kubectl explain shows the field descriptions', async () => {
    const spec = await kubectl('explain', 'recording.spec');
    assert.match(spec.stdout, /What to record and how/);
    assert.match(spec.stdout, /callId\s+<string>/);
    assert.match(spec.stdout, /substituted into the CallType's callUrlTemplate/);
    const options = await kubectl('explain', 'calltype.spec.recording.layout.options');
    assert.match(options.stdout, /grid\.columns\s+<integer>/);
    const state = await kubectl('explain', 'rec.spec.state');
    assert.match(state.stdout, /Paused \(the paused span is left out of\s+the file\)/);
  });
});
