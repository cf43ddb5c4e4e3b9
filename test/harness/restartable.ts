// A storage server the tests can take away and bring back: stop() and start() keep its port and data
// (launch() is called again), destroy() stops it and removes its run directory.
import { rmSync } from 'node:fs';
import type { Supervised } from './processes.ts';

export interface Restartable {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops the server and removes its data. */
  destroy(): Promise<void>;
}

/** Launches the server once; `launch` starts the process and resolves when it answers. */
export async function restartable(dir: string, launch: () => Promise<Supervised>): Promise<Restartable> {
  let proc = await launch();
  return {
    start: async () => {
      proc = await launch();
    },
    stop: async () => {
      await proc.stop();
    },
    destroy: async () => {
      await proc.stop();
      if (process.env.KEEP_TEST_DIRS !== 'true') rmSync(dir, { recursive: true, force: true });
    },
  };
}
