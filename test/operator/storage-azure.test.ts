// Azure Blob storage end to end against Azurite (Microsoft's emulator, from npm): the operator checks the
// container and gives each recorder a container SAS (never the account key); the download URL is a SAS URL.
import assert from 'node:assert/strict';
import { ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { recorderSecretFiles } from '@recording-operator/common/protocol/recorder-config.ts';
import { startAzurite } from '../harness/azurite.ts';
import { describeStorageBackend } from './storage-backend-suite.ts';

const container = 'recordings';

describeStorageBackend('Azure Blob storage (Azurite)', 'azure', async () => {
  const azurite = await startAzurite();
  const blobs = new ContainerClient(`${azurite.blobEndpoint}/${container}`, new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey));
  await blobs.create();
  const wrongKey = Buffer.from('not the key of this account, but base64 all the same').toString('base64');
  return {
    ...azurite,
    storage: { type: 'azure', bucket: container },
    secret: { connectionString: azurite.connectionString },
    read: async (key) => {
      const blob = blobs.getBlockBlobClient(key);
      return (await blob.exists()) ? blob.downloadToBuffer() : undefined;
    },
    checkRecorderSecret(data) {
      assert.deepEqual(Object.keys(data).sort(), [recorderSecretFiles.controlToken, recorderSecretFiles.storageAzureSasToken].sort(), 'the recorder gets a SAS, not the account key');
      assert.match(data[recorderSecretFiles.storageAzureSasToken]!, /(^|&)sp=rcw(&|$)/, 'read, create, write: no list, no delete');
    },
    reachable: /container recordings is reachable/,
    downloadUrls: true,
    wrongCredentials: {
      secret: { accountName: azurite.accountName, accountKey: wrongKey },
      storage: { endpoint: azurite.blobEndpoint },
      refused: /container recordings: HTTP 403/,
      recording: { code: 'UPLOAD_FAILED', message: /upload of azure:\/\/recordings\/wrong\/\S+ failed after \d+ attempts over 100 s: HTTP 403/ },
    },
    secrets: [azurite.accountKey, wrongKey],
    secretPatterns: [/[?&]sig=[A-Za-z0-9%+/=]{20,}/],
  };
});
