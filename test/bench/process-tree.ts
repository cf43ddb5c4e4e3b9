// CPU time and memory of a process and all its descendants, from /proc.
import { readFileSync, readlinkSync } from 'node:fs';
import { allProcesses, processTree, ticksPerSecond, type ProcessStat } from '@recording-operator/common/proc-stat.ts';

interface ProcStat {
  pid: number;
  ppid: number;
  cpuSeconds: number;
}

const withCpu = ({ pid, ppid, fields }: ProcessStat): ProcStat => ({ pid, ppid, cpuSeconds: (Number(fields[11]) + Number(fields[12])) / ticksPerSecond });

function tree(root: number): ProcStat[] {
  return processTree(root).map(withCpu);
}

/** utime + stime of the whole tree, in seconds. */
export function treeCpuSeconds(root: number): number {
  return tree(root).reduce((sum, s) => sum + s.cpuSeconds, 0);
}

/**
 * Proportional set size of the whole tree, in MiB: each shared page (Chromium's processes share most
 * of theirs, Xvfb's frame buffer is shared with ffmpeg's grab) counted once across the tree.
 */
export function treePssMiB(root: number): number {
  return Object.values(treePssByProgram(root)).reduce((a, b) => a + b, 0);
}

/**
 * The same PSS, in MiB per program: the executable's name, and Chromium's processes by their --type
 * (browser, renderer, zygote, utility), so a memory figure says where its megabytes are.
 */
export function treePssByProgram(root: number): Record<string, number> {
  const byProgram: Record<string, number> = {};
  for (const { pid } of tree(root)) {
    try {
      const kib = Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
      const program = programOf(pid);
      byProgram[program] = (byProgram[program] ?? 0) + kib / 1024;
    } catch {
      // exited meanwhile
    }
  }
  return byProgram;
}

/** CPU seconds (utime + stime) per program of the tree, named as treePssByProgram names them. */
export function treeCpuSecondsByProgram(root: number): Record<string, number> {
  const byProgram: Record<string, number> = {};
  for (const { pid, cpuSeconds } of tree(root)) {
    try {
      const program = programOf(pid);
      byProgram[program] = (byProgram[program] ?? 0) + cpuSeconds;
    } catch {
      // exited meanwhile
    }
  }
  return byProgram;
}

/**
 * A process's program. Chromium rewrites its processes' command lines (argv[0] becomes "chromium-XXXXXX
 * --flags…"), so the program is the executable's name and Chromium's process type is found anywhere in the line.
 */
function programOf(pid: number): string {
  const name = readlinkSync(`/proc/${pid}/exe`).split('/').pop()!;
  const chromiumType = /--type=(\S+)/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1];
  return name === 'chromium' ? `chromium ${chromiumType ?? 'browser'}` : name;
}

/**
 * CPU seconds of every process on the machine by program, those in a Kubernetes Pod's cgroup named
 * "pod: <program>" (a recorder's node and the operator's are both `node`), and the machine's busy
 * seconds over both cores from /proc/stat: what else ran while something was measured. Processes that
 * ended before the second reading are missing from the split but not from the busy seconds.
 */
export function machineCpuSeconds(): { atMs: number; busy: number; byProgram: Record<string, number> } {
  const byProgram: Record<string, number> = {};
  for (const { pid, cpuSeconds } of allProcesses().map(withCpu)) {
    try {
      const inPod = readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes('kubepods');
      const program = `${inPod ? 'pod: ' : ''}${programOf(pid)}`;
      byProgram[program] = (byProgram[program] ?? 0) + cpuSeconds;
    } catch {
      // a kernel thread (no executable) or exited meanwhile
    }
  }
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  return { atMs: performance.now(), busy: (user! + nice! + system! + irq! + softirq! + steal!) / ticksPerSecond, byProgram };
}

/** Cores used on average between two machineCpuSeconds() readings: busy, and by program (the largest first, above 0.01). */
export function machineCoresBetween(before: ReturnType<typeof machineCpuSeconds>, after: ReturnType<typeof machineCpuSeconds>): { busy: number; byProgram: Record<string, number> } {
  const seconds = (after.atMs - before.atMs) / 1000;
  const round = (v: number) => Math.round(v * 100) / 100;
  const byProgram = Object.entries(after.byProgram)
    .map(([program, cpu]): [string, number] => [program, round((cpu - (before.byProgram[program] ?? 0)) / seconds)])
    .filter(([, cores]) => cores >= 0.01)
    .sort((a, b) => b[1] - a[1]);
  return { busy: round((after.busy - before.busy) / seconds), byProgram: Object.fromEntries(byProgram) };
}
