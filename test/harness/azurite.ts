// Azurite, Microsoft's Azure Storage emulator (npm package azurite), blob service only, on loopback with
// its own data directory and a random account and key. stop()/start() keep the port and data, so tests
// can take storage away mid-upload and bring it back.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { freePort, startProcess, waitUntil } from './processes.ts';
import { restartable, type Restartable } from './restartable.ts';
import { makeRunDir } from './run-dir.ts';

export interface AzuriteServer extends Restartable {
  /** The blob service URL, path-style: http://127.0.0.1:<port>/<account>. */
  blobEndpoint: string;
  accountName: string;
  accountKey: string;
  connectionString: string;
}

export async function startAzurite(): Promise<AzuriteServer> {
  const dir = makeRunDir('azurite');
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const accountName = `acct${randomBytes(4).toString('hex')}`;
  const accountKey = randomBytes(64).toString('base64');
  const blobEndpoint = `http://127.0.0.1:${port}/${accountName}`;
  const main = createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js');
  const server = await restartable(dir, async () => {
    const proc = startProcess('azurite', process.execPath, [main, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', dataDir, '--skipApiVersionCheck', '--disableProductStyleUrl', '--silent'], join(dir, 'azurite.log'), {
      env: { ...process.env, AZURITE_ACCOUNTS: `${accountName}:${accountKey}` },
    });
    // Any HTTP answer means it listens (an unsigned request gets 4xx).
    await waitUntil('Azurite blob service', async () => (await fetch(`${blobEndpoint}?comp=list`)).status > 0, proc, 60_000);
    return proc;
  });
  return {
    blobEndpoint,
    accountName,
    accountKey,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${accountName};AccountKey=${accountKey};BlobEndpoint=${blobEndpoint};`,
    ...server,
  };
}
