// A capture part's ffmpeg is started before the recording is due, and waits at its first input: a FIFO
// that nothing writes. Opening a FIFO for reading blocks until a writer opens it, so ffmpeg's own start
// (loading and linking its 215 libraries, 160-650 ms measured on a busy 2-core machine) is done while
// the page loads, and the part starts capturing as soon as the gate opens. The gate input is opened
// and closed empty: ffmpeg reads its end at once and never maps it.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, rmSync } from 'node:fs';

export class CaptureGate {
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** A new FIFO at `path`, replacing anything there. */
  static create(path: string): CaptureGate {
    rmSync(path, { force: true });
    execFileSync('mkfifo', ['-m', '600', path]);
    return new CaptureGate(path);
  }

  /** ffmpeg's first input: raw sound that says its format, so ffmpeg reads nothing ahead of it. */
  inputArgs(): string[] {
    return ['-probesize', '32', '-analyzeduration', '0', '-f', 's16le', '-ar', '8000', '-ac', '1', '-i', this.path];
  }

  /**
   * Lets ffmpeg go on: opens the FIFO for writing once ffmpeg waits to read it (before that a
   * non-blocking open fails with ENXIO), and closes it at once. Rejects when ffmpeg exits first.
   */
  async open(exited: Promise<unknown>): Promise<void> {
    let gone = false;
    void exited.then(() => (gone = true));
    for (;;) {
      try {
        closeSync(openSync(this.path, constants.O_WRONLY | constants.O_NONBLOCK));
        this.remove();
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
      }
      if (gone) throw new Error('ffmpeg exited before it reached its start gate');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}
