import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { test } from 'node:test';
import { pino } from 'pino';
import { RecorderWatch } from './recorder-watch.ts';

test('the answer that ends a wait is handed once to the reconcile it triggers', async () => {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    // Holds the request a moment, as a recorder does until its phase changes.
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ phase: 'RECORDING', durationSeconds: 0.1 })), 50);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const changed: string[] = [];
  const watch = new RecorderWatch({ onChange: (key) => changed.push(key), log: pino({ level: 'silent' }) });
  try {
    watch.follow('ns/rec', { baseUrl: `http://127.0.0.1:${port}`, token: 't' }, 'STARTING');
    for (let i = 0; i < 100 && changed.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(changed, ['ns/rec']);
    assert.match(requests[0]!, /^\/status\?phase=STARTING&waitMs=\d+$/);
    assert.equal(watch.takeAnswer('ns/rec')?.phase, 'RECORDING');
    assert.equal(watch.takeAnswer('ns/rec'), undefined, 'given once');
    assert.equal(watch.takeAnswer('ns/other'), undefined);
  } finally {
    watch.stop();
    server.close();
  }
});
