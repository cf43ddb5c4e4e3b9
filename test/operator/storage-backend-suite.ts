// The tests every storage backend must pass, end to end through the operator against a real server:
// 1. a lifecycle: the CallType's reachability check, the recorder's credentials, the upload confirmed by
//    size and sha256, the download URL (or the status saying there is none), and reclaimPolicy Delete;
// 2. the storage away for 60 s while the recording uploads: it waits in UPLOADING, then the file arrives whole;
// 3. wrong credentials: the CallType and the Recording name the problem, and no secret is in any status,
//    event or log.
// Recorder Pods are the protocol stand-in, which uploads a real file through the recorder's own upload code.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CallType } from '@recording-operator/common/api/generated/types.ts';
import { parseLocation } from '@recording-operator/common/storage/object-store.ts';
import type { Restartable } from '../harness/restartable.ts';
import { OperatorTestEnvironment, operatorNamespace } from './environment.ts';

type StorageSpec = CallType['spec']['storage'];

export interface BackendUnderTest extends Restartable {
  /** The storage spec without path and secretRef, which the suite sets. */
  storage: Partial<StorageSpec>;
  /** stringData of a Secret with working credentials. */
  secret: Record<string, string>;
  /** The stored file at a location's key, or undefined when there is none. */
  read(key: string): Promise<Buffer | undefined>;
  /** Checks the recorder's Secret: what it holds instead of (or as) the storage Secret's credentials. */
  checkRecorderSecret(data: Record<string, string>): void;
  /** The CallType's StorageReachable message when all is well. */
  reachable: RegExp;
  /** true: status.output has a downloadUrl that serves the file; false: it says why it has none. */
  downloadUrls: boolean;
  /** More checks of a download URL than that it serves the file (such as its signature). */
  checkDownloadUrl?(url: string): void;
  wrongCredentials: {
    secret: Record<string, string>;
    storage?: Partial<StorageSpec>;
    /** The CallType's StorageReachable message. */
    refused: RegExp;
    /** How the Recording ends: refused at start (bad credentials the operator can tell), or after the upload's retry window. */
    recording: { code: 'STORAGE_CREDENTIALS' | 'UPLOAD_FAILED'; message: RegExp };
  };
  /** Strings that must never appear in a status, an event or a log. */
  secrets: string[];
  /** Patterns of secrets whose value is not known in advance (signatures). */
  secretPatterns?: RegExp[];
}

/** Every log the run wrote: the operator's and each Pod's (the recorder stand-in's). */
function logsUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.log')).map((f) => readFileSync(join(dir, f), 'utf8'));
}

export function describeStorageBackend(title: string, type: NonNullable<StorageSpec['type']>, startBackend: () => Promise<BackendUnderTest>): void {
  describe(title, () => {
    const env = new OperatorTestEnvironment();
    let backend: BackendUnderTest;
    const storage = (name: string, extra: Partial<StorageSpec> = {}): Partial<StorageSpec> => ({
      endpoint: undefined,
      forcePathStyle: undefined,
      bucket: undefined,
      ...backend.storage,
      path: type,
      secretRef: { name, namespace: operatorNamespace },
      ...extra,
    });
    before(async () => {
      await env.start({ standIns: true });
      backend = await startBackend();
      // A retry window that outlasts the 60 s outage below, and keeps the wrong-credentials case short.
      await env.startOperator({ UPLOAD_RETRY_WINDOW_SECONDS: '100' });
      await env.core.createNamespacedSecret({ namespace: operatorNamespace, body: { metadata: { name: `${type}-storage` }, stringData: backend.secret } });
      await env.createCallType(type, {}, storage(`${type}-storage`, { reclaimPolicy: 'Delete' }));
    });
    after(async () => {
      await env.stop();
      await backend?.destroy();
    });

    const storageCondition = async (name: string) => {
      for (let i = 0; i < 100; i++) {
        const ct = (await env.custom.getClusterCustomObject({ group: 'recording.dev', version: 'v1alpha1', plural: 'calltypes', name })) as { status?: { conditions?: { type: string; status: string; message: string }[] } };
        const c = ct.status?.conditions?.find((x) => x.type === 'StorageReachable');
        if (c) return c;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`CallType ${name} was never checked`);
    };

    test('a lifecycle: storage checked, recorder credentials, upload confirmed, download, file removed with the Recording', async () => {
      const reachable = await storageCondition(type);
      assert.equal(reachable.status, 'True', reachable.message);
      assert.match(reachable.message, backend.reachable);

      const ns = await env.createNamespace(type);
      await env.createRecording(ns, 'life', { callType: type, callId: 'life' });
      await env.phase(ns, 'life', 'RECORDING', 60_000);
      const recorderSecret = await env.core.readNamespacedSecret({ namespace: ns, name: 'life-recorder' });
      backend.checkRecorderSecret(Object.fromEntries(Object.entries(recorderSecret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()])));

      await env.setState(ns, 'life', 'Stopped');
      const done = await env.phase(ns, 'life', 'UPLOADED', 60_000);
      const output = done.status!.output!;
      const at = parseLocation(output.location!);
      assert.equal(at?.type, type);
      const stored = await backend.read(at.key);
      assert.ok(stored, `${output.location} is stored`);
      assert.equal(stored.length, output.sizeBytes);
      assert.equal(createHash('sha256').update(stored).digest('hex'), output.sha256);
      if (backend.downloadUrls) {
        const download = await fetch(output.downloadUrl!);
        assert.equal(download.status, 200);
        assert.deepEqual(Buffer.from(await download.arrayBuffer()), stored, 'the download URL serves the file');
        backend.checkDownloadUrl?.(output.downloadUrl!);
        assert.ok(Date.parse(output.downloadUrlExpiry!) > Date.now());
      } else {
        assert.equal(output.downloadUrl, undefined);
        assert.match(output.downloadUrlUnavailable ?? '', /no download URLs/);
      }

      await env.custom.deleteNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: ns, plural: 'recordings', name: 'life' });
      await env.waitGone(ns, 'life');
      assert.equal(await backend.read(at.key), undefined, 'reclaimPolicy Delete removed the file');
    });

    test('storage away for 60 s while the recording uploads: it waits in UPLOADING, then the file arrives whole', async () => {
      const ns = await env.createNamespace(`${type}-outage`);
      await env.createRecording(ns, 'outage', { callType: type, callId: 'outage' });
      await env.phase(ns, 'outage', 'RECORDING', 60_000);
      await backend.stop();
      const stoppedAt = Date.now();
      try {
        await env.setState(ns, 'outage', 'Stopped');
        await env.phase(ns, 'outage', 'UPLOADING', 30_000);
        await new Promise((r) => setTimeout(r, Math.max(0, 60_000 - (Date.now() - stoppedAt))));
        assert.equal((await env.phase(ns, 'outage', 'UPLOADING')).status?.phase, 'UPLOADING', 'still waiting, not failed');
      } finally {
        await backend.start();
      }
      const done = await env.phase(ns, 'outage', 'UPLOADED', 120_000);
      const output = done.status!.output!;
      const stored = await backend.read(parseLocation(output.location!)!.key);
      assert.equal(createHash('sha256').update(stored ?? '').digest('hex'), output.sha256);
    });

    test('wrong credentials: the CallType and the Recording name the problem, no secret anywhere', async () => {
      const wrong = backend.wrongCredentials;
      await env.core.createNamespacedSecret({ namespace: operatorNamespace, body: { metadata: { name: `${type}-wrong` }, stringData: wrong.secret } });
      await env.createCallType(`${type}-wrong`, {}, storage(`${type}-wrong`, { path: 'wrong', ...wrong.storage }));
      const refused = await storageCondition(`${type}-wrong`);
      assert.equal(refused.status, 'False');
      assert.match(refused.message, wrong.refused);

      const ns = await env.createNamespace(`${type}-wrong`);
      await env.createRecording(ns, 'wrong', { callType: `${type}-wrong`, callId: 'wrong' });
      if (wrong.recording.code === 'UPLOAD_FAILED') {
        await env.phase(ns, 'wrong', 'RECORDING', 60_000);
        await env.setState(ns, 'wrong', 'Stopped');
      }
      const failed = await env.phase(ns, 'wrong', 'ERRORED', 180_000);
      assert.equal(failed.status?.error?.code, wrong.recording.code);
      assert.match(failed.status?.error?.message ?? '', wrong.recording.message);

      const events = JSON.stringify((await env.core.listNamespacedEvent({ namespace: ns })).items);
      const callType: unknown = await env.custom.getClusterCustomObject({ group: 'recording.dev', version: 'v1alpha1', plural: 'calltypes', name: `${type}-wrong` });
      for (const text of [JSON.stringify(failed), JSON.stringify(callType), events, ...logsUnder(env.cp.dir)]) {
        for (const secret of backend.secrets) assert.ok(!text.includes(secret), 'no credential in status, events or logs');
        for (const pattern of backend.secretPatterns ?? []) assert.doesNotMatch(text, pattern);
      }
    });
  });
}
