// OpenSSH's sshd (Debian's openssh-server) as an SFTP-only server on loopback: its own host key and
// config in a run directory, key authentication for the user running the tests, and every session
// confined to internal-sftp starting in <run dir>/files. stop()/start() keep the port, host key and
// files, so tests can take storage away mid-upload and bring it back.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, startProcess, waitUntil } from './processes.ts';
import { restartable, type Restartable } from './restartable.ts';
import { makeRunDir } from './run-dir.ts';

export interface SftpServer extends Restartable {
  /** sftp://127.0.0.1:<port> */
  endpoint: string;
  host: string;
  port: number;
  username: string;
  /** The user's private key (OpenSSH format), authorized on the server. */
  privateKey: string;
  /** known_hosts lines pinning this server's host key. */
  knownHosts: string;
  /** Where uploaded files land on disk (the SFTP login directory). */
  filesDir: string;
  /**
   * A second user who logs in with a password, when the tests run as root (sshd checks passwords
   * against the system's, so the user is made on this machine: recording-sftp-test, no shell, no home,
   * a new random password each run). Undefined otherwise.
   */
  passwordUser?: { username: string; password: string };
}

const passwordUsername = 'recording-sftp-test';

/** The password user, made once per machine and given a new password; undefined unless root. */
function preparePasswordUser(): { username: string; password: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    execFileSync('id', [passwordUsername], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', passwordUsername]);
  }
  const password = randomBytes(18).toString('base64url');
  execFileSync('chpasswd', { input: `${passwordUsername}:${password}\n` });
  return { username: passwordUsername, password };
}

const sshd = '/usr/sbin/sshd';

function keygen(path: string, type: 'ed25519' | 'rsa'): string {
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'recording-operator-test', '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

/** A fresh ed25519 key pair nobody knows: the private key (OpenSSH format) and the public "type base64". */
export function strangerKeyPair(dir: string): { privateKey: string; publicKey: string } {
  const path = join(dir, `stranger-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const publicLine = keygen(path, 'ed25519');
  return { privateKey: readFileSync(path, 'utf8'), publicKey: publicLine.split(' ').slice(0, 2).join(' ') };
}

export async function startSftpServer(): Promise<SftpServer> {
  if (!existsSync(sshd)) throw new Error(`${sshd} is missing: run 'npm run setup' (Debian package openssh-server)`);
  const dir = makeRunDir('sftp');
  const filesDir = join(dir, 'files');
  mkdirSync(filesDir, { recursive: true });
  const port = await freePort();
  const username = userInfo().username;
  const passwordUser = preparePasswordUser();
  if (passwordUser) {
    // The password user writes into the same files directory, so it must reach it.
    chmodSync(dir, 0o711);
    chmodSync(filesDir, 0o777);
  }
  const hostPublic = [keygen(join(dir, 'host_ed25519'), 'ed25519'), keygen(join(dir, 'host_rsa'), 'rsa')];
  const userPublic = keygen(join(dir, 'user_ed25519'), 'ed25519');
  writeFileSync(join(dir, 'authorized_keys'), `${userPublic}\n`);
  chmodSync(join(dir, 'authorized_keys'), 0o600);
  writeFileSync(join(dir, 'sshd_config'), [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_ed25519')}`,
    `HostKey ${join(dir, 'host_rsa')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'StrictModes no',
    'UsePAM no',
    `PasswordAuthentication ${passwordUser ? 'yes' : 'no'}`,
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    `AllowUsers ${username}${passwordUser ? ` ${passwordUser.username}` : ''}`,
    'Subsystem sftp internal-sftp',
    `ForceCommand internal-sftp -d ${filesDir}`,
    'LogLevel VERBOSE',
    '',
  ].join('\n'));
  // As root, sshd separates privileges into this directory; it is not there on machines that never ran one.
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const server = await restartable(dir, async () => {
    const proc = startProcess('sshd', sshd, ['-D', '-e', '-f', join(dir, 'sshd_config')], join(dir, 'sshd.log'));
    await waitUntil('sshd', () => new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('data', (banner) => { socket.destroy(); resolve(banner.toString().startsWith('SSH-2.0-')); });
      socket.once('error', () => resolve(false));
    }), proc, 20_000);
    return proc;
  });
  return {
    endpoint: `sftp://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    username,
    privateKey: readFileSync(join(dir, 'user_ed25519'), 'utf8'),
    knownHosts: hostPublic.map((line) => `[127.0.0.1]:${port} ${line.split(' ').slice(0, 2).join(' ')}`).join('\n') + '\n',
    filesDir,
    passwordUser,
    ...server,
  };
}
