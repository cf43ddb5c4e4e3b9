// storage.roleArn: the operator assumes the named role for each recorder, with the per-recording session
// policy, and never falls back to the storage Secret's broader keys. MinIO's STS takes AssumeRole with a
// RoleArn (and ignores the role), so the whole path runs against it; what AWS would get is checked on the
// wire by a proxy in front of MinIO, which can also refuse the role as AWS would.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Client } from 'minio';
import { recorderSecretFiles } from '@recording-operator/common/protocol/recorder-config.ts';
import { parseLocation } from '@recording-operator/common/storage/object-store.ts';
import { OperatorTestEnvironment } from './environment.ts';

const role = 'arn:aws:iam::123456789012:role/recording-uploader';

/** A proxy to MinIO that records each AssumeRole request and, while `refuse` is set, answers it as AWS does for a role it may not assume. */
async function startStsProxy(target: string): Promise<{ url: string; assumeRoles: URLSearchParams[]; refuse: boolean; server: Server }> {
  const state = { assumeRoles: [] as URLSearchParams[], refuse: false };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const form = new URLSearchParams(body.toString());
      if (req.method === 'POST' && form.get('Action') === 'AssumeRole') {
        state.assumeRoles.push(form);
        if (state.refuse) {
          res.writeHead(403, { 'content-type': 'text/xml' }).end(`<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole on resource: ${form.get('RoleArn')}</Message></Error></ErrorResponse>`);
          return;
        }
      }
      // Headers as they came, Host included: the request is signed for the proxy's address.
      const forward = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.on('error', () => res.writeHead(502).end());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // The handler reads the same object the test flips `refuse` on.
  return Object.assign(state, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server });
}

describe('storage.roleArn (AssumeRole per recorder)', () => {
  const env = new OperatorTestEnvironment();
  let sts: Awaited<ReturnType<typeof startStsProxy>>;
  before(async () => {
    await env.start({ standIns: true });
    await env.startOperator();
    sts = await startStsProxy(env.minio.endpoint);
    await env.createCallType('role', {}, { endpoint: sts.url, roleArn: role });
  });
  after(async () => {
    sts?.server.close();
    await env.stop();
  });

  test('the recorder gets the assumed role session, limited to its own recording; AWS would see the role, a session name and the policy', async () => {
    const ns = await env.createNamespace('role');
    const done = await env.recordThenStop(ns, 'assumed', { callType: 'role', callId: 'assumed' });
    const request = sts.assumeRoles.find((r) => r.get('RoleSessionName') === `recording-${ns}-assumed`);
    assert.ok(request, 'AssumeRole named the recording in its session name');
    assert.equal(request.get('RoleArn'), role);
    assert.ok(Number(request.get('DurationSeconds')) <= 43_200, 'within the 12 h AWS allows for a role session');
    const policy = JSON.parse(request.get('Policy')!) as { Statement: { Resource: string[] }[] };
    const own = parseLocation(done.status!.output!.location!)!;
    assert.deepEqual(policy.Statement[0]!.Resource, [`arn:aws:s3:::${own.bucket}/${own.key.replace(/\.[^.]+$/, '')}.*`]);

    const secret = await env.core.readNamespacedSecret({ namespace: ns, name: 'assumed-recorder' });
    const read = (key: string) => Buffer.from(secret.data?.[key] ?? '', 'base64').toString();
    assert.ok(read(recorderSecretFiles.storageSessionToken), 'temporary credentials');
    assert.notEqual(read(recorderSecretFiles.storageAccessKeyId), env.storageSecret.accessKeyId);
    const scoped = new Client({ endPoint: env.minio.host, port: env.minio.port, useSSL: false, region: 'us-east-1', accessKey: read(recorderSecretFiles.storageAccessKeyId), secretKey: read(recorderSecretFiles.storageSecretAccessKey), sessionToken: read(recorderSecretFiles.storageSessionToken) });
    await scoped.statObject(own.bucket, own.key);
    await assert.rejects(scoped.putObject(own.bucket, 'role/elsewhere.mp4', Buffer.from('x')), (err: { code?: string }) => err.code === 'AccessDenied');
  });

  test('a role that cannot be assumed: ERRORED STORAGE_CREDENTIALS naming the role, and the Secret keys are never handed out instead', async () => {
    sts.refuse = true;
    try {
      const ns = await env.createNamespace('role-refused');
      await env.createRecording(ns, 'refused', { callType: 'role', callId: 'refused' });
      const failed = await env.phase(ns, 'refused', 'ERRORED', 60_000);
      assert.equal(failed.status?.error?.code, 'STORAGE_CREDENTIALS');
      assert.match(failed.status?.error?.message ?? '', new RegExp(`STS AssumeRole of ${role.replace(/[/.]/g, '\\$&')} at http://127\\.0\\.0\\.1:\\d+ failed: .*not authorized to perform: sts:AssumeRole`));
      await assert.rejects(env.core.readNamespacedSecret({ namespace: ns, name: 'refused-recorder' }), 'no recorder Secret, so no keys were written');
      assert.equal((await env.core.listNamespacedPod({ namespace: ns })).items.length, 0, 'no recorder Pod');
    } finally {
      sts.refuse = false;
    }
  });

  test('roleArn is refused where it means nothing, and when it is not a role ARN', async () => {
    await assert.rejects(env.createCallType('role-azure', {}, { type: 'azure', endpoint: undefined, forcePathStyle: undefined, roleArn: role }), /storage.roleArn is only used with storage type s3/);
    await assert.rejects(env.createCallType('role-bad', {}, { roleArn: 'arn:aws:iam::123:user/bob' }), /roleArn.*should match/);
  });
});
