// The null sink's own listener. A null sink with nobody listening mixes 2 s ahead (its longest latency),
// and a new listener gets its first sound only when that block is used up: ffmpeg waited 1.5-2 s for its
// first audio packet, and ffmpeg writes nothing until every input has delivered. A listener asking for
// 10 ms keeps the sink mixing in short blocks, and suspending and resuming the sink once makes it drop
// the block it mixed at start-up. Measured: ffmpeg's first frame 1.6 s → 0.2 s after it is started.
//
// It is needed only while nobody else listens. While a capture part's ffmpeg listens (asking for 10 ms
// itself) the listener steps aside to a second null sink that stays suspended, where it gets nothing:
// listening beside ffmpeg, it and PulseAudio's work for it cost 0.007-0.022 core (720p call page, 4
// interleaved pairs, 2026-12-03). It steps back in before a part's ffmpeg stops listening when another
// part follows (a pause; a raised maximum duration, whose running part ends by itself), so that the
// next part's ffmpeg finds the sink in short blocks. Left alone for a moment, the sink was 1.7 s ahead.
import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { spawnBoundToParent } from '@recording-operator/common/process.ts';
import { until } from './until.ts';

type Pactl = (...args: string[]) => Promise<{ stdout: string }>;

/** The suspended sink the listener waits on while it is not needed; loaded with the recorder's sink. */
export const parkingSinkName = 'parking';

export class SinkListener {
  /** Whether the listener is on the parking sink; changes are made one at a time, in order. */
  private aside = false;
  private parkingSuspended = false;
  private queue: Promise<void> = Promise.resolve();

  readonly child: ChildProcess;
  /** Its record stream's index in PulseAudio (`pactl list short source-outputs`). */
  private readonly streamIndex: string;
  private readonly sinkName: string;
  private readonly pactl: Pactl;
  private readonly log: Logger;

  private constructor(child: ChildProcess, streamIndex: string, sinkName: string, pactl: Pactl, log: Logger) {
    this.child = child;
    this.streamIndex = streamIndex;
    this.sinkName = sinkName;
    this.pactl = pactl;
    this.log = log;
  }

  /** Starts the listener on `sinkName`'s monitor and makes the sink drop what it mixed ahead at start-up. */
  static async start(sinkName: string, sinkRate: number, pactl: Pactl, env: NodeJS.ProcessEnv, log: Logger): Promise<SinkListener> {
    const listener = spawnBoundToParent('parec', [`--device=${sinkName}.monitor`, '--latency-msec=10', `--rate=${sinkRate}`, '--channels=2', '--format=s16le', '--raw'], { stdio: ['ignore', 'ignore', 'ignore'], env });
    let streamIndex = '';
    await until(
      // Nothing else records from PulseAudio yet: the only record stream is the listener's.
      async () => (streamIndex = (await pactl('list', 'short', 'source-outputs')).stdout.trim().split('\t')[0] ?? '') !== '',
      () => listener.exitCode !== null && `parec exited (${listener.exitCode})`,
      () => 'the sink listener did not connect within 10 s',
    );
    await pactl('suspend-sink', sinkName, '1');
    await pactl('suspend-sink', sinkName, '0');
    return new SinkListener(listener, streamIndex, sinkName, pactl, log);
  }

  /** Another listener holds the sink in short blocks now: this one waits on the parking sink. */
  stepAside(): Promise<void> {
    return this.move(true);
  }

  /** Back on the recorder's sink: call before the other listener stops listening. */
  stepIn(): Promise<void> {
    return this.move(false);
  }

  private move(aside: boolean): Promise<void> {
    const moved = this.queue.then(async () => {
      if (this.aside === aside || this.child.exitCode !== null) return;
      // Suspended before the listener first arrives: a running sink would mix for it in 10 ms blocks.
      if (aside && !this.parkingSuspended) {
        await this.pactl('suspend-sink', parkingSinkName, '1');
        this.parkingSuspended = true;
      }
      await this.pactl('move-source-output', this.streamIndex, `${aside ? parkingSinkName : this.sinkName}.monitor`);
      this.aside = aside;
    });
    // A failed move is logged and otherwise left: a listener left in only costs its share; one left aside
    // may make a later part's ffmpeg wait for its first sound (measured as that part's sound lateness).
    this.queue = moved.catch((err: Error) => this.log.warn({ err: err.message, aside }, 'the sound sink\'s listener could not be moved'));
    return this.queue;
  }
}
