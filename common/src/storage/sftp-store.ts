// SFTP (OpenSSH and compatible servers) through ssh2. The server's host key must be pinned in knownHosts;
// an unknown or changed key ends the connection before any credential is sent. A file is written under
// a temporary name and renamed when complete, so a reader never sees a partial recording. SFTP keeps no
// metadata, so stat() reads the stored file back and hashes it: the sha256 is checked against what is
// really on the server. There are no download URLs.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { knownKeysFor, verifyHostKey } from './known-hosts.ts';
import { NoDownloadUrlError, type ObjectStore, type StoreCredentials, type StoreEndpoint, type StoredObject } from './object-store.ts';

type SftpCredentials = Extract<StoreCredentials, { type: 'sftp' }>;

/** SSH host-key algorithms a known_hosts key type can be presented with. */
const algorithmsOf: Record<string, string[]> = {
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

export class SftpStore implements ObjectStore {
  readonly bucket: string;
  private readonly host: string;
  private readonly port: number;
  private readonly credentials: SftpCredentials;

  constructor(endpoint: Extract<StoreEndpoint, { type: 'sftp' }>, credentials: SftpCredentials) {
    const url = new URL(endpoint.endpoint);
    this.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = url.port ? Number(url.port) : 22;
    this.bucket = url.port ? `${url.hostname}:${url.port}` : url.hostname;
    this.credentials = credentials;
  }

  location(key: string): string {
    return `sftp://${this.bucket}/${key}`;
  }

  async put(key: string, path: string): Promise<void> {
    await this.session(async (sftp) => {
      await mkdirs(sftp, posix.dirname(key));
      // Unique per attempt: a retry never appends to, or races with, an earlier attempt's leftovers.
      const partial = `${key}.${process.pid}-${Date.now()}.part`;
      try {
        await call<void>((done) => sftp.fastPut(path, partial, { concurrency: 16, chunkSize: 64 * 1024 }, done));
        await call<void>((done) => sftp.ext_openssh_rename(partial, key, done)).catch(async (err: Error) => {
          // Servers without OpenSSH's posix-rename cannot overwrite; a plain rename after removing the old file.
          if (!/not support/i.test(err.message)) throw err;
          await call<void>((done) => sftp.unlink(key, done)).catch(() => undefined);
          await call<void>((done) => sftp.rename(partial, key, done));
        });
      } catch (err) {
        await call<void>((done) => sftp.unlink(partial, done)).catch(() => undefined);
        throw err;
      }
    });
  }

  async stat(key: string): Promise<StoredObject> {
    return this.session(async (sftp) => {
      const attributes = await call<{ size: number }>((done) => sftp.stat(key, done));
      return { size: attributes.size, sha256: await remoteSha256(sftp, key, attributes.size) };
    });
  }

  signedGetUrl(): Promise<string> {
    return Promise.reject(new NoDownloadUrlError('SFTP storage has no download URLs: fetch the file from the server at its location'));
  }

  async remove(key: string): Promise<void> {
    await this.session(async (sftp) => {
      await call<void>((done) => sftp.unlink(key, done)).catch((err: { code?: number }) => {
        if (err.code !== 2) throw err; // SSH_FX_NO_SUCH_FILE: already gone
      });
    });
  }

  async checkReachable(): Promise<void> {
    await this.session(async (sftp) => {
      await call<unknown>((done) => sftp.readdir('.', done));
    });
  }

  /** One connection per operation: nothing to keep alive between uploads, and a dead server fails fast. */
  private async session<T>(work: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    const where = `${this.host}:${this.port}`;
    const known = knownKeysFor(this.credentials.knownHosts, this.host, this.port);
    let refusedHostKey: string | undefined;
    const serverHostKey = [...new Set(known.filter((k) => !k.revoked).flatMap((k) => algorithmsOf[k.type] ?? [k.type]))];
    const config: ConnectConfig = {
      host: this.host,
      port: this.port,
      username: this.credentials.username,
      readyTimeout: 20_000,
      keepaliveInterval: 10_000,
      keepaliveCountMax: 3,
      // Ask only for key types knownHosts pins, so the server presents one we can check.
      ...(serverHostKey.length > 0 ? { algorithms: { serverHostKey: serverHostKey as never } } : {}),
      hostVerifier: (key: Buffer) => {
        const verdict = verifyHostKey(known, key, where);
        if (!verdict.ok) refusedHostKey = verdict.reason;
        return verdict.ok;
      },
      ...(this.credentials.privateKey ? { privateKey: this.credentials.privateKey, passphrase: this.credentials.passphrase } : { password: this.credentials.password }),
    };
    const client = new Client();
    try {
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
        client.once('error', (err: Error & { level?: string }) => {
          if (refusedHostKey) reject(new Error(refusedHostKey));
          else if (err.level === 'client-authentication') reject(new Error(`${where} refused user ${this.credentials.username}'s ${this.credentials.privateKey ? 'private key' : 'password'} (authentication failed)`));
          else reject(err);
        });
        client.once('ready', () => client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
        client.connect(config);
      });
      return await work(sftp);
    } finally {
      client.end();
    }
  }
}

/**
 * The sha256 of a file on the server, read back with many reads in flight (one at a time would be bound
 * by the round-trip time) and hashed in order.
 */
async function remoteSha256(sftp: SFTPWrapper, path: string, size: number): Promise<string> {
  const chunk = 64 * 1024;
  const inFlight = 32;
  const handle = await call<Buffer>((done) => sftp.open(path, 'r', done));
  try {
    const hash = createHash('sha256');
    const read = (offset: number) => new Promise<Buffer>((resolve, reject) => {
      const buffer = Buffer.alloc(Math.min(chunk, size - offset));
      sftp.read(handle, buffer, 0, buffer.length, offset, (err, bytesRead) => (err ? reject(err) : resolve(buffer.subarray(0, bytesRead))));
    });
    const pending: Promise<Buffer>[] = [];
    let next = 0;
    for (; next < size && pending.length < inFlight; next += chunk) pending.push(read(next));
    let hashed = 0;
    while (pending.length > 0) {
      const data = await pending.shift()!;
      // A short read means the file changed under us; the size check that follows then fails.
      if (data.length === 0) break;
      hash.update(data);
      hashed += data.length;
      if (next < size) {
        pending.push(read(next));
        next += chunk;
      }
    }
    await Promise.allSettled(pending);
    if (hashed !== size) throw new Error(`${path} changed while it was read back (${hashed} of ${size} bytes)`);
    return hash.digest('hex');
  } finally {
    await call<void>((done) => sftp.close(handle, done)).catch(() => undefined);
  }
}

/** Creates each missing directory of a relative path, as mkdir -p. */
async function mkdirs(sftp: SFTPWrapper, dir: string): Promise<void> {
  if (dir === '.' || dir === '' || dir === '/') return;
  const exists = await call<{ isDirectory(): boolean }>((done) => sftp.stat(dir, done)).then((s) => s.isDirectory(), () => false);
  if (exists) return;
  await mkdirs(sftp, posix.dirname(dir));
  await call<void>((done) => sftp.mkdir(dir, done)).catch(async (err: Error) => {
    // Another recorder may have made it a moment ago.
    const made = await call<{ isDirectory(): boolean }>((done) => sftp.stat(dir, done)).then((s) => s.isDirectory(), () => false);
    if (!made) throw err;
  });
}

function call<T>(operation: (done: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => operation((err, value) => (err ? reject(err) : resolve(value as T))));
}
