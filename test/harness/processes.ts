// Supervised child processes for the harness. Every child gets SIGKILL from the kernel when the test
// process dies (setpriv --pdeathsig), so even a SIGKILLed test run leaves no apiserver or MinIO behind;
// a normal exit or Ctrl-C stops them through the exit handler below.
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { spawnBoundToParent } from '@recording-operator/common/process.ts';

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of running) child.kill('SIGKILL');
      process.exit(130);
    });
  }
}

export interface Supervised {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Stops the process (SIGTERM, then SIGKILL after graceMs) and waits for it to exit. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines of the process log, for error messages. */
  logTail(lines?: number): string;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function startProcess(name: string, command: string, args: string[], logFile: string, options: StartOptions = {}): Supervised {
  installExitHook();
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawnBoundToParent(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd });
  // Neither stream may end the log: the other can still write to it (sshd writes to stderr after stdout closes).
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  running.add(child);
  const exited = once(child, 'exit').then(() => running.delete(child));
  child.once('close', () => log.end());
  const logTail = (lines = 20): string => {
    try {
      return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  return {
    name,
    child,
    logFile,
    logTail,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('could not allocate a port');
  return address.port;
}

/** Polls `check` until it resolves true; fails with the process log when the process exits or time runs out. */
export async function waitUntil(what: string, check: () => Promise<boolean>, proc: Supervised | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
      throw new Error(`${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}) before ${what}:\n${proc.logTail()}`);
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${proc ? `; log of ${proc.name}:\n${proc.logTail()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
