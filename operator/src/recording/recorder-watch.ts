// Follows each running recorder's phase with a long poll (GET /status?phase=P&waitMs=N, answered as soon
// as the phase is no longer P) and enqueues the Recording when it changes, so RECORDING, UPLOADING and
// UPLOADED reach the status within milliseconds instead of at the next poll (POLL_MS, 2 s by default).
// The poll stays as the fallback and for the running figures (duration, frames).
// One request in flight per recorder; a recorder that answers at once with the same phase (an older image
// without the long poll) is not followed again, so nothing ever spins.
import type { Logger } from 'pino';
import type { RecorderPhase, RecorderStatus } from '@recording-operator/common/protocol/recorder-report.ts';

/** Phases after which a recorder has nothing more to say. */
const finalPhases: readonly RecorderPhase[] = ['UPLOADED', 'FAILED'];
/** How long one request waits; the recorder accepts up to 30 s. */
export const watchWaitMs = 25_000;
/** How long an answer stands for the recorder's status in the reconcile it triggered. */
const answerFreshMs = 1000;

export interface RecorderEndpoint {
  /** http://ip:port of the recorder's control endpoint. */
  baseUrl: string;
  token: string;
}

interface Followed {
  phase: RecorderPhase;
  abort: AbortController;
}

export class RecorderWatch {
  private readonly followed = new Map<string, Followed>();
  private readonly finals = new Map<string, RecorderStatus>();
  /** The answer that ended a wait (a new phase), for the reconcile it triggers: one request less. */
  private readonly answers = new Map<string, { status: RecorderStatus; at: number }>();
  /** Recorders that do not hold a status request open (keyed like followed), never followed again. */
  private readonly withoutLongPoll = new Set<string>();
  private stopped = false;
  private readonly onChange: (key: string) => void;
  private readonly log: Logger;

  constructor(options: { onChange: (key: string) => void; log: Logger }) {
    this.onChange = options.onChange;
    this.log = options.log;
  }

  /** Keeps a request open until the recorder of `key` leaves `phase`; a no-op when one already waits on it. */
  follow(key: string, endpoint: RecorderEndpoint, phase: RecorderPhase): void {
    if (this.stopped || finalPhases.includes(phase) || this.withoutLongPoll.has(key)) return;
    const current = this.followed.get(key);
    if (current?.phase === phase) return;
    current?.abort.abort();
    const followed: Followed = { phase, abort: new AbortController() };
    this.followed.set(key, followed);
    void this.wait(key, endpoint, followed);
  }

  /**
   * The last status a recorder answered with in a final phase (its report included): the recorder exits
   * right after, so the reconcile that follows may find nobody to ask.
   */
  finalStatus(key: string): RecorderStatus | undefined {
    return this.finals.get(key);
  }

  /**
   * The status a recorder answered with when its phase changed, if that was less than a second ago; given
   * once, to the reconcile the change enqueued, which then need not ask the recorder again.
   */
  takeAnswer(key: string): RecorderStatus | undefined {
    const answer = this.answers.get(key);
    this.answers.delete(key);
    return answer && Date.now() - answer.at < answerFreshMs ? answer.status : undefined;
  }

  /** Stops following a Recording (finished, deleted, or its Pod gone). */
  forget(key: string): void {
    this.finals.delete(key);
    this.answers.delete(key);
    this.followed.get(key)?.abort.abort();
    this.followed.delete(key);
    this.withoutLongPoll.delete(key);
  }

  stop(): void {
    this.stopped = true;
    for (const key of [...this.followed.keys()]) this.forget(key);
  }

  private async wait(key: string, endpoint: RecorderEndpoint, followed: Followed): Promise<void> {
    const { signal } = followed.abort;
    for (;;) {
      const started = Date.now();
      let status: RecorderStatus;
      try {
        const res = await fetch(`${endpoint.baseUrl}/status?phase=${followed.phase}&waitMs=${watchWaitMs}`, {
          headers: { authorization: `Bearer ${endpoint.token}` },
          signal: AbortSignal.any([signal, AbortSignal.timeout(watchWaitMs + 5000)]),
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        status = (await res.json()) as RecorderStatus;
      } catch (err) {
        if (signal.aborted) return;
        // Gone, restarting, or unreachable: the reconcile that follows looks at the Pod and decides.
        this.log.debug({ key, err: (err as Error).message }, 'recorder status watch ended');
        this.release(key, followed);
        this.onChange(key);
        return;
      }
      if (signal.aborted) return;
      if (finalPhases.includes(status.phase)) this.finals.set(key, status);
      if (status.phase !== followed.phase) {
        this.answers.set(key, { status, at: Date.now() });
        this.release(key, followed);
        this.onChange(key);
        return;
      }
      if (Date.now() - started < watchWaitMs / 2) {
        this.log.info({ key }, 'recorder answers status requests at once (no long poll): following it by polling only');
        this.withoutLongPoll.add(key);
        this.release(key, followed);
        return;
      }
    }
  }

  private release(key: string, followed: Followed): void {
    if (this.followed.get(key) === followed) this.followed.delete(key);
  }
}
