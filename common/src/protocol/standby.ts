// Standby recorders (CallType spec.recorder.standby): a recorder Pod started before any Recording asks,
// with its screen, sound card and browser up and no page. The operator hands one a Recording by POSTing
// an assignment to its control endpoint: the recorder configuration and the files of the Recording's
// Secret (control token, storage credentials). A Pod's Secret volume cannot change after it starts, so
// those credentials travel over the Pod network; they are sealed (AES-256-GCM) with the key in the
// standby Pod's own Secret, which only the operator and that Pod can read. The seal also authenticates
// the request: whoever cannot seal cannot assign.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { podFields, type RecorderConfigInput } from './recorder-config.ts';

/** What a standby recorder is started with (RECORDER_STANDBY): the screen it prepares, nothing of a recording. */
export const standbyConfigSchema = z
  .object({
    /** The output it will record: the screen is made for it. Absent for audio-only recordings. */
    video: z.object({ width: z.number().int().min(128).max(2560).multipleOf(2), height: z.number().int().min(128).max(2560).multipleOf(2), fps: z.number().int().min(5).max(60) }).optional(),
    ...podFields,
  })
  .strict();

export type StandbyConfig = z.infer<typeof standbyConfigSchema>;
export type StandbyConfigInput = z.input<typeof standbyConfigSchema>;

/** The file in the standby Pod's Secret that holds the sealing key (64 hex characters). */
export const standbyKeyFile = 'standby-key';

/** What the operator hands a standby recorder. */
export interface StandbyAssignment {
  config: RecorderConfigInput;
  /** The Recording's Secret: file name → content, as a mounted Secret would give them. */
  secretFiles: Record<string, string>;
}

export class SealError extends Error {
  override name = 'SealError';
}

const ivBytes = 12;
const tagBytes = 16;

function keyOf(hex: string): Buffer {
  const key = Buffer.from(hex.trim(), 'hex');
  if (key.length !== 32) throw new SealError(`the standby key must be 32 bytes as 64 hex characters, not ${hex.trim().length} characters`);
  return key;
}

export function newStandbyKey(): string {
  return randomBytes(32).toString('hex');
}

/** base64url(iv ‖ tag ‖ AES-256-GCM(JSON)). */
export function sealAssignment(keyHex: string, assignment: StandbyAssignment): string {
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv('aes-256-gcm', keyOf(keyHex), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(assignment), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** The assignment, or SealError when it was not sealed with this key or was altered. */
export function openAssignment(keyHex: string, sealed: string): StandbyAssignment {
  const bytes = Buffer.from(sealed.trim(), 'base64url');
  if (bytes.length <= ivBytes + tagBytes) throw new SealError('the assignment is too short to be sealed');
  const decipher = createDecipheriv('aes-256-gcm', keyOf(keyHex), bytes.subarray(0, ivBytes));
  decipher.setAuthTag(bytes.subarray(ivBytes, ivBytes + tagBytes));
  let text: string;
  try {
    text = Buffer.concat([decipher.update(bytes.subarray(ivBytes + tagBytes)), decipher.final()]).toString('utf8');
  } catch {
    throw new SealError('the assignment was not sealed with this standby recorder\'s key, or was altered');
  }
  const parsed = JSON.parse(text) as Partial<StandbyAssignment>;
  if (!parsed || typeof parsed.config !== 'object' || typeof parsed.secretFiles !== 'object') throw new SealError('the assignment has no config or secretFiles');
  return parsed as StandbyAssignment;
}
