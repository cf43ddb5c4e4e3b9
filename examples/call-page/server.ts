// Serves the demo call page on loopback: /call/<id>?… is the call page, /call-page/* its files,
// /signal/* the mailboxes its remote participants connect through (signaling.ts), and /assets/* files
// from an optional extra directory (watermarks, stylesheets made by tests).
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { extname, join, normalize } from 'node:path';
import { SignalingMailboxes } from './signaling.ts';

const pageDir = import.meta.dirname;
const types: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png', '.svg': 'image/svg+xml' };

export interface CallPageServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startCallPageServer(options: { port?: number; host?: string; assetsDir?: string } = {}): Promise<CallPageServer> {
  const signaling = new SignalingMailboxes();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (signaling.handle(path, req, res)) return;
    let file: string | undefined;
    if (path === '/' || path.startsWith('/call/')) file = join(pageDir, 'index.html');
    else if (path.startsWith('/call-page/')) file = join(pageDir, normalize(path.slice('/call-page/'.length)).replace(/^(\.\.[/\\])+/, ''));
    else if (path.startsWith('/assets/') && options.assetsDir) file = join(options.assetsDir, normalize(path.slice('/assets/'.length)).replace(/^(\.\.[/\\])+/, ''));
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (body) => res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('call page server has no address');
  return {
    port: address.port,
    url: `http://${address.address}:${address.port}`,
    close: () => {
      signaling.close();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

if (import.meta.main) {
  const server = await startCallPageServer({ port: Number(process.env.PORT ?? 8090) });
  console.log(`demo call page: ${server.url}/call/demo?layout=grid&participants=4`);
}
