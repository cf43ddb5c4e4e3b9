// A real RTMP server on loopback: Debian's nginx with its RTMP module, recording every stream it
// receives to FLV files so tests can check what was streamed live.
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort, startProcess, waitUntil } from './processes.ts';
import { makeRunDir } from './run-dir.ts';

export interface RtmpServer {
  /** Ingest URL of application "live", such as rtmp://127.0.0.1:1935/live. */
  url: string;
  /** FLV files nginx recorded, one per stream key. */
  recordings(): string[];
  stop(): Promise<void>;
}

const modulePath = '/usr/lib/nginx/modules/ngx_rtmp_module.so';

export async function startRtmpServer(): Promise<RtmpServer> {
  const dir = makeRunDir('nginx-rtmp');
  const recordDir = join(dir, 'streams');
  mkdirSync(recordDir);
  mkdirSync(join(dir, 'logs'));
  // nginx workers run as an unprivileged user: they must reach and write the record directory.
  chmodSync(dir, 0o711);
  chmodSync(recordDir, 0o777);
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `load_module ${modulePath};
daemon off;
master_process on;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} warn;
events { worker_connections 64; }
rtmp {
  server {
    listen 127.0.0.1:${port};
    application live {
      live on;
      record all;
      record_path ${recordDir};
      record_unique off;
    }
  }
}
`,
  );
  const proc = startProcess('nginx', '/usr/sbin/nginx', ['-c', conf, '-p', dir], join(dir, 'nginx.log'));
  await waitUntil(
    'nginx RTMP port',
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      }),
    proc,
    10_000,
  );
  return {
    url: `rtmp://127.0.0.1:${port}/live`,
    recordings: () => readdirSync(recordDir).map((f) => join(recordDir, f)),
    async stop() {
      await proc.stop();
      if (process.env.KEEP_TEST_DIRS !== 'true') rmSync(dir, { recursive: true, force: true });
    },
  };
}
