// What the operator tells a recorder, and what it hands it as secret files. The operator writes the
// config (effective settings already resolved) into the Pod as the RECORDER_CONFIG environment variable;
// credentials are mounted as files and never appear in the config, the Pod spec or any log.
import { z } from 'zod';
import { videoLimits } from './video-limits.ts';

export const containers = ['mp4', 'webm', 'm4a', 'mp3', 'ogg'] as const;

const storedObjectFields = {
  /** Object key without extension, such as demo/standup-42/standup-1700000000. */
  objectKey: z.string().min(1).max(900),
  /** How long to keep retrying an upload (exponential backoff) before giving up; the file stays on disk. */
  retryWindowSeconds: z.number().int().min(1).max(86_400).default(600),
};

/** Where the recorder's endpoint listens and its files are, inside its Pod (a standby recorder's too). */
export const podFields = {
  control: z.object({ port: z.number().int().min(1).max(65_535).default(8080), host: z.string().default('0.0.0.0') }).default({ port: 8080, host: '0.0.0.0' }),
  /** Where capture files are written; must have room for the whole recording. */
  workDir: z.string().min(1).default('/recordings'),
  terminationMessagePath: z.string().min(1).default('/dev/termination-log'),
  /** Directory of the mounted Secret (file names in recorderSecretFiles). */
  secretsDir: z.string().min(1).default('/var/run/secrets/recorder'),
};

export const recorderConfigSchema = z
  .object({
    /** namespace/name of the Recording, for logs and object metadata. */
    recordingId: z.string().min(1).max(317),
    /** The page to open, already rendered from the CallType template, with layout name and options in its query string. */
    url: z.url({ protocol: /^https?$/ }),
    output: z.object({
      container: z.enum(containers),
      /** Absent for audio-only recordings. */
      video: z
        .object({
          codec: z.enum(['H264', 'VP8']),
          width: z.number().int().min(videoLimits.size.min).max(videoLimits.size.max).multipleOf(2),
          height: z.number().int().min(videoLimits.size.min).max(videoLimits.size.max).multipleOf(2),
          fps: z.number().int().min(videoLimits.fps.min).max(videoLimits.fps.max),
          bitrate: z.number().int().positive().optional(),
        })
        .optional(),
      audio: z.object({
        codec: z.enum(['AAC', 'MP3', 'OPUS', 'VORBIS']),
        channels: z.union([z.literal(1), z.literal(2)]),
        bitrate: z.number().int().min(32_000).max(320_000).default(128_000),
      }),
      /** Also produce a separate audio-only file. */
      exportAudio: z.boolean().default(false),
      thumbnail: z.boolean().default(true),
    }),
    watermark: z
      .object({
        url: z.url({ protocol: /^https?$/ }),
        width: z.number().int().positive().optional(),
        height: z.number().int().positive().optional(),
        position: z.enum(['left top', 'right top', 'left bottom', 'right bottom']).default('right bottom'),
      })
      .optional(),
    externalCssUrl: z.url({ protocol: /^https?$/ }).optional(),
    maxDurationSeconds: z.number().int().min(1).max(86_400),
    autoStop: z
      .object({
        allParticipantsLeftSeconds: z.number().int().min(0).default(0),
        noMediaSeconds: z.number().int().min(0).default(0),
      })
      .default({ allParticipantsLeftSeconds: 0, noMediaSeconds: 0 }),
    startSignal: z
      .object({ wait: z.boolean().default(false), timeoutSeconds: z.number().int().min(1).max(600).default(30) })
      .default({ wait: false, timeoutSeconds: 30 }),
    storage: z.discriminatedUnion('type', [
      z.object({
        type: z.literal('s3'),
        endpoint: z.url({ protocol: /^https?$/ }),
        region: z.string().min(1).default('us-east-1'),
        bucket: z.string().min(3).max(63),
        forcePathStyle: z.boolean().default(false),
        ...storedObjectFields,
      }).strict(),
      z.object({
        type: z.literal('azure'),
        /** The blob service URL, such as https://account.blob.core.windows.net. */
        endpoint: z.url({ protocol: /^https?$/ }),
        /** The container. */
        bucket: z.string().min(3).max(63),
        ...storedObjectFields,
      }).strict(),
      z.object({
        type: z.literal('gcs'),
        /** https://storage.googleapis.com, or an emulator's URL. */
        endpoint: z.url({ protocol: /^https?$/ }),
        bucket: z.string().min(3).max(63),
        ...storedObjectFields,
      }).strict(),
      z.object({
        type: z.literal('sftp'),
        /** sftp://host[:port]; objectKey is a path relative to the login directory. */
        endpoint: z.url({ protocol: /^sftp$/ }),
        ...storedObjectFields,
      }).strict(),
    ]),
    rtmp: z.object({ url: z.string().regex(/^rtmps?:\/\/\S+$/, 'an rtmp:// or rtmps:// URL') }).optional(),
    ...podFields,
  })
  .strict();

export type RecorderConfig = z.infer<typeof recorderConfigSchema>;
export type RecorderConfigInput = z.input<typeof recorderConfigSchema>;

/** File names inside secretsDir. */
export const recorderSecretFiles = {
  controlToken: 'control-token',
  storageAccessKeyId: 'storage-access-key-id',
  storageSecretAccessKey: 'storage-secret-access-key',
  storageSessionToken: 'storage-session-token',
  /** azure: a SAS token for the container (the operator issues one per recorder). */
  storageAzureSasToken: 'storage-azure-sas-token',
  /** gcs: the service account key (JSON with type, client_email, private_key, project_id). */
  storageGcsServiceAccountKey: 'storage-gcs-service-account-key',
  storageSftpUsername: 'storage-sftp-username',
  storageSftpKnownHosts: 'storage-sftp-known-hosts',
  storageSftpPrivateKey: 'storage-sftp-private-key',
  storageSftpPassphrase: 'storage-sftp-passphrase',
  storageSftpPassword: 'storage-sftp-password',
  rtmpStreamKey: 'rtmp-stream-key',
} as const;
