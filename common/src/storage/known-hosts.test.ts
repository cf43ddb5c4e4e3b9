import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { fingerprint, knownKeysFor, verifyHostKey } from './known-hosts.ts';

/** An ed25519 public key in SSH wire format (string "ssh-ed25519", string key). */
function sshEd25519(): Buffer {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]);
}

const server = sshEd25519();
const other = sshEd25519();
const line = (hosts: string, key: Buffer) => `${hosts} ssh-ed25519 ${key.toString('base64')}`;

test('known_hosts: plain names, [host]:port for other ports, lists, wildcards and negation', () => {
  assert.equal(knownKeysFor(line('files.example.com', server), 'files.example.com', 22).length, 1);
  assert.equal(knownKeysFor(line('files.example.com', server), 'files.example.com', 2222).length, 0, 'port 22 entries do not cover other ports');
  assert.equal(knownKeysFor(line('[files.example.com]:2222', server), 'files.example.com', 2222).length, 1);
  assert.equal(knownKeysFor(line('a.example.com,FILES.example.com', server), 'files.example.com', 22).length, 1, 'names are case-insensitive');
  assert.equal(knownKeysFor(line('*.example.com', server), 'files.example.com', 22).length, 1);
  assert.equal(knownKeysFor(line('*.example.com,!files.example.com', server), 'files.example.com', 22).length, 0);
  assert.equal(knownKeysFor(`# comment\n\n${line('other.example.com', server)}`, 'files.example.com', 22).length, 0);
});

test('known_hosts: hashed host names (ssh-keygen -H) match their host only', () => {
  const salt = Buffer.from('0123456789abcdefghij');
  const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[10.0.0.5]:2222').digest('base64')}`;
  assert.equal(knownKeysFor(line(hashed, server), '10.0.0.5', 2222).length, 1);
  assert.equal(knownKeysFor(line(hashed, server), '10.0.0.6', 2222).length, 0);
});

test('host keys: the pinned key passes; unknown, changed and revoked keys are refused with the fingerprint', () => {
  const known = knownKeysFor(line('h', server), 'h', 22);
  assert.deepEqual(verifyHostKey(known, server, 'h:22'), { ok: true });
  const changed = verifyHostKey(known, other, 'h:22');
  assert.equal(changed.ok, false);
  assert.match(!changed.ok ? changed.reason : '', new RegExp(`ssh-ed25519 ${fingerprint(other).replace(/[+/]/g, '\\$&')}\\) does not match the key pinned`));
  const none = verifyHostKey([], server, 'h:22');
  assert.match(!none.ok ? none.reason : '', /knownHosts has no key for h:22/);
  const revoked = verifyHostKey(knownKeysFor(`${line('h', server)}\n@revoked ${line('h', server)}`, 'h', 22), server, 'h:22');
  assert.match(!revoked.ok ? revoked.reason : '', /marked @revoked/);
  assert.throws(() => knownKeysFor('just-a-host', 'h', 22), /knownHosts line 1 is not "host key-type base64-key"/);
  assert.throws(() => knownKeysFor(`@weird ${line('h', server)}`, 'h', 22), /unknown marker @weird/);
});
