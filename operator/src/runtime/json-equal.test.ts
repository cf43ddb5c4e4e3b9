import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonEqual } from './json-equal.ts';

test('jsonEqual ignores key order and undefined properties, and nothing else', () => {
  assert.ok(jsonEqual({ type: 'Ready', status: 'True', nested: { b: 1, a: [1, 2] } }, { nested: { a: [1, 2], b: 1 }, status: 'True', type: 'Ready' }));
  assert.ok(jsonEqual({ a: 1, error: undefined }, { a: 1 }));
  assert.ok(!jsonEqual({ a: [1, 2] }, { a: [2, 1] }), 'array order matters');
  assert.ok(!jsonEqual({ a: 1 }, { a: '1' }));
  assert.ok(!jsonEqual({ a: null }, { a: undefined }), 'null is sent, undefined is not');
});
