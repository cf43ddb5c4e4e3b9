// Entry point of the recorder image. Its first act is to start the screen, sound card and browser
// (early-start.ts), with only this file, pino and those modules loaded; the rest of the recorder
// (run.ts: the configuration's checks, the control endpoint, the recording) loads while Chromium starts.
import { pino } from 'pino';
import { startEarly } from './early-start.ts';

const log = pino({ name: 'recorder', level: process.env.LOG_LEVEL ?? 'info' });
const started = startEarly(process.env, log);
// Loading the rest keeps the event loop busy for ~0.25 s: begun before the display reports ready, it
// held back Xvfb's answer and so Chromium's start (measured: display ready at 300-390 ms, not ~150).
// Chromium is spawned by the time displayReady settles (browser-start.ts).
await started?.displayReady.catch(() => undefined);
const { run } = await import('./run.ts');
await run(log, started);
