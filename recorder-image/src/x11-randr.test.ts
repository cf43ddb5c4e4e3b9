// The X11 client's failures; that it sets a mode is tested on the real Xvfb (test/recorder/av-environment.test.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setScreenModeThrough } from './x11-randr.ts';

const mode = { name: 'm', width: 640, height: 360, pixelClockHz: 300_000_000, lineTotal: 4096, frameTotal: 2442 };

async function withServer(onConnection: Parameters<typeof createServer>[1], body: (path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'x11-'));
  const path = join(dir, 'X0');
  const server: Server = createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    await body(path);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('an X server that never answers fails the call within its time limit, not the recorder start', async () => {
  await withServer(() => undefined, async (path) => {
    const started = performance.now();
    await assert.rejects(setScreenModeThrough(path, mode), /did not answer within 2000 ms/);
    assert.ok(performance.now() - started < 5_000);
  });
});

test('an X server that refuses the connection: its reason is in the error', async () => {
  const reason = 'No protocol specified';
  await withServer((socket) => {
    socket.once('data', () => {
      const reply = Buffer.alloc(8 + 24);
      reply.writeUInt8(0, 0); // Failed
      reply.writeUInt8(reason.length, 1);
      reply.writeUInt16LE(6, 6); // 24 more bytes
      reply.write(reason, 8);
      socket.end(reply);
    });
  }, async (path) => {
    await assert.rejects(setScreenModeThrough(path, mode), /refused the connection: No protocol specified/);
  });
});

test('no socket: a clear error', async () => {
  await assert.rejects(setScreenModeThrough(join(tmpdir(), 'no-such-x-server'), mode), /cannot connect to the X server/);
});
