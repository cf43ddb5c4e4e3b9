// Webhook delivery latency (issue 10): from the transition that causes an event (its created_at, taken
// by the operator just before the status write that records the transition and its event) to the
// moment the receiver (examples/webhooks/receiver.ts, verifying each signature) has it, for every event
// of 100 recording lifecycles run with recorder stand-ins beside the control plane, the operator with
// its production settings. The floor beside it: the same receiver's answer to a bare signed POST.
import { randomBytes } from 'node:crypto';
import { signedHeaders, signingKey } from '@recording-operator/common/webhooks/signature.ts';
import { startWebhookReceiver, type ReceivedEvent } from '../../examples/webhooks/receiver.ts';
import { group, OperatorTestEnvironment, operatorNamespace, version } from '../operator/environment.ts';
import { emit, median } from './figures.ts';

const count = Number(process.env.BENCH_WEBHOOK_RECORDINGS ?? 100);
const wave = 20;
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const round = (x: number) => Math.round(x * 10) / 10;

const env = new OperatorTestEnvironment();
const secret = `whsec_${randomBytes(32).toString('base64')}`;
const received: ReceivedEvent[] = [];
const receiver = await startWebhookReceiver({ secret, onEvent: (r) => received.push(r) });
try {
  await env.start({ standIns: true });
  await env.core.createNamespacedSecret({ namespace: operatorNamespace, body: { metadata: { name: 'webhook-key' }, stringData: { secret } } });
  await env.custom.createClusterCustomObject({ group, version, plural: 'calltypes', body: {
    apiVersion: `${group}/${version}`, kind: 'CallType', metadata: { name: 'bench-hooks' },
    spec: {
      recording: { mode: 'available', quality: '360p' }, callUrlTemplate: `${env.page.url}/call/{callId}`,
      storage: { type: 's3', endpoint: env.minio.endpoint, bucket: env.bucket, forcePathStyle: true, path: 'bench', secretRef: { name: 'storage', namespace: operatorNamespace } },
      webhooks: [{ name: 'app', url: `http://127.0.0.1:${receiver.port}/`, secretRef: { name: 'webhook-key' } }],
    },
  } });
  const ns = await env.createNamespace('bench');
  await env.startOperator({ LOG_LEVEL: 'warn', POLL_MS: '2000' });
  for (let start = 0; start < count; start += wave) {
    await Promise.all(Array.from({ length: Math.min(wave, count - start) }, (_, j) => env.recordThenStop(ns, `rec-${start + j}`, { callType: 'bench-hooks', callId: `call-${start + j}` })));
  }
  const expected = count * 4; // INVOKED, started, stopped, ready
  for (let i = 0; i < 300 && new Set(received.map((r) => r.event.id)).size < expected; i++) await new Promise((r) => setTimeout(r, 100));
  const firsts = received.filter((r) => r.first);
  const repeats = received.length - firsts.length;
  const latencies = firsts.map((r) => r.receivedAt - Date.parse(r.event.created_at));
  const byType: Record<string, number> = {};
  for (const r of firsts) byType[r.event.type] = (byType[r.event.type] ?? 0) + 1;

  // The floor: a bare signed POST of the same size to the same receiver, from this process.
  const key = signingKey(secret);
  const body = firsts[0]!.body;
  const bare: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await fetch(`http://127.0.0.1:${receiver.port}/`, { method: 'POST', headers: { 'content-type': 'application/json', ...signedHeaders(key, `floor-${i}`, body) }, body });
    bare.push(performance.now() - t0);
  }
  emit({ benchmark: 'webhooks.delivery_latency', recordings: count, events: firsts.length, expected_events: expected, repeats, by_type: byType, median_ms: round(median(latencies)), p99_ms: round(percentile(latencies, 0.99)), max_ms: round(Math.max(...latencies)), unit: 'ms', note: 'transition (event created_at) → receiver has the verified event' });
  emit({ benchmark: 'webhooks.bare_signed_post', requests: bare.length, median_ms: round(median(bare)), p99_ms: round(percentile(bare, 0.99)), unit: 'ms', note: 'floor: one signed POST to the same receiver' });
} finally {
  await env.stop();
  receiver.close();
  receiver.closeAllConnections();
}
