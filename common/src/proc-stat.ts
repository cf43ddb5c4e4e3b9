// /proc/<pid>/stat and /proc/<pid>/task/<tid>/stat, parsed (Linux), and the process tree under a pid.
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: the unit of the CPU times in stat. */
export const ticksPerSecond = 100;

/**
 * A stat line's name (field 2) and its fields from field 3 (the state) on: index 0 is the state, 1 the
 * parent pid, 11 and 12 the user and system CPU time in ticks. The name may contain spaces and
 * parentheses, so the fields are read after the last ')'.
 */
export function parseStat(text: string): { comm: string; fields: string[] } {
  const close = text.lastIndexOf(')');
  return { comm: text.slice(text.indexOf('(') + 1, close), fields: text.slice(close + 2).split(' ') };
}

export interface ProcessStat {
  pid: number;
  ppid: number;
  /** The stat fields from the state on (parseStat). */
  fields: string[];
}

/** Every process on the machine, as /proc has it now (one that ends while the list is read is left out). */
export function allProcesses(): ProcessStat[] {
  const all: ProcessStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const { fields } = parseStat(readFileSync(`/proc/${entry}/stat`, 'utf8'));
      all.push({ pid: Number(entry), ppid: Number(fields[1]), fields });
    } catch {
      // ended meanwhile
    }
  }
  return all;
}

/** `root` and every process under it, as /proc has them now (none when root has ended). */
export function processTree(root: number): ProcessStat[] {
  const all = allProcesses();
  const children = new Map<number, ProcessStat[]>();
  for (const s of all) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const found: ProcessStat[] = [];
  const stack = all.filter((s) => s.pid === root);
  while (stack.length) {
    const s = stack.pop()!;
    found.push(s);
    stack.push(...(children.get(s.pid) ?? []));
  }
  return found;
}
