import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { settledWithin } from './settled-within.ts';

test('a promise that settles in time gives its value, and the wait ends with it', async () => {
  const started = performance.now();
  assert.equal(await settledWithin(sleep(20, 'value'), 5_000), 'value');
  assert.ok(performance.now() - started < 1_000);
});

test('a promise that does not settle in time gives undefined after the wait', async () => {
  const started = performance.now();
  assert.equal(await settledWithin(new Promise(() => undefined), 50), undefined);
  assert.ok(performance.now() - started >= 45);
});

test('a rejected promise gives undefined, not an error', async () => {
  assert.equal(await settledWithin(Promise.reject(new Error('no')), 5_000), undefined);
});
