// SFTP end to end against OpenSSH's sshd (Debian's openssh-server): the operator checks the server with
// the host key pinned in knownHosts; the recorder writes under a temporary name and renames; the sha256 is
// checked by reading the file back; there is no download URL. An unknown host key is refused, never
// accepted on first use.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { recorderSecretFiles } from '@recording-operator/common/protocol/recorder-config.ts';
import type { ObjectStore } from '@recording-operator/common/storage/object-store.ts';
import { SftpStore } from '@recording-operator/common/storage/sftp-store.ts';
import { startSftpServer, strangerKeyPair } from '../harness/sftp-server.ts';
import { makeRunDir } from '../harness/run-dir.ts';
import { describeStorageBackend } from './storage-backend-suite.ts';

/** A line from the middle of a private key: enough to spot it in a log, whatever the framing. */
const keyBody = (pem: string) => pem.split('\n')[2]!;

describeStorageBackend('SFTP storage (OpenSSH sshd)', 'sftp', async () => {
  const sftp = await startSftpServer();
  const stranger = strangerKeyPair(makeRunDir('sftp-keys')).privateKey;
  return {
    ...sftp,
    storage: { type: 'sftp', endpoint: sftp.endpoint },
    secret: { username: sftp.username, privateKey: sftp.privateKey, knownHosts: sftp.knownHosts },
    read: (key) => Promise.resolve(existsSync(join(sftp.filesDir, key)) ? readFileSync(join(sftp.filesDir, key)) : undefined),
    checkRecorderSecret(data) {
      assert.equal(data[recorderSecretFiles.storageSftpUsername], sftp.username);
      assert.equal(data[recorderSecretFiles.storageSftpKnownHosts]?.trim(), sftp.knownHosts.trim(), 'the recorder pins the same host key');
      assert.ok(data[recorderSecretFiles.storageSftpPrivateKey]?.includes(keyBody(sftp.privateKey)));
    },
    reachable: new RegExp(`SFTP server 127.0.0.1:${sftp.port} is reachable`),
    downloadUrls: false,
    wrongCredentials: {
      secret: { username: sftp.username, privateKey: stranger, knownHosts: sftp.knownHosts },
      refused: /SFTP server 127\.0\.0\.1:\d+: 127\.0\.0\.1:\d+ refused user \S+'s private key \(authentication failed\)/,
      recording: { code: 'UPLOAD_FAILED', message: /upload of sftp:\/\/127\.0\.0\.1:\d+\/wrong\/\S+ failed after \d+ attempts over 100 s: .*refused user \S+'s private key/ },
    },
    secrets: [keyBody(sftp.privateKey), keyBody(stranger)],
  };
});

test('SFTP: an unknown or changed host key ends the connection before any credential is sent', async () => {
  const server = await startSftpServer();
  try {
    const store = (knownHosts: string) => new SftpStore({ type: 'sftp', endpoint: server.endpoint }, { type: 'sftp', username: server.username, knownHosts, privateKey: server.privateKey });
    await store(server.knownHosts).checkReachable();
    const pinned = server.knownHosts.split('\n').filter(Boolean);
    // The right keys, but pinned for another port: this server is unknown.
    await assert.rejects(store(pinned.map((line) => line.replace(`]:${server.port} `, `]:${server.port + 1} `)).join('\n')).checkReachable(), new RegExp(`knownHosts has no key for 127\\.0\\.0\\.1:${server.port}; the server presented ssh-ed25519 SHA256:`));
    // Another key pinned for this host and port: what a man in the middle would look like.
    const impostor = strangerKeyPair(makeRunDir('sftp-keys')).publicKey;
    await assert.rejects(store(`[127.0.0.1]:${server.port} ${impostor}\n`).checkReachable(), /\(ssh-ed25519 SHA256:\S+\) does not match the key pinned in knownHosts/);
    await server.stop(); // and with it every session, so their log lines are written
    const log = readFileSync(join(server.filesDir, '..', 'sshd.log'), 'utf8');
    // The server saw the harness's readiness probe and the three connections; a connection that offers a
    // key logs "Postponed publickey" first, and only the verified one did.
    assert.equal(log.match(/^Connection from 127\.0\.0\.1/gm)?.length, 4, log);
    assert.equal(log.match(/Postponed publickey/g)?.length, 1, 'only the verified connection offered a key');
    assert.doesNotMatch(log, /Failed (publickey|password)/);
  } finally {
    await server.destroy();
  }
});

test('SFTP with a password: upload, read back, remove; a wrong password is named without being shown', async (t) => {
  const server = await startSftpServer();
  try {
    if (!server.passwordUser) {
      t.skip('password login needs a system user with a known password, which only root can make');
      return;
    }
    const { username, password } = server.passwordUser;
    const store = (pw: string): ObjectStore => new SftpStore({ type: 'sftp', endpoint: server.endpoint }, { type: 'sftp', username, knownHosts: server.knownHosts, password: pw });
    const dir = makeRunDir('sftp-password');
    const file = join(dir, 'upload.bin');
    const data = Buffer.from('recorded with a password '.repeat(5000));
    writeFileSync(file, data);
    const sha256 = createHash('sha256').update(data).digest('hex');
    await store(password).checkReachable();
    await store(password).put('pw/one.bin', file, 'application/octet-stream', sha256);
    assert.deepEqual(await store(password).stat('pw/one.bin'), { size: data.length, sha256 });
    assert.deepEqual(readFileSync(join(server.filesDir, 'pw/one.bin')), data);
    await store(password).remove('pw/one.bin');
    assert.equal(existsSync(join(server.filesDir, 'pw/one.bin')), false);
    const wrong = `${password}x`;
    await assert.rejects(store(wrong).checkReachable(), (err: Error) => new RegExp(`refused user ${username}'s password \\(authentication failed\\)`).test(err.message) && !err.message.includes(wrong));
  } finally {
    await server.destroy();
  }
});
