import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newStandbyKey, openAssignment, SealError, sealAssignment, standbyConfigSchema } from './standby.ts';

const assignment = { config: { recordingId: 'ns/r', url: 'https://call.example/x' } as never, secretFiles: { 'control-token': 'a'.repeat(64), 'storage-secret-access-key': 'secret' } };

test('a sealed assignment opens with its key and carries no readable secret', () => {
  const key = newStandbyKey();
  const sealed = sealAssignment(key, assignment);
  assert.deepEqual(openAssignment(key, sealed), assignment);
  assert.ok(!Buffer.from(sealed, 'base64url').toString('latin1').includes('secret'));
  // Sealed twice, it differs (a fresh IV each time).
  assert.notEqual(sealAssignment(key, assignment), sealed);
});

test('another key, an altered byte or a bad key is refused', () => {
  const key = newStandbyKey();
  const sealed = sealAssignment(key, assignment);
  assert.throws(() => openAssignment(newStandbyKey(), sealed), SealError);
  const bytes = Buffer.from(sealed, 'base64url');
  bytes[bytes.length - 1]! ^= 1;
  assert.throws(() => openAssignment(key, bytes.toString('base64url')), /not sealed with this standby recorder's key, or was altered/);
  assert.throws(() => openAssignment(key, 'AAAA'), /too short/);
  assert.throws(() => sealAssignment('abcd', assignment), /32 bytes as 64 hex characters/);
});

test('the standby configuration names what is wrong', () => {
  assert.deepEqual(standbyConfigSchema.parse({ video: { width: 1280, height: 720, fps: 30 } }).control, { port: 8080, host: '0.0.0.0' });
  const bad = standbyConfigSchema.safeParse({ video: { width: 1281, height: 720, fps: 30 } });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error?.issues[0]?.path, ['video', 'width']);
});
