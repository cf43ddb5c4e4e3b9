import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chromiumFrameIntervalUs, grabIntervalUs, refreshModeFor } from './screen-refresh.ts';

test('the screen mode gives Chromium the grab interval to the µs, at every frame rate and size a recording takes', () => {
  for (let fps = 5; fps <= 60; fps++) {
    for (const [width, height] of [[129, 129], [641, 361], [1281, 721 + 8], [1921, 1081 + 8], [2561, 2561 + 8]] as const) {
      const mode = refreshModeFor(width, height, fps);
      // Chromium keeps the rate as a 32-bit float.
      const asChromiumKeepsIt = Math.fround(mode.refreshHz);
      assert.equal(chromiumFrameIntervalUs(asChromiumKeepsIt), grabIntervalUs(fps), `${fps} fps at ${width}x${height}: ${mode.refreshHz} Hz`);
      // A clock one Hz off (a rounding anywhere) must not change it either.
      assert.equal(chromiumFrameIntervalUs((mode.pixelClockHz - 1) / (mode.lineTotal * mode.frameTotal)), grabIntervalUs(fps));
      assert.ok(mode.lineTotal <= 0xffff && mode.frameTotal <= 0xffff);
    }
  }
});

test('why it is needed: the 60 Hz Chromium assumes, halved, is not the 30 fps grab interval', () => {
  assert.equal(2 * chromiumFrameIntervalUs(60), 33_332);
  assert.equal(grabIntervalUs(30), 33_333);
  assert.equal(grabIntervalUs(60), 16_667);
  assert.equal(chromiumFrameIntervalUs(60), 16_666);
});
