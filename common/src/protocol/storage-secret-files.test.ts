import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import type { StoreCredentials } from '../storage/object-store.ts';
import { parseServiceAccountKey } from '../storage/gcs-key.ts';
import { storageCredentialsFromFiles, storageSecretFiles } from './storage-secret-files.ts';

const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

/** What the recorder reads back from the files the operator wrote. */
function roundTrip(credentials: StoreCredentials): StoreCredentials {
  const files = storageSecretFiles(credentials);
  return storageCredentialsFromFiles(credentials.type, (file, required) => {
    if (required && !(file in files)) throw new Error(`missing ${file}`);
    return files[file];
  });
}

test('recorder credentials survive the trip through the recorder Secret, for every storage type', () => {
  const cases: StoreCredentials[] = [
    { type: 's3', accessKey: 'AK', secretKey: 'SK', sessionToken: 'ST' },
    { type: 's3', accessKey: 'AK', secretKey: 'SK', sessionToken: undefined },
    { type: 'azure', sasToken: 'sv=1&sp=rcw&sig=x' },
    { type: 'gcs', clientEmail: 'r@p.iam.gserviceaccount.com', privateKey: pem, projectId: 'p' },
    { type: 'sftp', username: 'rec', knownHosts: 'h ssh-ed25519 AAAA\n', privateKey: 'KEY', passphrase: 'pp', password: undefined },
    { type: 'sftp', username: 'rec', knownHosts: 'h ssh-ed25519 AAAA\n', privateKey: undefined, passphrase: undefined, password: 'pw' },
  ];
  for (const credentials of cases) assert.deepEqual(roundTrip(credentials), credentials);
});

test('an azure account key is never written for a recorder', () => {
  assert.throws(() => storageSecretFiles({ type: 'azure', accountName: 'a', accountKey: 'k' }), /never the account key/);
});

test('sftp without a key or password, and a broken gcs key, are named', () => {
  assert.throws(() => storageCredentialsFromFiles('sftp', () => undefined), /neither secret file storage-sftp-private-key nor storage-sftp-password/);
  assert.throws(() => storageCredentialsFromFiles('gcs', () => '{"type":"service_account"}'), /storage-gcs-service-account-key has no client_email/);
});

test('service account keys: what is wrong is named, the key is never quoted', () => {
  const key = { type: 'service_account', client_email: 'r@p.iam.gserviceaccount.com', private_key: pem, project_id: 'p' };
  assert.deepEqual(parseServiceAccountKey(JSON.stringify(key)), { type: 'gcs', clientEmail: key.client_email, privateKey: pem, projectId: 'p' });
  assert.throws(() => parseServiceAccountKey('AKIA...'), /is not JSON/);
  assert.throws(() => parseServiceAccountKey(JSON.stringify({ ...key, type: 'authorized_user' })), /must be a service account key/);
  assert.throws(() => parseServiceAccountKey(JSON.stringify({ ...key, private_key: 'secret-but-not-pem' })), (err: Error) => /is not a PEM private key/.test(err.message) && !err.message.includes('secret-but-not-pem'));
});
