// The picture sizes and frame rates a recorder takes, in a module of their own (no zod): the recorder
// reads them before its configuration's schema has loaded (recorder-image/src/early-start.ts).
export const videoLimits = {
  /** Width and height, even numbers of pixels. */
  size: { min: 128, max: 2560 },
  fps: { min: 5, max: 60 },
} as const;
