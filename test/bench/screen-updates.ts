// When the picture on an X display changed: the X DAMAGE extension on the root window, through the
// pure-JavaScript `x11` client (no native code). Chromium paints each of its frames with one burst of
// damaged rectangles, so a burst is one present of Chromium's. For benchmarks: it tells apart the time
// a frame spends in Chromium from the time it then waits for ffmpeg's next grab.
import { createRequire } from 'node:module';

/** The part of the `x11` package used here (it ships no types). */
interface XClient {
  AllocID(): number;
  require(extension: 'damage', callback: (err: Error | null, damage: { Create(id: number, drawable: number, level: number): void; ReportLevel: { RawRectangles: number } }) => void): void;
  on(event: 'event' | 'error', listener: (arg: unknown) => void): void;
  terminate(): void;
}
interface X11 {
  createClient(options: { display: string }, callback: (err: Error | null, display: { client: XClient; screen: { root: number }[] }) => void): void;
}
const x11 = createRequire(import.meta.url)('x11') as X11;

/** Damage events closer together than this belong to one present. */
const burstGapMs = 3;

export interface ScreenUpdates {
  /** Wall-clock seconds (Date.now() / 1000, with sub-millisecond precision) of the presents so far. */
  readonly times: number[];
  stop(): void;
}

export async function watchScreenUpdates(display: string): Promise<ScreenUpdates> {
  const { client, screen } = await new Promise<{ client: XClient; screen: { root: number }[] }>((resolve, reject) =>
    x11.createClient({ display }, (err, opened) => (err ? reject(err) : resolve(opened))),
  );
  const damage = await new Promise<Parameters<Parameters<XClient['require']>[1]>[1]>((resolve, reject) =>
    client.require('damage', (err, extension) => (err ? reject(err) : resolve(extension))),
  );
  const times: number[] = [];
  let last = 0;
  client.on('event', () => {
    const now = performance.timeOrigin + performance.now();
    if (now - last > burstGapMs) times.push(now / 1000);
    last = now;
  });
  client.on('error', () => undefined); // the display goes away when the benchmark stops it
  damage.Create(client.AllocID(), screen[0]!.root, damage.ReportLevel.RawRectangles);
  return { times, stop: () => client.terminate() };
}
