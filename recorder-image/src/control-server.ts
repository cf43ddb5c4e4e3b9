// The recorder's control and status endpoint (as Jibri has one): the operator reads status and asks
// for pause, resume and stop with the bearer token from the mounted Secret. /healthz and /metrics carry
// no secrets and need no token (Kubernetes probes and Prometheus scrapes).
// GET /status?phase=P&waitMs=N is a long poll: it answers as soon as the phase is no longer P (or after
// N ms), so the operator learns of RECORDING, UPLOADING and UPLOADED at once instead of at its next poll.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { recorderPhases, type RecorderStatus } from '@recording-operator/common/protocol/recorder-report.ts';

/**
 * What the endpoint serves. A standby recorder (standby.ts) has no recorder and no token until it is
 * assigned one: until then only /healthz (ready once its browser is up), /metrics and POST /assign answer.
 */
export interface ControlTarget {
  recorder?: Controllable;
  token?: string;
  /** The readiness probe's answer; ready whenever there is a recorder when absent. */
  ready?(): boolean;
  /** POST /assign: the sealed assignment (the request body) → HTTP status and answer. */
  assign?(sealed: string): { status: number; body: unknown } | Promise<{ status: number; body: unknown }>;
}

export interface Controllable {
  status(): RecorderStatus;
  pause(): Promise<RecorderStatus>;
  resume(): Promise<RecorderStatus>;
  setMaxDuration(seconds: number): Promise<RecorderStatus>;
  stop(reason: 'API_CALL'): void;
}

/** The longest a status request may wait for a phase change. */
export const maxStatusWaitMs = 30_000;
/** How often a waiting status request looks at the phase: far below anything a user or the operator notices. */
const phaseCheckMs = 20;

/** The query of GET /status: without `phase`, an answer at once. */
const statusQuery = z.object({
  phase: z.enum(recorderPhases).optional(),
  waitMs: z.coerce.number().int().min(0).max(maxStatusWaitMs).default(maxStatusWaitMs),
});

/** Resolves once the recorder's phase is not `phase`, or after waitMs, or when the client has gone away, or at `answerNow`. */
function phaseChange(recorder: Controllable, phase: string, waitMs: number, res: ServerResponse, waiting: Set<() => void>): Promise<void> {
  return new Promise((resolve) => {
    const deadline = Date.now() + waitMs;
    const timer = setInterval(() => {
      if (recorder.status().phase !== phase || Date.now() >= deadline || res.destroyed) done();
    }, phaseCheckMs);
    const done = () => {
      clearInterval(timer);
      waiting.delete(done);
      resolve();
    };
    waiting.add(done);
    if (recorder.status().phase !== phase) done();
  });
}

/** The body of POST /max-duration. */
const maxDurationRequest = z.object({ maxDurationSeconds: z.number().int().min(1).max(86_400) });


function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return false;
  const header = req.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A request body of at most `limit` characters. */
async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > limit) throw new Error(`request body too large (at most ${limit} bytes)`);
  }
  return text;
}

/** A small JSON request body (at most 4 KiB). */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req, 4096);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error('request body is not JSON');
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** The largest sealed assignment: the configuration and the Secret's files (a GCS key or SFTP keys are a few KiB). */
const maxAssignmentBytes = 64 * 1024;

export interface ControlServer extends Server {
  port: number;
  /**
   * Answers every waiting status request now and resolves once they are sent (at most `timeoutMs`):
   * the operator learns the final report from the answer before the process exits, instead of from the
   * termination message a kubelet publishes a second or two later.
   */
  answerWaiting(timeoutMs: number): Promise<void>;
}

export async function startControlServer(target: ControlTarget, host: string, port: number): Promise<ControlServer> {
  // prom-client takes ~40 ms to load, on the way to the first frame: it loads at the first scrape instead.
  let registry: Promise<Registry> | undefined;
  const waiting = new Set<() => void>();
  const answering = new Set<Promise<unknown>>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const route = `${req.method ?? 'GET'} ${path}`;
    if (route === 'GET /healthz') {
      const ready = target.ready?.() ?? target.recorder !== undefined;
      return json(res, ready ? 200 : 503, { ok: ready });
    }
    if (route === 'GET /metrics') {
      registry ??= import('./control-metrics.ts').then(({ metricsFor }) => metricsFor(target));
      registry.then(async (r) => res.writeHead(200, { 'content-type': r.contentType }).end(await r.metrics())).catch((err: Error) => json(res, 500, { error: err.message }));
      return;
    }
    if (route === 'POST /assign') {
      if (!target.assign) return json(res, 404, { error: 'this recorder is not a standby recorder: it has its recording' });
      void readBody(req, maxAssignmentBytes).then((sealed) => target.assign!(sealed), (err: Error) => ({ status: 413, body: { error: err.message } })).then(
        ({ status, body }) => json(res, status, body),
        (err: Error) => json(res, 500, { error: err.message }),
      );
      return;
    }
    const recorder = target.recorder;
    if (!recorder) return json(res, 503, { error: 'this standby recorder has not been assigned a recording' });
    if (!authorized(req, target.token)) return json(res, 401, { error: 'a valid bearer token is required' });
    switch (route) {
      case 'GET /status': {
        const query = statusQuery.safeParse(Object.fromEntries(url.searchParams));
        if (!query.success) {
          const issue = query.error.issues[0];
          return json(res, 400, { error: `${issue?.path.join('.') ?? 'query'}: ${issue?.message ?? 'invalid'} (phase: one of ${recorderPhases.join(', ')}; waitMs: an integer from 0 to ${maxStatusWaitMs})` });
        }
        const { phase, waitMs } = query.data;
        if (!phase) return json(res, 200, recorder.status());
        const answered = phaseChange(recorder, phase, waitMs, res, waiting).then(() => {
          json(res, 200, recorder.status());
          // 'close' comes after the answer was sent, and also when the client went away first.
          return res.closed ? undefined : once(res, 'close').catch(() => undefined);
        });
        answering.add(answered);
        void answered.finally(() => answering.delete(answered));
        return;
      }
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
  const answerWaiting = async (timeoutMs: number) => {
    for (const done of [...waiting]) done();
    await Promise.race([Promise.all(answering), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  };
  return Object.assign(server, { port: typeof address === 'object' && address ? address.port : port, answerWaiting });
}
