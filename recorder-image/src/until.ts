// Waiting for a process started by the recorder to reach a state it does not announce.

/** Polls check every everyMs until it is true; fails at once with what failed() returns, or after 10 s with timedOut(). */
export async function until(check: () => Promise<boolean>, failed: () => string | false, timedOut: () => string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const failure = failed();
    if (failure) throw new Error(failure);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(timedOut());
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
