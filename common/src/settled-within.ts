// Waiting a bounded time for something that may never come, without leaving a timer behind.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * `promise`'s value if it settles within `ms`, else undefined. A rejection also gives undefined: the
 * caller has already logged it, or treats it as "did not come". The timer is cleared when the promise
 * wins, so it keeps nothing alive.
 */
export async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  const timer = new AbortController();
  try {
    return await Promise.race([promise.catch(() => undefined), sleep(ms, undefined, { signal: timer.signal }).catch(() => undefined)]);
  } finally {
    timer.abort();
  }
}
