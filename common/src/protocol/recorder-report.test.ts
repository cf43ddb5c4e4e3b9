import assert from 'node:assert/strict';
import { test } from 'node:test';
import { finalReportSchema, serializeFinalReport, terminationMessageLimit } from './recorder-report.ts';

test('a final report fits the 4 KiB termination message: the error message is cut, the facts are kept', () => {
  const report = {
    result: 'FAILED' as const,
    stopReason: 'INTERNAL_ERROR' as const,
    durationSeconds: 12.5,
    error: { code: 'UPLOAD_FAILED', message: 'x'.repeat(10_000) },
  };
  const text = serializeFinalReport(report);
  assert.ok(Buffer.byteLength(text) <= terminationMessageLimit);
  const parsed = finalReportSchema.parse(JSON.parse(text));
  assert.equal(parsed.error?.code, 'UPLOAD_FAILED');
  assert.equal(parsed.durationSeconds, 12.5);
  assert.ok(parsed.error?.message.endsWith('…'));
  const small = { result: 'UPLOADED' as const, durationSeconds: 1 };
  assert.equal(serializeFinalReport(small), JSON.stringify(small));
});
