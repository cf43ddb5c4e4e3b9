// The operator learns of a recorder's phase changes from its long poll (operator/src/recording/
// recorder-watch.ts), not from its next status poll: with the poll set to a minute, the real recorder's
// RECORDING, and UPLOADED after a stop, still reach the Recording within seconds.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { OperatorTestEnvironment } from './environment.ts';
import { recordingStartTimeline } from './start-timeline.ts';

const env = new OperatorTestEnvironment();
let ns = '';

before(async () => {
  await env.start();
  await env.createCallType('watched');
  ns = await env.createNamespace('watch');
  await env.startOperator({ POLL_MS: '60000' });
});
after(() => env.stop());

test('with a 60 s status poll, RECORDING and UPLOADED arrive within seconds of the recorder reaching them', async () => {
  const start = await recordingStartTimeline(env, ns, 'watched', { callType: 'watched', callId: 'watched' }, 20_000);
  assert.ok(start.recordingMs < 10_000, `RECORDING after ${start.recordingMs} ms`);
  await new Promise((r) => setTimeout(r, 2000));
  const stopped = Date.now();
  await env.setState(ns, 'watched', 'Stopped');
  const done = await env.waitFor(ns, 'watched', 'UPLOADED', (r) => r.status?.phase === 'UPLOADED', 20_000);
  assert.ok(Date.now() - stopped < 10_000, `UPLOADED ${Date.now() - stopped} ms after the stop`);
  assert.ok(done.status?.output?.sha256);
  // The operator held the long poll open rather than falling back to polling.
  assert.doesNotMatch(env.operatorLog(), /no long poll/);
});
