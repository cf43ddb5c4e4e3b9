// The recorder's control and status endpoint (as Jibri has one): the operator reads status and asks
// for pause, resume and stop with the bearer token from the mounted Secret. /healthz and /metrics carry
// no secrets and need no token (Kubernetes probes and Prometheus scrapes).
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import type { RecorderStatus } from '@recording-operator/common/protocol/recorder-report.ts';

export interface Controllable {
  status(): RecorderStatus;
  pause(): Promise<RecorderStatus>;
  resume(): Promise<RecorderStatus>;
  setMaxDuration(seconds: number): Promise<RecorderStatus>;
  stop(reason: 'API_CALL'): void;
}

/** The body of POST /max-duration. */
const maxDurationRequest = z.object({ maxDurationSeconds: z.number().int().min(1).max(86_400) });

function metricsFor(recorder: Controllable): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const gauge = (name: string, help: string, read: (s: RecorderStatus) => number) =>
    new Gauge({ name, help, registers: [registry], collect() { this.set(read(recorder.status())); } });
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
      this.set({ phase: recorder.status().phase }, 1);
    },
  });
  return registry;
}

function authorized(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A small JSON request body (at most 4 KiB). */
async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > 4096) throw new Error('request body too large');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error('request body is not JSON');
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export async function startControlServer(recorder: Controllable, token: string, host: string, port: number): Promise<Server & { port: number }> {
  const registry = metricsFor(recorder);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = `${req.method ?? 'GET'} ${path}`;
    if (route === 'GET /healthz') return json(res, 200, { ok: true });
    if (route === 'GET /metrics') {
      void registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
      return;
    }
    if (!authorized(req, token)) return json(res, 401, { error: 'a valid bearer token is required' });
    switch (route) {
      case 'GET /status':
        return json(res, 200, recorder.status());
      case 'POST /pause':
        void recorder.pause().then((s) => json(res, 200, s), (err: Error) => json(res, 500, { error: err.message }));
        return;
      case 'POST /resume':
        void recorder.resume().then((s) => json(res, 200, s), (err: Error) => json(res, 500, { error: err.message }));
        return;
      case 'POST /max-duration':
        void readJson(req).then(
          (body) => {
            const parsed = maxDurationRequest.safeParse(body);
            if (!parsed.success) return json(res, 400, { error: `maxDurationSeconds: ${parsed.error.issues[0]?.message ?? 'invalid'} (an integer from 1 to 86400)` });
            return recorder.setMaxDuration(parsed.data.maxDurationSeconds).then((s) => json(res, 200, s));
          },
          (err: Error) => json(res, 400, { error: err.message }),
        ).catch((err: Error) => json(res, 500, { error: err.message }));
        return;
      case 'POST /stop':
        recorder.stop('API_CALL');
        return json(res, 202, recorder.status());
      default:
        return json(res, 404, { error: `no route ${route}` });
    }
  });
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address();
  return Object.assign(server, { port: typeof address === 'object' && address ? address.port : port });
}
