// The README's main job: `npm start`, then `kubectl apply -f examples/recording.yaml` ends UPLOADED.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startLocalEnvironment } from '../harness/local.ts';
import { repoRoot } from '../harness/paths.ts';
import { freePort } from '../harness/processes.ts';

test('local mode: kubectl apply -f examples/recording.yaml ends UPLOADED by itself (recorder Pods on a real node where one can run)', async () => {
  // Own ports, so the test never collides with a developer's `npm start`; the example CallType is
  // pointed at them (it says 9000 and 8090) and its demo call is shortened from 20 s to 6 s.
  const minioPort = await freePort();
  const callPagePort = await freePort();
  const webhookReceiverPort = await freePort();
  const env = await startLocalEnvironment({ minioPort, callPagePort, webhookReceiverPort, callEventsPort: await freePort(), quiet: true });
  try {
    const { kubectl } = env;
    const webhooks = [{ name: 'demo-receiver', url: `http://127.0.0.1:${webhookReceiverPort}/recording-events`, secretRef: { name: 'webhook-signing-key', namespace: 'recording-system' } }];
    // Where recorder Pods reach the servers: the real node's address, or loopback under the runner.
    const host = env.serverHost;
    const patch = { spec: { callUrlTemplate: `http://${host}:${callPagePort}/call/{callId}?layout={layout}&participants=4&endAfter=6`, storage: { endpoint: `http://${host}:${minioPort}` }, webhooks } };
    await kubectl('patch', 'ct', 'default', '--type=merge', '-p', JSON.stringify(patch));
    await kubectl('apply', '-f', join(repoRoot, 'examples', 'recording.yaml'));
    const deadline = Date.now() + 90_000;
    let phase = '';
    while (Date.now() < deadline) {
      phase = (await kubectl('get', 'rec', 'standup', '-n', 'default', '-o', 'jsonpath={.status.phase}')).stdout;
      if (phase === 'UPLOADED' || phase === 'ERRORED') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const status = JSON.parse((await kubectl('get', 'rec', 'standup', '-n', 'default', '-o', 'jsonpath={.status}')).stdout) as { stopReason?: { type?: string }; output?: { downloadUrl?: string; sizeBytes?: number } };
    assert.equal(phase, 'UPLOADED', JSON.stringify(status));
    assert.equal(status.stopReason?.type, 'CALL_ENDED');
    const res = await fetch(status.output!.downloadUrl!);
    assert.equal(res.status, 200);
    assert.equal(Number(res.headers.get('content-length')), status.output!.sizeBytes);
    const table = (await kubectl('get', 'rec', '-n', 'default')).stdout;
    assert.match(table, /standup\s+UPLOADED\s+default\s+standup-42\s+\d+\s+\d+/);
    // The example receiver verified every event of the recording, the ready one with the file's URL.
    let lines: { type: string; status: string; url?: string }[] = [];
    for (let i = 0; i < 50 && !lines.some((l) => l.type === 'recording.ready'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      lines = readFileSync(env.webhooksLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; status: string; url?: string });
    }
    assert.deepEqual(lines.map((l) => l.type), ['recording.status_updated', 'recording.started', 'recording.stopped', 'recording.ready']);
    assert.ok(lines.at(-1)!.url?.startsWith(`http://${host}:${minioPort}/`));
    if (env.pods === 'kubelet') {
      // The recorder ran as a container of the recorder image on the node.
      const image = (await kubectl('get', 'pod', 'standup-recorder', '-n', 'default', '-o', 'jsonpath={.status.containerStatuses[0].image}')).stdout;
      assert.equal(image, 'docker.io/recording-operator/recorder:0.1.0');
    }
  } finally {
    await env.stop();
  }
});
