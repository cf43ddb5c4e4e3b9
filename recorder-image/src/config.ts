// Loads and validates the recorder's configuration before anything is launched: the JSON in
// RECORDER_CONFIG (or the file named by RECORDER_CONFIG_FILE) and the secret files it refers to.
// Every problem is reported with the setting's name and what is allowed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { recorderConfigSchema, recorderSecretFiles, type RecorderConfig } from '@recording-operator/common/protocol/recorder-config.ts';
import { storageCredentialsFromFiles } from '@recording-operator/common/protocol/storage-secret-files.ts';
import type { StoreCredentials } from '@recording-operator/common/storage/object-store.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface RecorderSecrets {
  controlToken: string;
  storage: StoreCredentials;
  rtmpStreamKey?: string;
}

export interface LoadedConfig {
  config: RecorderConfig;
  secrets: RecorderSecrets;
}

function formatIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `RECORDER_CONFIG.${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}

function readSecret(dir: string, file: string, required: boolean): string | undefined {
  const path = join(dir, file);
  try {
    const value = readFileSync(path, 'utf8').trim();
    if (value === '' && required) throw new ConfigError(`secret file ${path} is empty`);
    return value === '' ? undefined : value;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`secret file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text = env.RECORDER_CONFIG;
  if (text === undefined && env.RECORDER_CONFIG_FILE) {
    try {
      text = readFileSync(env.RECORDER_CONFIG_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError(`RECORDER_CONFIG_FILE ${env.RECORDER_CONFIG_FILE} cannot be read: ${(err as Error).message}`);
    }
  }
  if (text === undefined) throw new ConfigError('RECORDER_CONFIG (JSON) or RECORDER_CONFIG_FILE must be set');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`RECORDER_CONFIG is not valid JSON: ${(err as Error).message}`);
  }
  return checkedConfig(raw, env, readSecret);
}

/** Reads one secret file: from the mounted Secret, or from a standby recorder's assignment. */
type SecretReader = (dir: string, file: string, required: boolean) => string | undefined;

/** The configuration and secrets a standby recorder was assigned (standby.ts): the same checks as loadConfig's. */
export function assignedConfig(raw: unknown, secretFiles: Record<string, string>, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  return checkedConfig(raw, env, (_dir, file, required) => {
    const value = secretFiles[file]?.trim();
    if (!value && required) throw new ConfigError(`the assignment's secretFiles has no ${file}`);
    return value || undefined;
  });
}

/** The control endpoint listens on the Pod's own address when the Pod spec passes it in (downward API). */
export function listenOnPodIp(raw: unknown, env: NodeJS.ProcessEnv): void {
  if (env.POD_IP && raw && typeof raw === 'object') {
    const r = raw as { control?: { host?: string } };
    if (r.control?.host === undefined) r.control = { ...r.control, host: env.POD_IP };
  }
}

function checkedConfig(raw: unknown, env: NodeJS.ProcessEnv, read: SecretReader): LoadedConfig {
  listenOnPodIp(raw, env);
  const parsed = recorderConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error));
  const config = parsed.data;
  const { video, audio, container } = config.output;
  const videoContainers: Record<string, string[]> = { H264: ['mp4'], VP8: ['webm'] };
  if (video && !videoContainers[video.codec]?.includes(container)) {
    throw new ConfigError(`RECORDER_CONFIG.output.container: ${container} cannot hold ${video.codec} video (H264 → mp4, VP8 → webm)`);
  }
  const audioOnlyContainers: Record<string, string> = { AAC: 'm4a', MP3: 'mp3', OPUS: 'ogg', VORBIS: 'ogg' };
  if (!video && audioOnlyContainers[audio.codec] !== container) {
    throw new ConfigError(`RECORDER_CONFIG.output.container: audio-only ${audio.codec} is written as ${audioOnlyContainers[audio.codec]}, not ${container}`);
  }
  if (video?.codec === 'H264' && !['AAC', 'MP3'].includes(audio.codec)) {
    throw new ConfigError(`RECORDER_CONFIG.output.audio.codec: H264 video takes AAC or MP3 audio, not ${audio.codec}`);
  }
  if (video?.codec === 'VP8' && !['OPUS', 'VORBIS'].includes(audio.codec)) {
    throw new ConfigError(`RECORDER_CONFIG.output.audio.codec: VP8 video takes OPUS or VORBIS audio, not ${audio.codec}`);
  }
  if (config.rtmp && video?.codec !== 'H264') {
    throw new ConfigError('RECORDER_CONFIG.rtmp: live streaming needs H264 video');
  }
  const dir = config.secretsDir;
  const secrets: RecorderSecrets = {
    controlToken: read(dir, recorderSecretFiles.controlToken, true)!,
    storage: (() => {
      try {
        return storageCredentialsFromFiles(config.storage.type, (file, required) => read(dir, file, required));
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        throw new ConfigError(`${(err as Error).message} (in ${dir})`);
      }
    })(),
    rtmpStreamKey: config.rtmp ? read(dir, recorderSecretFiles.rtmpStreamKey, false) : undefined,
  };
  if (secrets.controlToken.length < 16) throw new ConfigError(`secret file ${join(dir, recorderSecretFiles.controlToken)} must hold at least 16 characters`);
  return { config, secrets };
}
