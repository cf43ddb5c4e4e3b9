import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { CdpConnection, CdpError } from './cdp.ts';

/** A connection whose browser side is played by the test: what was sent, and a way to answer. */
function connection() {
  const toBrowser = new PassThrough();
  const fromBrowser = new PassThrough();
  const sent: { id: number; method: string; params: object; sessionId?: string }[] = [];
  let pending = '';
  toBrowser.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let end;
    while ((end = pending.indexOf('\0')) !== -1) {
      sent.push(JSON.parse(pending.slice(0, end)) as (typeof sent)[number]);
      pending = pending.slice(end + 1);
    }
  });
  return { cdp: new CdpConnection(toBrowser, fromBrowser), fromBrowser, sent };
}

const tick = () => new Promise((r) => setImmediate(r));

test('commands are NUL-ended JSON with increasing ids; answers are matched by id, whatever their order', async () => {
  const { cdp, fromBrowser, sent } = connection();
  const first = cdp.send('Target.getTargets');
  const second = cdp.send('Runtime.evaluate', { expression: '1' }, 'S1');
  await tick();
  assert.deepEqual(sent, [
    { id: 1, method: 'Target.getTargets', params: {} },
    { id: 2, method: 'Runtime.evaluate', params: { expression: '1' }, sessionId: 'S1' },
  ]);
  fromBrowser.write('{"id":2,"result":{"value":1}}\0{"id":1,"result":{"targetInfos":[]}}\0');
  assert.deepEqual(await first, { targetInfos: [] });
  assert.deepEqual(await second, { value: 1 });
});

test('a message split across reads, and several in one read, are each parsed once and whole', async () => {
  const { cdp, fromBrowser } = connection();
  const events: [string, unknown, string | undefined][] = [];
  cdp.on('event', (method, params, sessionId) => events.push([method, params, sessionId]));
  const text = 'START_RECORDING é';
  const message = Buffer.from(`{"method":"Runtime.consoleAPICalled","params":{"args":[{"value":"${text}"}]},"sessionId":"S"}\0`);
  // Split inside the two-byte é as well as between the messages.
  const cut = message.indexOf(Buffer.from('é')) + 1;
  fromBrowser.write(message.subarray(0, cut));
  fromBrowser.write(Buffer.concat([message.subarray(cut), Buffer.from('{"method":"Inspector.targetCrashed","params":{}}\0')]));
  await tick();
  assert.deepEqual(events, [
    ['Runtime.consoleAPICalled', { args: [{ value: text }] }, 'S'],
    ['Inspector.targetCrashed', {}, undefined],
  ]);
});

test("an error answer rejects with the command's name and the browser's message", async () => {
  const { cdp, fromBrowser } = connection();
  const answer = cdp.send('Page.navigate', { url: 'x' });
  fromBrowser.write('{"id":1,"error":{"code":-32000,"message":"Cannot navigate to invalid URL"}}\0');
  await assert.rejects(answer, (err: Error) => err instanceof CdpError && err.message === 'Page.navigate: Cannot navigate to invalid URL');
});

test('the pipe closing fails what is pending and all that is sent after, once', async () => {
  const { cdp, fromBrowser } = connection();
  let closedEvents = 0;
  cdp.on('closed', () => closedEvents++);
  const pending = cdp.send('Page.navigate');
  fromBrowser.destroy();
  await assert.rejects(pending, /Page.navigate: the browser closed its DevTools pipe/);
  await assert.rejects(cdp.send('Runtime.evaluate'), /Runtime.evaluate: the browser closed its DevTools pipe/);
  assert.equal(cdp.closed, true);
  cdp.closeWith('again');
  assert.equal(closedEvents, 1);
});
