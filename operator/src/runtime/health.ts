// /healthz (the process runs), /readyz (caches synced and, with leader election, leading or standing by)
// and /metrics on one port, as controller-runtime serves them.
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { Registry } from 'prom-client';

export async function startHealthServer(options: { port: number; host?: string; registry: Registry; ready: () => boolean }): Promise<Server & { port: number }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/healthz') return void res.writeHead(200).end('ok');
    if (path === '/readyz') return void (options.ready() ? res.writeHead(200).end('ok') : res.writeHead(503).end('not ready'));
    if (path === '/metrics') {
      void options.registry.metrics().then((text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text));
      return;
    }
    res.writeHead(404).end();
  });
  server.listen(options.port, options.host ?? '0.0.0.0');
  await once(server, 'listening');
  const address = server.address();
  return Object.assign(server, { port: typeof address === 'object' && address ? address.port : options.port });
}
