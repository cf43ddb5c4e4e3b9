// What a recorder reports: live status from its control endpoint, and the final report it writes to
// the container's termination-message path (the durable record the operator reads even after a restart).
import { z } from 'zod';

export const stopReasons = [
  'API_CALL',
  'ALL_PEERS_LEFT',
  'CALL_ENDED',
  'MAX_DURATION_REACHED',
  'NO_MEDIA',
  'START_SIGNAL_TIMEOUT',
  'RECORDER_LOST',
  'INTERNAL_ERROR',
] as const;
export type StopReason = (typeof stopReasons)[number];

export const recorderPhases = ['STARTING', 'RECORDING', 'PAUSED', 'STOPPING', 'UPLOADING', 'UPLOADED', 'FAILED'] as const;
export type RecorderPhase = (typeof recorderPhases)[number];

export const recorderStatusSchema = z.object({
  phase: z.enum(recorderPhases),
  startedTime: z.string().optional(),
  stoppedTime: z.string().optional(),
  /** Recorded seconds so far, pauses excluded. */
  durationSeconds: z.number(),
  bytes: z.number().int(),
  framesCaptured: z.number().int(),
  framesDropped: z.number().int(),
  participants: z.number().int().optional(),
  /** The maximum duration in force (it can change while recording). */
  maxDurationSeconds: z.number().int().optional(),
  stopReason: z.enum(stopReasons).optional(),
  report: z.lazy(() => finalReportSchema).optional(),
  /** Where the start went: milliseconds from the recorder process's start (a standby recorder's: from its assignment) to each stage it has reached. */
  startup: z.object({
    /** Xvfb and PulseAudio answer. */
    displayReadyMs: z.number(),
    /** Chromium is up with its first tab. */
    browserReadyMs: z.number(),
    /** The call page's load event. */
    pageLoadedMs: z.number(),
    /** The page's START_RECORDING signal (the same as pageLoadedMs when not waited for). */
    startSignalMs: z.number(),
    /** ffmpeg captured its first frame: the recording's start. */
    firstFrameMs: z.number(),
  }).partial().optional(),
});
export type RecorderStatus = z.infer<typeof recorderStatusSchema>;

const storedFileSchema = z.object({
  fileName: z.string(),
  key: z.string(),
  sizeBytes: z.number().int(),
  sha256: z.string(),
  contentType: z.string(),
});
export type StoredFileReport = z.infer<typeof storedFileSchema>;

export const finalReportSchema = z.object({
  result: z.enum(['UPLOADED', 'FAILED']),
  /** The kind of store the files went to (the scheme of their locations); s3 when absent. */
  storageType: z.enum(['s3', 'gcs', 'azure', 'sftp']).optional(),
  /** Bucket, Azure container, or host[:port] for sftp: what locations name after the scheme. */
  bucket: z.string().optional(),
  file: storedFileSchema.optional(),
  audioFile: storedFileSchema.optional(),
  thumbnail: storedFileSchema.optional(),
  durationSeconds: z.number().optional(),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
  startedTime: z.string().optional(),
  stoppedTime: z.string().optional(),
  stopReason: z.enum(stopReasons).optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  /** Uploaded by a restarted recorder from what a crashed one had captured. */
  salvaged: z.boolean().optional(),
});
export type FinalReport = z.infer<typeof finalReportSchema>;

/** Kubernetes keeps at most 4096 bytes of a termination message. */
export const terminationMessageLimit = 4096;

/** Serialises a report to fit the termination message: long error messages are cut, never the facts. */
export function serializeFinalReport(report: FinalReport): string {
  let text = JSON.stringify(report);
  if (Buffer.byteLength(text) <= terminationMessageLimit) return text;
  const message = report.error?.message ?? '';
  const overflow = Buffer.byteLength(text) - terminationMessageLimit + 3;
  const cut = { ...report, error: report.error && { ...report.error, message: `${message.slice(0, Math.max(0, message.length - overflow))}…` } };
  text = JSON.stringify(cut);
  if (Buffer.byteLength(text) > terminationMessageLimit) throw new Error(`final report does not fit in ${terminationMessageLimit} bytes`);
  return text;
}
