// What a Recording will actually record: its CallType's recording settings overlaid with the Recording's
// settingsOverride and top-level fields, defaults filled in, and checked as a whole (the apiserver checks
// each object alone; only here do the two meet). Pure.
import type { CallType, Recording, RecordingSettings, RecordingSettingsOverride } from '@recording-operator/common/api/generated/types.ts';

export const qualityPresets = {
  '360p': [640, 360],
  '480p': [854, 480],
  '720p': [1280, 720],
  '1080p': [1920, 1080],
  '1440p': [2560, 1440],
  'portrait-360x640': [360, 640],
  'portrait-480x854': [480, 854],
  'portrait-720x1280': [720, 1280],
  'portrait-1080x1920': [1080, 1920],
} as const satisfies Record<NonNullable<RecordingSettings['quality']>, readonly [number, number]>;

export interface EffectiveSettings {
  audioOnly: boolean;
  video?: { codec: 'H264' | 'VP8'; width: number; height: number; fps: number; bitrate?: number; quality?: string };
  audio: { codec: 'AAC' | 'MP3' | 'OPUS' | 'VORBIS'; channels: 1 | 2; bitrate: number; exportFile: boolean };
  watermark?: { url: string; width?: number; height?: number; position: 'left top' | 'right top' | 'left bottom' | 'right bottom' };
  layout: { name: 'single_participant' | 'grid' | 'spotlight' | 'custom'; options: Record<string, string | number | boolean>; externalCssUrl?: string; externalAppUrl?: string };
  maxDurationSeconds: number;
  fileNamePrefix: string;
  fileNameTemplate: string;
  autoStop: { allParticipantsLeftSeconds: number; noMediaSeconds: number };
  startSignal: { wait: boolean; timeoutSeconds: number };
}

export class SettingsError extends Error {
  override name = 'SettingsError';
}

type AnySettings = RecordingSettings | RecordingSettingsOverride;

/** Override wins field by field; objects merge, anything else is replaced. */
function overlay<T extends object>(base: T | undefined, top: T | undefined): T | undefined {
  if (!base) return top;
  if (!top) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(top)) {
    const b = out[k];
    out[k] = b && v && typeof b === 'object' && typeof v === 'object' && !Array.isArray(v) ? overlay(b, v) : v;
  }
  return out as T;
}

/** The CRD's upper bound for maxDurationSeconds. */
export const maxDurationLimitSeconds = 86_400;

export function effectiveSettings(callType: Pick<CallType, 'spec'>, recording: Pick<Recording, 'spec'>): EffectiveSettings {
  const base: AnySettings = structuredClone(callType.spec.recording ?? {});
  const override: AnySettings = recording.spec.settingsOverride ?? {};
  // An override chooses a whole concept: audio-only drops video settings, a quality drops an explicit
  // size and an explicit size drops the quality.
  if (override.audioOnly === true) {
    delete base.video;
    delete base.quality;
    delete base.layout;
  }
  if (override.quality && base.video) {
    delete base.video.width;
    delete base.video.height;
  }
  if (override.video?.width && base.quality) delete base.quality;
  const merged = overlay<AnySettings>(base, override) ?? {};
  const audioOnly = merged.audioOnly ?? false;

  const audioCodec = merged.audio?.codec ?? (merged.video?.codec === 'VP8' ? 'OPUS' : 'AAC');
  const videoCodec = merged.video?.codec ?? 'H264';
  if (!audioOnly) {
    if (videoCodec === 'VP8' && !['OPUS', 'VORBIS'].includes(audioCodec)) {
      throw new SettingsError(`video.codec VP8 needs audio.codec OPUS or VORBIS, but the CallType and settingsOverride together give ${audioCodec}`);
    }
    if (videoCodec === 'H264' && !['AAC', 'MP3'].includes(audioCodec)) {
      throw new SettingsError(`audio.codec ${audioCodec} needs video.codec VP8 (or audioOnly), but the CallType and settingsOverride together give H264`);
    }
  }
  let video: EffectiveSettings['video'];
  if (!audioOnly) {
    const explicit = merged.video?.width && merged.video?.height ? ([merged.video.width, merged.video.height] as const) : undefined;
    const quality = merged.quality ?? (explicit ? undefined : '720p');
    const [width, height] = explicit ?? qualityPresets[quality!];
    video = { codec: videoCodec, width, height, fps: merged.video?.fps ?? 30, bitrate: merged.video?.bitrate, quality };
  }
  const watermark = !audioOnly && merged.video?.watermark ? { ...merged.video.watermark, width: merged.video.watermark.size?.width, height: merged.video.watermark.size?.height, position: merged.video.watermark.position ?? 'right bottom' } : undefined;
  if (watermark) delete (watermark as { size?: unknown }).size;
  const layout = merged.layout ?? {};
  const maxDurationSeconds = recording.spec.maxDurationSeconds ?? merged.maxDurationSeconds ?? 7200;
  return {
    audioOnly,
    video,
    audio: { codec: audioCodec, channels: merged.audio?.channel === 'mono' ? 1 : 2, bitrate: merged.audio?.bitrate ?? 128_000, exportFile: !audioOnly && (merged.audio?.exportFile ?? false) },
    watermark,
    layout: {
      name: layout.name ?? 'grid',
      options: { ...(layout.options ?? {}) },
      externalCssUrl: layout.externalCssUrl,
      externalAppUrl: layout.externalAppUrl,
    },
    maxDurationSeconds,
    fileNamePrefix: recording.spec.fileNamePrefix ?? merged.fileNamePrefix ?? '',
    fileNameTemplate: merged.fileNameTemplate ?? '{callId}/{name}-{timestamp}',
    autoStop: { allParticipantsLeftSeconds: merged.autoStop?.allParticipantsLeftSeconds ?? 300, noMediaSeconds: merged.autoStop?.noMediaSeconds ?? 0 },
    startSignal: { wait: merged.startSignal?.wait ?? false, timeoutSeconds: merged.startSignal?.timeoutSeconds ?? 30 },
  };
}

/** File extension and container of the main file. */
export function containerFor(settings: EffectiveSettings): 'mp4' | 'webm' | 'm4a' | 'mp3' | 'ogg' {
  if (settings.video) return settings.video.codec === 'VP8' ? 'webm' : 'mp4';
  return ({ AAC: 'm4a', MP3: 'mp3', OPUS: 'ogg', VORBIS: 'ogg' } as const)[settings.audio.codec];
}
