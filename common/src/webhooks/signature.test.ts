// Our Standard Webhooks signing against the reference implementation (the standardwebhooks package),
// both ways, and the verifier's refusals.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { sign, signedHeaders, signingKey, verify } from './signature.ts';

const secret = `whsec_${Buffer.from('a test key of thirty-two bytes!!').toString('base64')}`;
const body = JSON.stringify({ type: 'recording.ready', recording: { name: 'standup' } });

test('what we sign, the reference implementation verifies', () => {
  const headers = signedHeaders(signingKey(secret), 'rec-uid.3', body);
  assert.deepEqual(new Webhook(secret).verify(body, headers), JSON.parse(body));
});

test('what the reference implementation signs, we verify', () => {
  const now = new Date();
  const signature = new Webhook(secret).sign('msg_1', now, body);
  const result = verify(signingKey(secret), { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': signature }, body);
  assert.deepEqual(result, { ok: true, id: 'msg_1', timestamp: Math.floor(now.getTime() / 1000) });
});

test('a raw (non-whsec_) secret value is the key itself', () => {
  assert.deepEqual(signingKey('plain-key'), Buffer.from('plain-key'));
  const headers = signedHeaders(signingKey('plain-key'), 'id-1', body);
  assert.deepEqual(new Webhook(Buffer.from('plain-key'), { format: 'raw' }).verify(body, headers), JSON.parse(body));
});

test('one of several space-separated signatures may match (key rotation)', () => {
  const key = signingKey(secret);
  const headers = signedHeaders(key, 'id-2', body);
  headers['webhook-signature'] = `v1,${Buffer.alloc(32).toString('base64')} ${headers['webhook-signature']}`;
  assert.equal(verify(key, headers, body).ok, true);
});

test('refusals name what is wrong', () => {
  const key = signingKey(secret);
  const good = signedHeaders(key, 'id-3', body);
  const reason = (headers: Record<string, string>, text = body, now?: Date) => {
    const result = verify(key, headers, text, { now });
    assert.equal(result.ok, false);
    return (result as { reason: string }).reason;
  };
  assert.match(reason({ ...good, 'webhook-id': '' }), /missing webhook-id/);
  assert.match(reason({ ...good, 'webhook-timestamp': 'yesterday' }), /malformed webhook-timestamp/);
  assert.match(reason({ ...good, 'webhook-signature': '' }), /missing webhook-signature/);
  assert.match(reason(good, `${body} `), /does not match/);
  assert.match(reason({ ...good, 'webhook-signature': sign(signingKey('other'), 'id-3', Number(good['webhook-timestamp']), body) }), /does not match/);
  assert.match(reason(good, body, new Date(Date.now() + 301_000)), /outside the 300 s tolerance/);
  // The id is part of what is signed: a signature cannot be moved to another message id.
  assert.match(reason({ ...good, 'webhook-id': 'id-4' }), /does not match/);
});
