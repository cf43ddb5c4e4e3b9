// What the operator hands a recorder: the object key and the recorder configuration. Pure.
import type { StoreEndpoint } from '@recording-operator/common/storage/object-store.ts';
import type { Recording, StorageSpec } from '@recording-operator/common/api/generated/types.ts';
import type { RecorderConfigInput } from '@recording-operator/common/protocol/recorder-config.ts';
import type { EffectiveSettings } from './effective-settings.ts';
import { containerFor } from './effective-settings.ts';

/** Object key without extension: <storage.path>/<fileNamePrefix><fileNameTemplate>, stable across reconciles. */
export function objectKey(recording: Pick<Recording, 'metadata' | 'spec'>, callTypeName: string, storage: StorageSpec, settings: EffectiveSettings): string {
  const created = new Date(recording.metadata?.creationTimestamp ?? 0);
  const iso = created.toISOString();
  const values: Record<string, string> = {
    callType: callTypeName,
    callId: recording.spec.callId ?? 'page',
    namespace: recording.metadata?.namespace ?? 'default',
    name: recording.metadata?.name ?? 'recording',
    date: iso.slice(0, 10),
    time: iso.slice(11, 19).replace(/:/g, ''),
    timestamp: String(Math.floor(created.getTime() / 1000)),
    uid: recording.metadata?.uid ?? '',
  };
  const name = settings.fileNameTemplate.replace(/\{(\w+)\}/g, (_, key: string) => values[key] ?? '');
  return [storage.path?.replace(/\/+$/, ''), `${settings.fileNamePrefix}${name}`].filter(Boolean).join('/').replace(/\/{2,}/g, '/');
}

export const recorderPort = 8080;
/** Paths inside the recorder container; the Pod mounts volumes there. */
export const recorderPaths = { workDir: '/recordings', secretsDir: '/var/run/secrets/recorder', terminationMessage: '/dev/termination-log' } as const;

export function recorderConfig(options: {
  recording: Pick<Recording, 'metadata' | 'spec'>;
  settings: EffectiveSettings;
  url: string;
  /** Where the files go, resolved from the storage spec and its Secret (StorageAccess.account). */
  endpoint: StoreEndpoint;
  key: string;
  uploadRetryWindowSeconds: number;
}): RecorderConfigInput {
  const { settings } = options;
  return {
    recordingId: `${options.recording.metadata?.namespace}/${options.recording.metadata?.name}`,
    url: options.url,
    output: {
      container: containerFor(settings),
      video: settings.video && { codec: settings.video.codec, width: settings.video.width, height: settings.video.height, fps: settings.video.fps, bitrate: settings.video.bitrate },
      audio: { codec: settings.audio.codec, channels: settings.audio.channels, bitrate: settings.audio.bitrate },
      exportAudio: settings.audio.exportFile,
    },
    watermark: settings.watermark,
    externalCssUrl: settings.layout.externalCssUrl,
    maxDurationSeconds: settings.maxDurationSeconds,
    autoStop: settings.autoStop,
    startSignal: settings.startSignal,
    storage: { ...options.endpoint, objectKey: options.key, retryWindowSeconds: options.uploadRetryWindowSeconds },
    rtmp: options.recording.spec.rtmp && { url: options.recording.spec.rtmp.url },
    control: { port: recorderPort },
    workDir: recorderPaths.workDir,
    secretsDir: recorderPaths.secretsDir,
    terminationMessagePath: recorderPaths.terminationMessage,
  };
}
