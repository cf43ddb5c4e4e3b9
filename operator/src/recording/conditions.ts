// metav1.Condition semantics: lastTransitionTime changes only when the status flips.
import type { Condition } from '@recording-operator/common/api/generated/types.ts';

export function setCondition(
  existing: readonly Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime'>,
  now: Date,
): Condition[] {
  const out = (existing ?? []).filter((c) => c.type !== next.type);
  const previous = existing?.find((c) => c.type === next.type);
  const lastTransitionTime = previous && previous.status === next.status ? previous.lastTransitionTime : now.toISOString();
  out.push({ ...next, lastTransitionTime });
  return out.sort((a, b) => a.type.localeCompare(b.type));
}
