import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RecorderPhase, RecorderStatus } from '@recording-operator/common/protocol/recorder-report.ts';
import { startControlServer, type Controllable } from './control-server.ts';

function fakeRecorder(): Controllable & { phase: RecorderPhase } {
  const fake = {
    phase: 'STARTING' as RecorderPhase,
    status: (): RecorderStatus => ({ phase: fake.phase, durationSeconds: 0, bytes: 0, framesCaptured: 0, framesDropped: 0 }),
    pause: () => Promise.resolve(fake.status()),
    resume: () => Promise.resolve(fake.status()),
    setMaxDuration: () => Promise.resolve(fake.status()),
    stop: () => undefined,
  };
  return fake;
}

test('GET /status long poll: answers when the phase changes, or when the wait is over; bad queries are named', async () => {
  const recorder = fakeRecorder();
  const server = await startControlServer({ recorder, token: 'secret-token' }, '127.0.0.1', 0);
  const get = async (query: string, token = 'secret-token') => {
    const started = Date.now();
    const res = await fetch(`http://127.0.0.1:${server.port}/status${query}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as RecorderStatus & { error?: string }, ms: Date.now() - started };
  };
  try {
    // Without a phase: at once.
    assert.equal((await get('')).body.phase, 'STARTING');
    // Waiting on STARTING: answered just after the change to RECORDING, long before the wait is over.
    setTimeout(() => (recorder.phase = 'RECORDING'), 300);
    const changed = await get('?phase=STARTING&waitMs=10000');
    assert.equal(changed.body.phase, 'RECORDING');
    assert.ok(changed.ms >= 250 && changed.ms < 1500, `answered after ${changed.ms} ms`);
    // Already another phase: at once.
    const already = await get('?phase=STARTING&waitMs=10000');
    assert.equal(already.body.phase, 'RECORDING');
    assert.ok(already.ms < 200, `answered after ${already.ms} ms`);
    // No change: the current status once the wait is over.
    const unchanged = await get('?phase=RECORDING&waitMs=400');
    assert.equal(unchanged.body.phase, 'RECORDING');
    assert.ok(unchanged.ms >= 350, `answered after ${unchanged.ms} ms`);
    // Bad input names the parameter and what is allowed.
    const badPhase = await get('?phase=DANCING');
    assert.equal(badPhase.status, 400);
    assert.match(badPhase.body.error!, /^phase: .*one of STARTING, RECORDING/);
    const badWait = await get('?phase=RECORDING&waitMs=999999');
    assert.equal(badWait.status, 400);
    assert.match(badWait.body.error!, /^waitMs: .*an integer from 0 to 30000/);
    // The token is still required.
    assert.equal((await get('?phase=RECORDING&waitMs=10', 'wrong-token')).status, 401);
  } finally {
    server.close();
  }
});
