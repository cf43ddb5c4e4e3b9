// fake-gcs-server (built from the Go module proxy by scripts/build-go-tools.sh), a Google Cloud Storage
// emulator with the JSON, XML and resumable upload APIs, on loopback over http with a filesystem backend
// in its own run directory. stop()/start() keep the port and data. It checks no credentials, as
// emulators do; a service account key for the tests is made here (a real RSA key, so V4 URLs are signed).
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { fakeGcsServerBinary } from './assets.ts';
import { freePort, startProcess, waitUntil } from './processes.ts';
import { restartable, type Restartable } from './restartable.ts';
import { makeRunDir } from './run-dir.ts';

export interface FakeGcsServer extends Restartable {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /** A service account JSON key, as the console downloads it. */
  serviceAccountKey: string;
  createBucket(name: string): Promise<void>;
}

export async function startFakeGcs(): Promise<FakeGcsServer> {
  const dir = makeRunDir('fake-gcs');
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const server = await restartable(dir, async () => {
    const proc = startProcess('fake-gcs-server', fakeGcsServerBinary(), [
      '-scheme', 'http', '-host', '127.0.0.1', '-port', String(port),
      '-backend', 'filesystem', '-filesystem-root', join(dir, 'data'),
      // Download URLs (signed V4 URLs, /bucket/object) point here rather than at storage.googleapis.com.
      '-public-host', `127.0.0.1:${port}`, '-external-url', endpoint, '-log-level', 'warn',
    ], join(dir, 'fake-gcs-server.log'));
    await waitUntil('fake-gcs-server', async () => (await fetch(`${endpoint}/storage/v1/b`)).ok, proc, 30_000);
    return proc;
  });
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const serviceAccountKey = JSON.stringify({
    type: 'service_account',
    project_id: 'recording-test',
    private_key_id: 'test',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    client_email: 'recorder@recording-test.iam.gserviceaccount.com',
    client_id: '1',
    token_uri: 'https://oauth2.googleapis.com/token',
  });
  return {
    endpoint,
    serviceAccountKey,
    async createBucket(name: string) {
      const response = await fetch(`${endpoint}/storage/v1/b?project=recording-test`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
      if (!response.ok) throw new Error(`creating bucket ${name}: HTTP ${response.status} ${await response.text()}`);
    },
    ...server,
  };
}
