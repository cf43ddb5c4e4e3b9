import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gateDelayMs } from './grab-phase.ts';

test('the gate opens at the set point of a frame interval, whichever frame time is known', () => {
  const interval = 1000 / 30;
  // A frame at 1000 ms, now 1005: the next moment 33 ms past a frame is 1033.
  assert.ok(Math.abs(gateDelayMs(1000, 1005, 30, 33) - 28) < 1e-9);
  // Past it already (now 1040): the next one, a frame later.
  assert.ok(Math.abs(gateDelayMs(1000, 1040, 30, 33) - (1033 + interval - 1040)) < 1e-9);
  // A frame time known from frames ago gives the same moment.
  assert.ok(Math.abs(gateDelayMs(1000 - 7 * interval, 1005, 30, 33) - 28) < 1e-9);
  // Never a wait of a frame or more, never negative.
  for (let now = 1000; now < 1100; now += 3.7) {
    const delay = gateDelayMs(1000, now, 30, 33);
    assert.ok(delay >= 0 && delay < interval, `${now}: ${delay}`);
    const phase = (((now + delay - 1000) % interval) + interval) % interval;
    assert.ok(Math.abs(phase - 33) < 1e-9, `${now}: opens ${phase} ms past a frame`);
  }
});
