import assert from 'node:assert/strict';
import { test } from 'node:test';
import { autoRecordingName, callEventSchema, describeIssues, parseCallCid } from './call-event.ts';

test('one Recording name per call session, a valid label value', () => {
  const a = autoRecordingName('webinar', 'Town_Hall.2026', 'session-1');
  assert.equal(a, autoRecordingName('webinar', 'Town_Hall.2026', 'session-1'));
  assert.notEqual(a, autoRecordingName('webinar', 'Town_Hall.2026', 'session-2'));
  assert.notEqual(a, autoRecordingName('webinar', 'town_hall.2026', 'session-1'), 'call ids differing only in case are different calls');
  assert.match(a, /^webinar-town-hall-2026-[0-9a-f]{10}$/);
  const long = autoRecordingName('a'.repeat(200), 'b'.repeat(63), 's');
  assert.ok(long.length <= 51, long);
  assert.match(long, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
});

test('call_cid splits at the first colon', () => {
  assert.deepEqual(parseCallCid('default:abc'), { callType: 'default', callId: 'abc' });
});

test('bad events are refused naming the field', () => {
  const result = callEventSchema.safeParse({ type: 'call.created', call_cid: 'nocolon', session_id: '' });
  assert.equal(result.success, false);
  const message = describeIssues(result.error);
  assert.match(message, /type: /);
  assert.match(message, /call_cid: "<call type>:<call id>"/);
  assert.match(message, /session_id: /);
  assert.equal(callEventSchema.safeParse({ type: 'call.session_ended', call_cid: 'default:abc', session_id: 's-1' }).success, true);
});
