// The recorder's Prometheus metrics (GET /metrics): what it has recorded so far and its phase.
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { RecorderStatus } from '@recording-operator/common/protocol/recorder-report.ts';
import type { ControlTarget } from './control-server.ts';

export function metricsFor(target: ControlTarget): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const gauge = (name: string, help: string, read: (s: RecorderStatus) => number) =>
    new Gauge({ name, help, registers: [registry], collect() { const status = target.recorder?.status(); if (status) this.set(read(status)); } });
  gauge('recorder_recorded_seconds', 'Seconds recorded so far, pauses excluded.', (s) => s.durationSeconds);
  gauge('recorder_output_bytes', 'Bytes written by the encoder so far.', (s) => s.bytes);
  gauge('recorder_frames_captured', 'Video frames encoded so far.', (s) => s.framesCaptured);
  gauge('recorder_frames_dropped', 'Video frames dropped or duplicated because capture fell behind.', (s) => s.framesDropped);
  new Gauge({
    name: 'recorder_phase',
    help: 'Current phase (1 for the current one).',
    labelNames: ['phase'],
    registers: [registry],
    collect() {
      this.reset();
      // A standby recorder waiting for its assignment has no phase of a recording yet.
      this.set({ phase: target.recorder?.status().phase ?? 'STANDBY' }, 1);
    },
  });
  return registry;
}
