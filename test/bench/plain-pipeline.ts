// The baseline the recorder is measured against (issue 11): the plain way to record a web page on
// Linux, as Jibri-style setups do it. Xvfb, PulseAudio with a null sink, Chromium in kiosk mode (no
// GPU, no sandbox, autoplay allowed, the same window size) and ffmpeg grabbing X11 and the sink's
// monitor into x264 veryfast + AAC. It runs the same page on the same machine, under one shell, so the
// CPU and memory of its whole process tree compare with the recorder's.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PlainPipeline {
  /** The shell all of it runs under: the root of its process tree. */
  root: ChildProcess;
  stop(): Promise<void>;
  /** ffmpeg's latest progress report (every second), or undefined before its first. */
  progress(): PlainProgress | undefined;
}

/** How far the plain pipeline's ffmpeg has come: whether it keeps up is what its CPU figure means. */
export interface PlainProgress {
  /** Frames written, duplicates included (ffmpeg repeats a frame when a grab came too late for its slot). */
  frames: number;
  duplicates: number;
  /** The encoded media time, s. */
  outSeconds: number;
}

/** With capture false, no ffmpeg: what the page alone costs in a plain Chromium, the floor under both. */
export function startPlainPipeline(url: string, width: number, height: number, fps: number, options: { capture?: boolean } = {}): PlainPipeline {
  const dir = mkdtempSync(join(tmpdir(), 'plain-'));
  const display = `:${200 + Math.floor(Math.random() * 500)}`;
  const capture = `ffmpeg -hide_banner -loglevel error -f x11grab -framerate ${fps} -video_size ${width}x${height} -i ${display} \\
      -f pulse -i out.monitor -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -progress ${dir}/progress -stats_period 1 -y ${dir}/out.mp4 &`;
  const script = `
    Xvfb ${display} -screen 0 ${width}x${height}x24 -nolisten tcp -ac &
    pulseaudio -n --daemonize=no --exit-idle-time=-1 --use-pid-file=no --log-target=stderr --log-level=error \\
      "--load=module-native-protocol-unix socket=${dir}/pulse auth-anonymous=1" "--load=module-null-sink sink_name=out" &
    export DISPLAY=${display} PULSE_SERVER=unix:${dir}/pulse
    sleep 1
    chromium --kiosk --no-sandbox --disable-gpu --no-first-run --disable-dev-shm-usage --autoplay-policy=no-user-gesture-required \\
      --user-data-dir=${dir}/profile --window-position=0,0 --window-size=${width},${height} '${url}' 2>/dev/null &
    sleep 2
    ${options.capture === false ? '' : capture}
    wait`;
  // TMPDIR too: a killed Chromium leaves its lock socket's directory there, and stop() removes `dir`.
  const root = spawn('bash', ['-c', script], { detached: true, stdio: 'ignore', env: { ...process.env, HOME: dir, TMPDIR: dir } });
  return {
    root,
    progress() {
      let text: string;
      try {
        text = readFileSync(join(dir, 'progress'), 'utf8');
      } catch {
        return undefined;
      }
      const last = text.slice(text.lastIndexOf('frame=', text.lastIndexOf('progress=')));
      const value = (key: string) => Number(new RegExp(`^${key}=(\\S+)`, 'm').exec(last)?.[1]);
      const frames = value('frame');
      return Number.isFinite(frames) ? { frames, duplicates: value('dup_frames'), outSeconds: value('out_time_us') / 1e6 } : undefined;
    },
    async stop() {
      try {
        process.kill(-root.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
      await new Promise((r) => setTimeout(r, 500));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
