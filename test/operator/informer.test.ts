// The operator's list-and-watch cache against a real apiserver: paged lists, add/update/delete events,
// the transform (no managedFields in the cache), recovery from an apiserver restart and from a
// resourceVersion that has been compacted away (410 Gone → relist).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { pino } from 'pino';
import { ResilientInformer } from '../../operator/src/runtime/informer.ts';
import { fromKubeconfig, KubeApi } from '../../operator/src/runtime/kube-api.ts';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';

const namespace = 'informer-test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('ResilientInformer', () => {
  let cp: ControlPlane;
  let core: CoreV1Api;
  let informer: ResilientInformer<V1ConfigMap>;
  const seen = { add: 0, update: 0, delete: 0 };

  before(async () => {
    cp = await startControlPlane();
    core = cp.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    // More than one list page (500), so the paging is exercised.
    const names = Array.from({ length: 520 }, (_, i) => `cm-${i}`);
    for (let i = 0; i < names.length; i += 20) {
      await Promise.all(names.slice(i, i + 20).map((name) => core.createNamespacedConfigMap({ namespace, body: { metadata: { name, labels: { set: 'watched' } }, data: { i: name } } })));
    }
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'not-selected' } } });
    informer = new ResilientInformer<V1ConfigMap>({ api: new KubeApi(fromKubeconfig(cp.kubeconfigPath)), log: pino({ level: 'silent' }), path: `/api/v1/namespaces/${namespace}/configmaps`, labelSelector: 'set=watched' });
    informer.addHandlers({ onAdd: () => seen.add++, onUpdate: () => seen.update++, onDelete: () => seen.delete++ });
    await informer.start();
    await informer.synced;
  });
  after(async () => {
    await informer?.stop();
    await cp?.stop();
  });

  test('the first list pages through everything the selector matches, without managedFields', () => {
    assert.equal(informer.listCached().length, 520);
    assert.equal(seen.add, 520);
    assert.equal(informer.get('not-selected', namespace), undefined);
    const cached = informer.get('cm-7', namespace);
    assert.equal(cached?.data?.i, 'cm-7');
    assert.equal(cached?.metadata?.managedFields, undefined, 'the transform dropped managedFields');
  });

  test('changes arrive as add, update and delete events', async () => {
    const before = { ...seen };
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'late', labels: { set: 'watched' } }, data: { v: '1' } } });
    await core.replaceNamespacedConfigMap({ namespace, name: 'cm-1', body: { metadata: { name: 'cm-1', labels: { set: 'watched' } }, data: { v: 'changed' } } });
    await core.deleteNamespacedConfigMap({ namespace, name: 'cm-2' });
    await until('the three events', () => seen.add === before.add + 1 && seen.update === before.update + 1 && seen.delete === before.delete + 1);
    assert.equal(informer.get('cm-1', namespace)?.data?.v, 'changed');
    assert.equal(informer.get('cm-2', namespace), undefined);
  });

  test('an apiserver restart: the watch resumes and what changed meanwhile arrives', async () => {
    await cp.restartApiserver();
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'after-restart', labels: { set: 'watched' } } } });
    await until('the object created after the restart', () => informer.get('after-restart', namespace) !== undefined, 60_000);
    assert.ok(informer.restarts >= 1, 'the failed watch was started again');
  });

  test('a resourceVersion compacted away (410 Gone) makes it relist and catch up, deletes included', async () => {
    // Stop watching, change things, compact etcd past the informer's resourceVersion and restart the
    // apiserver (so its watch cache starts after it too), then resume.
    await informer.stop();
    await core.deleteNamespacedConfigMap({ namespace, name: 'cm-3' });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'while-away', labels: { set: 'watched' } } } });
    await cp.stopApiserver();
    await cp.compactEtcd();
    await cp.startApiserver();
    const deletes = seen.delete;
    const lists = informer.lists;
    await informer.start();
    await until('the relist', () => informer.get('while-away', namespace) !== undefined && informer.get('cm-3', namespace) === undefined);
    assert.equal(informer.lists, lists + 1, 'it listed again (the watch answered 410 Gone)');
    assert.equal(seen.delete, deletes + 1, 'the object deleted while away was reported deleted');
  });
});
