// Google Cloud Storage end to end against fake-gcs-server (built from the Go module proxy) through the
// official client: resumable uploads, the sha256 as object metadata, V4 signed download URLs, deletion.
// The emulator checks no credentials, so the test checks the download URL's V4 signature itself, against
// the service account's public key, the way Google does; a broken key is refused by the operator before
// any request.
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { recorderSecretFiles } from '@recording-operator/common/protocol/recorder-config.ts';
import { startFakeGcs } from '../harness/fake-gcs.ts';
import { describeStorageBackend } from './storage-backend-suite.ts';

const bucket = 'recordings';

/**
 * Whether a V4 signed URL (GOOG4-RSA-SHA256) was signed by `privateKeyPem` for a GET of its path, per
 * https://cloud.google.com/storage/docs/access-control/signing-urls-manually.
 */
function hasValidV4Signature(signedUrl: string, privateKeyPem: string): boolean {
  const url = new URL(signedUrl);
  const signature = url.searchParams.get('X-Goog-Signature');
  if (!signature) return false;
  const encode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const query = [...url.searchParams].filter(([k]) => k !== 'X-Goog-Signature').map(([k, v]) => `${encode(k)}=${encode(v)}`).sort().join('&');
  // The host header is signed without the port (the client does so; Google's URLs have none).
  const canonicalRequest = ['GET', url.pathname, query, `host:${url.hostname}`, '', url.searchParams.get('X-Goog-SignedHeaders'), 'UNSIGNED-PAYLOAD'].join('\n');
  const scope = url.searchParams.get('X-Goog-Credential')!.split('/').slice(1).join('/');
  const stringToSign = ['GOOG4-RSA-SHA256', url.searchParams.get('X-Goog-Date'), scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  return verify('RSA-SHA256', Buffer.from(stringToSign), createPublicKey(privateKeyPem), Buffer.from(signature, 'hex'));
}

describeStorageBackend('Google Cloud Storage (fake-gcs-server)', 'gcs', async () => {
  const gcs = await startFakeGcs();
  await gcs.createBucket(bucket);
  const key = JSON.parse(gcs.serviceAccountKey) as { client_email: string; private_key: string };
  const keyBody = key.private_key.split('\n')[2]!;
  const brokenKey = JSON.stringify({ ...key, private_key: '-----BEGIN PRIVATE KEY-----\nTHISISNOTAKEYBUTSECRETANYWAY\n-----END PRIVATE KEY-----\n' });
  return {
    ...gcs,
    storage: { type: 'gcs', endpoint: gcs.endpoint, bucket },
    secret: { serviceAccountKey: gcs.serviceAccountKey },
    async read(objectKey) {
      const response = await fetch(`${gcs.endpoint}/storage/v1/b/${bucket}/o/${encodeURIComponent(objectKey)}?alt=media`);
      if (response.status === 404) return undefined;
      assert.equal(response.status, 200);
      return Buffer.from(await response.arrayBuffer());
    },
    checkRecorderSecret(data) {
      // GCS has no per-recording credentials the operator could issue (see the README): the recorder gets the key.
      const given = JSON.parse(data[recorderSecretFiles.storageGcsServiceAccountKey]!) as { client_email: string; private_key: string };
      assert.equal(given.client_email, key.client_email);
      assert.equal(given.private_key, key.private_key);
    },
    reachable: /bucket recordings is reachable/,
    downloadUrls: true,
    checkDownloadUrl(url: string) {
      assert.ok(url.startsWith(`${gcs.endpoint}/${bucket}/gcs/`), url.replace(/Signature=\w+/, 'Signature=…'));
      assert.ok(hasValidV4Signature(url, key.private_key), 'a V4 URL signed with the service account key');
      assert.ok(!hasValidV4Signature(url.replace(/X-Goog-Expires=\d+/, 'X-Goog-Expires=604800'), key.private_key), 'and the check catches a stretched expiry');
    },
    wrongCredentials: {
      secret: { serviceAccountKey: brokenKey },
      refused: /bucket recordings: storage Secret [\w-]+\/gcs-wrong: serviceAccountKey private_key of recorder@\S+ is not a PEM private key/,
      recording: { code: 'STORAGE_CREDENTIALS', message: /serviceAccountKey private_key of recorder@\S+ is not a PEM private key/ },
    },
    secrets: [keyBody, 'THISISNOTAKEYBUTSECRETANYWAY'],
    secretPatterns: [/X-Goog-Signature=[0-9a-f]{20,}/],
  };
});
