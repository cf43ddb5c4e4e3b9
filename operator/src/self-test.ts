// `helm test <release>`: the chart's test Pod runs this from the operator image. It records a few
// seconds through an existing CallType against the installed operator and passes only when the file was
// stored and verified (phase UPLOADED with size and sha256). Its Recording is deleted afterwards; the file
// stays or goes with the CallType's reclaimPolicy. Exit 0: passed; 1: failed (the reason on stdout, which
// `helm test --logs` shows, and in the Pod's termination message, which `kubectl describe pod` shows);
// 2: misconfigured.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { Recording } from '@recording-operator/common/api/generated/types.ts';
import { groupVersion, recordingPath } from './recording-api.ts';
import { KubeApi, loadConnection } from './runtime/kube-api.ts';

const config = z.object({
  POD_NAMESPACE: z.string().min(1),
  TEST_CALL_TYPE: z.string().min(1),
  TEST_RECORD_SECONDS: z.coerce.number().int().min(1).default(5),
  TEST_TIMEOUT_SECONDS: z.coerce.number().int().min(30).default(300),
}).safeParse(process.env);
if (!config.success) {
  console.log(`configuration error: ${config.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  process.exit(2);
}
const { POD_NAMESPACE: namespace, TEST_CALL_TYPE: callType, TEST_RECORD_SECONDS: recordSeconds, TEST_TIMEOUT_SECONDS: timeoutSeconds } = config.data;
const api = new KubeApi(loadConnection(process.env));
const name = `helm-test-${randomBytes(3).toString('hex')}`;
const deadline = Date.now() + timeoutSeconds * 1000;
const say = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
/** The verdict, also as the container's termination message (kept in the Pod's status after it ends). */
function verdict(line: string): void {
  say(line);
  try {
    writeFileSync(process.env.TERMINATION_MESSAGE_PATH ?? '/dev/termination-log', line);
  } catch {
    // outside a Pod there is no termination log; stdout has it
  }
}

class TestFailed extends Error {}

/** Polls the Recording until `done` says so; ERRORED or the deadline fail the test. */
async function waitFor(what: string, done: (r: Recording) => boolean): Promise<Recording> {
  for (;;) {
    const r = await api.get<Recording>(recordingPath(namespace, name));
    if (done(r)) return r;
    if (r.status?.phase === 'ERRORED') throw new TestFailed(`the Recording ended ERRORED: ${r.status.error?.code ?? ''} ${r.status.error?.message ?? ''}`);
    if (Date.now() > deadline) throw new TestFailed(`no ${what} within ${timeoutSeconds} s; phase ${r.status?.phase ?? '(none yet)'}, conditions ${JSON.stringify(r.status?.conditions ?? [])}`);
    await sleep(1000);
  }
}

let created = false;
try {
  say(`creating Recording ${namespace}/${name} with CallType ${callType}`);
  await api.create(recordingPath(namespace), { apiVersion: groupVersion, kind: 'Recording', metadata: { name, labels: { 'app.kubernetes.io/component': 'helm-test' } }, spec: { callType, callId: name } });
  created = true;
  await waitFor('RECORDING', (r) => r.status?.phase === 'RECORDING');
  say(`RECORDING; stopping after ${recordSeconds} s`);
  await sleep(recordSeconds * 1000);
  await api.mergePatch(recordingPath(namespace, name), { spec: { state: 'Stopped' } });
  const done = await waitFor('UPLOADED', (r) => r.status?.phase === 'UPLOADED');
  const output = done.status?.output;
  if (!output?.location || !output.sizeBytes || !output.sha256) throw new TestFailed(`UPLOADED without a verified file: ${JSON.stringify(output)}`);
  verdict(`passed: ${output.location}, ${output.sizeBytes} bytes, ${output.durationSeconds ?? '?'} s, sha256 ${output.sha256}`);
} catch (err) {
  verdict(`FAILED: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  if (created) await api.delete(recordingPath(namespace, name)).catch((err: Error) => say(`could not delete the test Recording: ${err.message}`));
}
