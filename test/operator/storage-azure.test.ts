// Azure Blob storage end to end against Azurite (Microsoft's emulator, from npm): the operator checks the
// container, gives each recorder a container SAS (never the account key), the recorder uploads in blocks
// and confirms size and sha256, the download URL is a SAS URL that serves the file, reclaimPolicy Delete
// removes it; a 60 s storage outage during the upload loses nothing; a wrong key is reported with the
// problem named and no secret anywhere. Recorder Pods are the protocol stand-in, which uploads a real
// file through the recorder's own upload code.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { parseLocation } from '@recording-operator/common/storage/object-store.ts';
import { recorderSecretFiles } from '@recording-operator/common/protocol/recorder-config.ts';
import { startAzurite, type AzuriteServer } from '../harness/azurite.ts';
import { OperatorTestEnvironment, operatorNamespace } from './environment.ts';

const container = 'recordings';

/** Every log the run wrote: the operator's and each Pod's (the recorder stand-in's). */
function logsUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.log')).map((f) => readFileSync(join(dir, f), 'utf8'));
}

describe('Azure Blob storage (Azurite)', () => {
  const env = new OperatorTestEnvironment();
  let azurite: AzuriteServer;
  let blobs: ContainerClient;
  before(async () => {
    await env.start({ standIns: true });
    azurite = await startAzurite();
    blobs = new ContainerClient(`${azurite.blobEndpoint}/${container}`, new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey));
    await blobs.create();
    // A retry window that outlasts the 60 s outage below, and keeps the wrong-key case short.
    await env.startOperator({ UPLOAD_RETRY_WINDOW_SECONDS: '100' });
    await env.core.createNamespacedSecret({ namespace: operatorNamespace, body: { metadata: { name: 'azure-storage' }, stringData: { connectionString: azurite.connectionString } } });
    await env.createCallType('azure', {}, { type: 'azure', endpoint: undefined, forcePathStyle: undefined, bucket: container, path: 'az', reclaimPolicy: 'Delete', secretRef: { name: 'azure-storage', namespace: operatorNamespace } });
  });
  after(async () => {
    await env.stop();
    await azurite?.destroy();
  });

  const callTypeCondition = async (name: string) => {
    for (let i = 0; i < 100; i++) {
      const ct = await env.custom.getClusterCustomObject({ group: 'recording.dev', version: 'v1alpha1', plural: 'calltypes', name }) as { status?: { conditions?: { type: string; status: string; message: string }[] } };
      const c = ct.status?.conditions?.find((x) => x.type === 'StorageReachable');
      if (c) return c;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`CallType ${name} was never checked`);
  };

  test('a lifecycle: container checked, SAS-only recorder, upload confirmed, SAS download URL, file removed with the Recording', async () => {
    const reachable = await callTypeCondition('azure');
    assert.equal(reachable.status, 'True', reachable.message);
    assert.match(reachable.message, /container recordings is reachable/);

    const ns = await env.createNamespace('azure');
    await env.createRecording(ns, 'blob', { callType: 'azure', callId: 'blob' });
    await env.phase(ns, 'blob', 'RECORDING', 60_000);
    const recorderSecret = await env.core.readNamespacedSecret({ namespace: ns, name: 'blob-recorder' });
    assert.deepEqual(Object.keys(recorderSecret.data ?? {}).sort(), [recorderSecretFiles.controlToken, recorderSecretFiles.storageAzureSasToken].sort(), 'the recorder gets a SAS, not the account key');
    const sas = Buffer.from(recorderSecret.data![recorderSecretFiles.storageAzureSasToken]!, 'base64').toString();
    assert.match(sas, /(^|&)sp=rcw(&|$)/, 'read, create, write: no list, no delete');

    await env.setState(ns, 'blob', 'Stopped');
    const done = await env.phase(ns, 'blob', 'UPLOADED', 60_000);
    const output = done.status!.output!;
    const at = parseLocation(output.location!);
    assert.equal(at?.type, 'azure');
    assert.equal(at?.bucket, container);
    const stored = await blobs.getBlockBlobClient(at.key).downloadToBuffer();
    assert.equal(stored.length, output.sizeBytes);
    assert.equal(createHash('sha256').update(stored).digest('hex'), output.sha256);
    const download = await fetch(output.downloadUrl!);
    assert.equal(download.status, 200);
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), stored, 'the SAS download URL serves the file');
    assert.ok(Date.parse(output.downloadUrlExpiry!) > Date.now());

    await env.custom.deleteNamespacedCustomObject({ group: 'recording.dev', version: 'v1alpha1', namespace: ns, plural: 'recordings', name: 'blob' });
    await env.waitGone(ns, 'blob');
    assert.equal(await blobs.getBlockBlobClient(at.key).exists(), false, 'reclaimPolicy Delete removed the blob');
  });

  test('storage away for 60 s while the recording uploads: it waits in UPLOADING, then the file arrives whole', async () => {
    const ns = await env.createNamespace('azure-outage');
    await env.createRecording(ns, 'outage', { callType: 'azure', callId: 'outage' });
    await env.phase(ns, 'outage', 'RECORDING', 60_000);
    await azurite.stop();
    const stoppedAt = Date.now();
    try {
      await env.setState(ns, 'outage', 'Stopped');
      await env.phase(ns, 'outage', 'UPLOADING', 30_000);
      await new Promise((r) => setTimeout(r, Math.max(0, 60_000 - (Date.now() - stoppedAt))));
      assert.equal((await env.phase(ns, 'outage', 'UPLOADING')).status?.phase, 'UPLOADING', 'still waiting, not failed');
    } finally {
      await azurite.start();
    }
    const done = await env.phase(ns, 'outage', 'UPLOADED', 120_000);
    const output = done.status!.output!;
    const stored = await blobs.getBlockBlobClient(parseLocation(output.location!)!.key).downloadToBuffer();
    assert.equal(createHash('sha256').update(stored).digest('hex'), output.sha256);
  });

  test('a wrong account key: the CallType says storage refused the credentials, the Recording ends ERRORED naming the problem, no secret anywhere', async () => {
    const wrongKey = Buffer.from('not the key of this account, but base64 all the same').toString('base64');
    await env.core.createNamespacedSecret({ namespace: operatorNamespace, body: { metadata: { name: 'azure-wrong' }, stringData: { accountName: azurite.accountName, accountKey: wrongKey } } });
    await env.createCallType('azure-wrong', {}, { type: 'azure', endpoint: azurite.blobEndpoint, forcePathStyle: undefined, bucket: container, path: 'wrong', secretRef: { name: 'azure-wrong', namespace: operatorNamespace } });
    const refused = await callTypeCondition('azure-wrong');
    assert.equal(refused.status, 'False');
    assert.match(refused.message, /container recordings: HTTP 403/);

    const ns = await env.createNamespace('azure-wrong');
    await env.createRecording(ns, 'wrong', { callType: 'azure-wrong', callId: 'wrong' });
    await env.phase(ns, 'wrong', 'RECORDING', 60_000);
    await env.setState(ns, 'wrong', 'Stopped');
    const failed = await env.phase(ns, 'wrong', 'ERRORED', 180_000);
    assert.equal(failed.status?.error?.code, 'UPLOAD_FAILED');
    assert.match(failed.status?.error?.message ?? "", /upload of azure:\/\/recordings\/wrong\/\S+ failed after \d+ attempts over 100 s: HTTP 403/);

    const events = JSON.stringify((await env.core.listNamespacedEvent({ namespace: ns })).items);
    const everything = [JSON.stringify(failed), JSON.stringify(await env.custom.getClusterCustomObject({ group: 'recording.dev', version: 'v1alpha1', plural: 'calltypes', name: 'azure-wrong' })), events, ...logsUnder(env.cp.dir)];
    for (const text of everything) {
      assert.ok(!text.includes(wrongKey) && !text.includes(azurite.accountKey), 'no account key in status, events or logs');
      assert.doesNotMatch(text, /[?&]sig=[A-Za-z0-9%+/=]{20,}/, 'no SAS signature either');
    }
  });
});
