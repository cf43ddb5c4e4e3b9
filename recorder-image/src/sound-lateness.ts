// How late the first sound of a capture part was stamped, measured, so its sound can be put back.
//
// Why: ffmpeg stamps the sound with the wall clock when it reads it (-use_wallclock_as_timestamps; the
// same clock as the screen's stamps), but it reads PulseAudio's 10 ms fragments in bursts: consecutive
// fragments got stamps 1 µs apart, then a gap of 86 ms. Written as they were, the file's sound had holes
// and overlaps at its start, a different amount in every recording. So the capture counts the sound
// from its first stamp (asetpts=N/SR/TB+STARTPTS: continuous, no holes), and this measures how late that
// first stamp was: a fragment can be read late but never early, so the earliest of (stamp - samples
// before it / rate) over the first seconds is when the sound really began. The difference is taken off
// at the join (finalize.ts), with the picture's delay (picture-delay.ts).

/** How long each capture part logs its sound frames' stamps. */
export const soundProbeSeconds = 3;
const minimumFrames = 20;

/** The filter branch that logs the stamps of input `input`'s sound frames (ashowinfo, info level). */
export function soundProbeBranch(input: string, partSeconds: number): string {
  return `${input}atrim=end=${Math.min(soundProbeSeconds, partSeconds).toFixed(3)},ashowinfo,anullsink`;
}

/** The sound chain of the recording itself: counted from its first stamp, without holes or overlaps. */
export const continuousSound = 'asetpts=N/SR/TB+STARTPTS';

export class SoundLatenessReader {
  private readonly frames: { pts: number; samples: number; rate: number }[] = [];

  line(text: string): void {
    const frame = /Parsed_ashowinfo_\d+ @ [^\]]+\] n:\d+ pts:-?\d+ pts_time:(-?[\d.e+-]+) .*\brate:(\d+) nb_samples:(\d+)/.exec(text);
    if (frame) this.frames.push({ pts: Number(frame[1]), rate: Number(frame[2]), samples: Number(frame[3]) });
  }

  /** How many ms after the sound began its first frame was stamped, or undefined with too few frames. */
  latenessMs(): number | undefined {
    return soundLatenessMs(this.frames);
  }
}

export function soundLatenessMs(frames: { pts: number; samples: number; rate: number }[]): number | undefined {
  if (frames.length < minimumFrames) return undefined;
  let counted = 0;
  let began = Infinity;
  for (const frame of frames) {
    began = Math.min(began, frame.pts - counted / frame.rate);
    counted += frame.samples;
  }
  return Math.round((frames[0]!.pts - began) * 10_000) / 10;
}
