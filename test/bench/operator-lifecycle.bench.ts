// API requests per recording lifecycle (issue 4): Recordings go create → RECORDING → spec.state Stopped
// → UPLOADED with recorder stand-ins (the real protocol, no media), and the operator's own
// rest_client_requests_total says how many requests it sent to the Kubernetes API for them. The
// operator runs with its production settings (status poll every 2 s). Watches are long-lived and
// opened at start, so they are not part of a lifecycle's count.
import { OperatorTestEnvironment } from '../operator/environment.ts';

const count = Number(process.env.BENCH_LIFECYCLES ?? 20);
const recordSeconds = Number(process.env.BENCH_RECORD_SECONDS ?? 30);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function requestCounts(healthPort: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  const byMethod: Record<string, number> = {};
  for (const m of text.matchAll(/^rest_client_requests_total\{([^}]*)\} (\S+)$/gm)) {
    const method = /method="([^"]+)"/.exec(m[1]!)?.[1] ?? '?';
    byMethod[method] = (byMethod[method] ?? 0) + Number(m[2]);
  }
  return byMethod;
}

const env = new OperatorTestEnvironment();
try {
  await env.start({ standIns: true });
  await env.createCallType('bench');
  const ns = await env.createNamespace('bench');
  const operator = await env.startOperator({ LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', POLL_MS: '2000' });
  await sleep(3000); // the CallType's first status write and storage check are not a recording's
  const before = await requestCounts(operator.healthPort);
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const name = `rec-${i}`;
      await env.createRecording(ns, name, { callType: 'bench', callId: `call-${i}` });
      await env.phase(ns, name, 'RECORDING', 120_000);
      await sleep(recordSeconds * 1000);
      await env.setState(ns, name, 'Stopped');
      await env.phase(ns, name, 'UPLOADED', 120_000);
    }),
  );
  await sleep(3000); // the last label and URL writes
  const after = await requestCounts(operator.healthPort);
  const perLifecycle = Object.fromEntries(Object.keys(after).map((method) => [method, Math.round((((after[method] ?? 0) - (before[method] ?? 0)) / count) * 10) / 10]));
  const total = Object.values(perLifecycle).reduce((a, b) => a + b, 0);
  console.log(JSON.stringify({ benchmark: 'operator.api_requests_per_lifecycle', recordings: count, recorded_seconds: recordSeconds, value: Math.round(total * 10) / 10, unit: 'requests', by_method: perLifecycle }));
} finally {
  await env.stop();
}
