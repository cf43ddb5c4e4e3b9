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

/**
 * Where the ports the kernel hands out to outgoing connections and to listen(0) begin. A port picked
 * from among them and closed again can be taken by any connection before its server binds it (a CI
 * run's operator failed with EADDRINUSE so); ports below them are taken only by servers that ask for
 * them by number.
 */
function ephemeralPortsStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (low > 0) return low;
  } catch {
    // Not Linux: the kernel's usual range.
  }
  return 32768;
}

const handedOut = new Set<number>();

/**
 * A TCP port free on 127.0.0.1 for a server to bind by number: below the ephemeral range, not handed
 * out before by this process, and bound once to see that nothing else holds it.
 */
export async function freePort(): Promise<number> {
  const ephemeralLow = ephemeralPortsStart();
  const low = Math.min(20_000, ephemeralLow - 2_000);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = low + Math.floor(Math.random() * (ephemeralLow - low));
    if (handedOut.has(port)) continue;
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) continue;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    handedOut.add(port);
    return port;
  }
  throw new Error(`could not find a free port from ${low} to ${ephemeralLow - 1}`);
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
