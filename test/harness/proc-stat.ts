// /proc/<pid>/stat and /proc/<pid>/task/<tid>/stat, parsed (Linux).

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
