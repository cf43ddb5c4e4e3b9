import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkQueue } from './workqueue.ts';

test('a key is queued once however often it is added', async () => {
  const q = new WorkQueue();
  q.add('a');
  q.add('a');
  q.add('b');
  assert.equal(q.length, 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
});

test('a key being processed is not handed out again until done, then once', async () => {
  const q = new WorkQueue();
  q.add('a');
  const key = await q.get();
  q.add('a');
  q.add('a');
  assert.equal(q.length, 0, 'held back while processing');
  q.done(key!);
  assert.equal(q.length, 1);
  assert.equal(await q.get(), 'a');
});

test('a waiting worker gets a new key at once', async () => {
  const q = new WorkQueue();
  const waiting = q.get();
  q.add('x');
  assert.equal(await waiting, 'x');
});

test('backoff doubles from 5 ms up to 1000 s and forget resets it', () => {
  const q = new WorkQueue();
  assert.deepEqual([0, 1, 2, 3].map((n) => q.backoffMs(n)), [5, 10, 20, 40]);
  assert.equal(q.backoffMs(40), 1_000_000);
});

test('rate-limited re-adds wait their backoff; addAfter keeps the earliest time', async () => {
  const q = new WorkQueue({ baseDelayMs: 20 });
  q.addRateLimited('k');
  q.addRateLimited('k');
  assert.equal(q.length, 0);
  await new Promise((r) => setTimeout(r, 35));
  assert.equal(q.length, 1, 'the first (20 ms) retry fired');
  q.addAfter('late', 10_000);
  q.addAfter('late', 10);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(q.length, 2);
  q.shutdown();
});

test('shutdown releases waiting workers', async () => {
  const q = new WorkQueue();
  const waiting = q.get();
  q.shutdown();
  assert.equal(await waiting, undefined);
  q.add('ignored');
  assert.equal(q.length, 0);
});
