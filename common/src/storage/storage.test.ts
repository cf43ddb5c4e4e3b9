import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConnectionString } from './azure-store.ts';
import { storageErrorMessage } from './errors.ts';
import { parseLocation } from './object-store.ts';

test('locations name their store, bucket and key', () => {
  assert.deepEqual(parseLocation('s3://recordings/demo/a.mp4'), { type: 's3', bucket: 'recordings', key: 'demo/a.mp4' });
  assert.deepEqual(parseLocation('azure://recordings/az/b/c.webm'), { type: 'azure', bucket: 'recordings', key: 'az/b/c.webm' });
  assert.deepEqual(parseLocation('gcs://recs/g/a.mp4'), { type: 'gcs', bucket: 'recs', key: 'g/a.mp4' });
  assert.deepEqual(parseLocation('sftp://files.example.com:2222/rec/a.mp4'), { type: 'sftp', bucket: 'files.example.com:2222', key: 'rec/a.mp4' });
  assert.equal(parseLocation('gs://x/y'), undefined);
  assert.equal(parseLocation('s3://bucket-only'), undefined);
});

test('Azure connection strings: account key, SAS, default endpoint', () => {
  const key = 'a2V5';
  assert.deepEqual(parseConnectionString(`DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=${key};BlobEndpoint=http://127.0.0.1:10000/dev;`), { credentials: { type: 'azure', accountName: 'dev', accountKey: key }, blobEndpoint: 'http://127.0.0.1:10000/dev' });
  assert.deepEqual(parseConnectionString('AccountName=prod;AccountKey=k==;EndpointSuffix=core.windows.net'), { credentials: { type: 'azure', accountName: 'prod', accountKey: 'k==' }, blobEndpoint: 'https://prod.blob.core.windows.net' });
  assert.deepEqual(parseConnectionString('BlobEndpoint=https://x.blob.core.windows.net;SharedAccessSignature=sv=2024&sig=abc'), { credentials: { type: 'azure', sasToken: 'sv=2024&sig=abc' }, blobEndpoint: 'https://x.blob.core.windows.net' });
  assert.throws(() => parseConnectionString('AccountName=only'), /neither AccountName with AccountKey nor SharedAccessSignature/);
});

test('storage errors keep status, code and first line, and never a SAS signature', () => {
  const sdkError = Object.assign(new Error('Server failed to authenticate the request.\nRequestId:1\nTime:2026'), { statusCode: 403, details: { errorCode: 'AuthorizationFailure' } });
  assert.equal(storageErrorMessage(sdkError), 'HTTP 403: AuthorizationFailure: Server failed to authenticate the request.');
  assert.equal(storageErrorMessage(new Error('GET http://h/c/b?sv=1&sig=SECRETSIG&se=2 failed')), 'GET http://h/c/b?sv=1&sig=…&se=2 failed');
  assert.equal(storageErrorMessage(Object.assign(new Error('Forbidden'), { code: 403 })), 'HTTP 403: Forbidden', 'the Google client puts the HTTP status in code');
  assert.equal(storageErrorMessage(new Error('GET https://storage.googleapis.com/b/k?X-Goog-Signature=abcdef&X-Goog-Date=1 failed')), 'GET https://storage.googleapis.com/b/k?X-Goog-Signature=…&X-Goog-Date=1 failed');
  assert.equal(storageErrorMessage(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })), 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1');
});
