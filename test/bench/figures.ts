// How benchmarks report: one JSON object per figure on stdout, medians of repeated runs.
export function emit(figure: Record<string, unknown>): void {
  console.log(JSON.stringify(figure));
}

export function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}
